/**
 * Names handed to PostgreSQL's programs as arguments, so that each means exactly that name. Two traps: options that
 * take a *pattern* (pg_amcheck `--database`, pg_dump `-t`/`-n`, psql's `\d`) read `.` as a separator, `*` `?` as
 * wildcards and fold unquoted upper case; and `-d`/`--dbname` read a value with `=` (or a `postgresql://` prefix) as a
 * connection string.
 */

/** A psql-style pattern that matches exactly `name` (double-quoted: no wildcard, no `.` separator, no case folding). */
export function exactNamePattern(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A connection string that names database `name` exactly, for `--dbname` (libpq expands it; the rest comes from PG* variables). */
export function dbnameConninfo(name: string): string {
  return `dbname='${name.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
