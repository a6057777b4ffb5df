/**
 * Which psql backslash commands a plain dump may contain. pg_dump writes exactly four, each alone on its line:
 * `\restrict KEY` (first line, pg_dump 17.6/16.10/15.14/14.19/13.22+), `\unrestrict KEY` (last line),
 * `\connect DB` (with -C, and in pg_dumpall output) and, after a `\connect` to a name that needs quoting,
 * `\encoding NAME`. Everything else — `\!`, `\o |cmd`, `\g |cmd`, `\copy … program`,
 * `\i`, `\set`, `\gexec`, backquotes — is refused. The allowed forms are matched strictly, byte for byte: on psql
 * before 18.6/17.11/16.15/15.19/14.24 a crafted `\unrestrict` line could itself run a command (CVE-2026-18408).
 */

/** How the scanner should treat one backslash command. */
export type MetaVerdict =
  | { readonly kind: 'restrict'; readonly key: string }
  | { readonly kind: 'unrestrict'; readonly key: string }
  | { readonly kind: 'connect' }
  | { readonly kind: 'allowed'; readonly name: string }
  | { readonly kind: 'refused'; readonly name: string };

const RESTRICT = /^\\restrict ([A-Za-z0-9]+)$/;
const UNRESTRICT = /^\\unrestrict ([A-Za-z0-9]+)$/;
// appendPsqlMetaConnect(): a simple name as fmtId() writes it, or a quoted `dbname='…'` conninfo (only dbname,
// so a tampered line cannot point the restore at another host and hand it the password).
const CONNECT_SIMPLE = /^\\connect (?:[a-z_][a-z0-9_]*|"[A-Za-z0-9_.]+")$/;
const CONNECT_COMPLEX = /^\\connect -reuse-previous=on "dbname='(?:[^'"\\\n\r]|\\['\\]|"")*'"$/;
// After a `\connect -reuse-previous=on "dbname='…'"` (a database name that is not plain ASCII letters, digits, `_`
// and `.`: `a=b`, `o"q`, `-lead`…) pg_dump restores the client encoding the reconnection reset: `\encoding NAME`.
const ENCODING = /^\\encoding [A-Za-z0-9_]+$/;

/**
 * Classifies a backslash command. `text` runs from the backslash to the end of the line; `wholeLine` says it
 * starts the line (outside any statement text). `allowed` holds extra command names (without the backslash)
 * that the caller accepts anywhere, provided their arguments contain no backslash or backquote.
 */
export function classifyMetaCommand(text: string, wholeLine: boolean, allowed: ReadonlySet<string>): MetaVerdict {
  const name = /^\\([^\s\\]*)/.exec(text)?.[1] ?? '';
  if (wholeLine) {
    const r = RESTRICT.exec(text);
    if (r) return { kind: 'restrict', key: r[1]! };
    const u = UNRESTRICT.exec(text);
    if (u) return { kind: 'unrestrict', key: u[1]! };
    if (CONNECT_SIMPLE.test(text) || CONNECT_COMPLEX.test(text)) return { kind: 'connect' };
    if (ENCODING.test(text)) return { kind: 'allowed', name: 'encoding' };
  }
  if (name !== '' && allowed.has(name)) {
    const args = text.slice(1 + name.length);
    // A backslash would start a further command on the same line; a backquote runs a shell command.
    if (!/[\\`]/.test(args)) return name === 'connect' || name === 'c' ? { kind: 'connect' } : { kind: 'allowed', name };
  }
  return { kind: 'refused', name };
}
