/**
 * pg_dump's comment lines: the `-- Name: …; Type: …; Schema: …; Owner: …` header above every TOC entry, the
 * version lines at the top and the completion trailer at the end. Only lines that start at the top level of the
 * script count (the scanner checks that); a header-like line inside a function body is just text.
 */

/** What a comment line says, if it is one of pg_dump's. */
export type HeaderLine =
  | { readonly kind: 'entry'; readonly type: string; readonly schema: string | null; readonly name: string; readonly owner: string | null }
  | { readonly kind: 'complete' }
  | { readonly kind: 'dumped-from'; readonly version: string }
  | { readonly kind: 'dumped-by'; readonly version: string };

// `-- Name: x; Type: TABLE; Schema: public; Owner: postgres` and `-- Data for Name: …`, optionally `; Tablespace: …`
// (pg_dump replaces newlines in names with spaces in these comments, so one line is one header).
const ENTRY = /^-- (?:Data for )?Name: (.*?); Type: (.*?); Schema: (.*?); Owner: ?(.*?)(?:; Tablespace: .*)?$/;
const DUMPED_FROM = /^-- Dumped from database version (.+)$/;
const DUMPED_BY = /^-- Dumped by pg_dump(?:all)? version (.+)$/;

/** Parses one line that starts with `--` (a trailing `\r` is ignored). Returns null for any other comment. */
export function parseHeaderLine(line: string): HeaderLine | null {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (!text.startsWith('-- ')) return null;
  const m = ENTRY.exec(text);
  if (m) {
    const [, name, type, schema, owner] = m;
    return { kind: 'entry', name, type, schema: schema === '-' ? null : schema, owner: owner === '-' || owner === '' ? null : owner };
  }
  const trimmed = text.trimEnd();
  if (trimmed === '-- PostgreSQL database dump complete' || trimmed === '-- PostgreSQL database cluster dump complete') return { kind: 'complete' };
  const from = DUMPED_FROM.exec(trimmed);
  if (from) return { kind: 'dumped-from', version: from[1] };
  const by = DUMPED_BY.exec(trimmed);
  if (by) return { kind: 'dumped-by', version: by[1] };
  return null;
}
