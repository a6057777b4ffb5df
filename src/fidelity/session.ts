/**
 * Session settings that make text output the same on the source and on the restored copy. Content hashes and
 * catalog facts are computed from text (a row's output, a deparsed default, a view definition), and that text
 * depends on the session: timestamptz follows TimeZone, dates DateStyle, intervals IntervalStyle, floats
 * extra_float_digits, bytea bytea_output, and names are schema-qualified only when not on the search_path.
 * Fixing all of them explicitly, on both sides, means a database-level `ALTER DATABASE … SET TimeZone` or a
 * role's `SET DateStyle` on the source cannot make equal data look different.
 */
import type { DbSession } from '../pg/client.js';

/**
 * The settings, each a statement the source's audit accepts as read-only.
 * - `extra_float_digits = 1`: since PostgreSQL 12 any value > 0 prints the shortest text that reads back to the
 *   exact same float, which is also what pg_dump writes, so equal floats always print equally.
 * - `search_path = ''`: every name in deparsed SQL is schema-qualified, whatever the source's search_path.
 * - `quote_all_identifiers = off`, `standard_conforming_strings = on`: a database or role may set either, and the
 *   server then deparses every name quoted (`"public"."t"`, `'x'::"text"`) or a literal with a backslash doubled
 *   (`'a\\b'`): the same catalog must read the same on a copy that does not carry those settings.
 */
export const FIDELITY_SESSION_SETTINGS: readonly string[] = [
  "SET TimeZone = 'UTC'",
  "SET DateStyle = 'ISO, YMD'",
  "SET IntervalStyle = 'postgres'",
  'SET extra_float_digits = 1',
  "SET bytea_output = 'hex'",
  "SET search_path = ''",
  'SET quote_all_identifiers = off',
  'SET standard_conforming_strings = on',
];

/** Apply FIDELITY_SESSION_SETTINGS to a session (inside a transaction they last until it ends). */
export async function prepareFidelitySession(db: DbSession): Promise<void> {
  for (const s of FIDELITY_SESSION_SETTINGS) await db.query(s);
}

/** Quote a string as an SQL literal. */
export function quoteLiteral(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
