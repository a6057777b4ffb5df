/**
 * A SQL_ASCII database stores whatever bytes it was sent, and names in it need not be valid UTF-8. pgdrill reads
 * catalogs as text over a UTF8 connection, and the server refuses to send such a name ("invalid byte sequence for
 * encoding "UTF8"") — which, unchecked, ends a drill halfway through the backup stage with that bare message. The
 * guard finds them first, before anything is done, and says which and what still works.
 */
import { EnvironmentError } from '../errors.js';
import type { DbSession } from '../pg/client.js';
import { displayName, dumpEncoding } from '../scan/dump-encoding.js';

/** Names of user objects as stored bytes (`convert_to(…, 'SQL_ASCII')` converts nothing); read on SQL_ASCII sources only. */
export const SQL_ASCII_NAMES_SQL = `
SELECT convert_to(n.nspname, 'SQL_ASCII') AS schema, convert_to(x.name, 'SQL_ASCII') AS name
  FROM (SELECT relnamespace AS ns, relname AS name FROM pg_class
        UNION ALL SELECT pronamespace, proname FROM pg_proc
        UNION ALL SELECT typnamespace, typname FROM pg_type WHERE typrelid = 0 AND typcategory <> 'A' -- not row or array types
        UNION ALL SELECT c.relnamespace, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        UNION ALL SELECT connamespace, conname FROM pg_constraint
        UNION ALL SELECT c.relnamespace, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        UNION ALL SELECT oid, nspname FROM pg_namespace) x
  JOIN pg_namespace n ON n.oid = x.ns`;

const EXAMPLES = 5;

/**
 * On a SQL_ASCII source, refuse (exit 4) when a schema, relation, column, function, type, constraint or trigger
 * name is not valid UTF-8. Other encodings: nothing to check (the server converts).
 * @throws EnvironmentError naming up to five such names, with `\xNN` escapes.
 */
export async function assertNamesReadable(db: DbSession, encoding: string): Promise<void> {
  if (encoding !== 'SQL_ASCII') return;
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const bad = new Set<string>();
  for (const r of await db.query<{ schema: Buffer; name: Buffer }>(SQL_ASCII_NAMES_SQL)) {
    const invalid = [r.schema, r.name].some((b) => {
      if (!b.some((byte) => byte >= 0x80)) return false;
      try {
        utf8.decode(b);
        return false;
      } catch {
        return true;
      }
    });
    const shown = (b: Buffer) => displayName(dumpEncoding('SQL_ASCII'), b.toString('latin1'));
    if (invalid) bad.add(`${shown(r.schema)}.${shown(r.name)}`);
  }
  if (bad.size === 0) return;
  const examples = [...bad].sort().slice(0, EXAMPLES);
  throw new EnvironmentError(
    `the source database is SQL_ASCII and ${bad.size} name(s) in it are not valid UTF-8 (${examples.join(', ')}${bad.size > examples.length ? ', …' : ''}): ` +
      'pgdrill reads catalogs over a UTF8 connection, which the server refuses for such names, so it cannot drill this database. ' +
      'Nothing was done. `pgdrill inspect DUMP` still reads a dump of it (names with \\xNN escapes); to drill it, ' +
      'rename those objects to UTF-8 names, or move the data to a database with a real encoding.',
  );
}
