/** What to install to get PostgreSQL's programs of a major, on the systems pgdrill knows. */

/** The client programs (pg_dump, psql, pg_restore, …) of `major`. */
export function clientInstallHint(major: number): string {
  return `install the PostgreSQL ${major} client programs — Debian/Ubuntu: apt-get install postgresql-client-${major}` +
    ` (from apt.postgresql.org when your release lacks it); RHEL/Fedora: dnf install postgresql${major} (PGDG repository);` +
    ` macOS: brew install postgresql@${major} — or name their directory in PG_BINDIR or the config's binaries.majors`;
}

/** A server (initdb, pg_ctl, postgres) of `major` for the sandbox. */
export function serverInstallHint(major: number): string {
  return `run \`pgdrill server install ${major}\` (no root needed), or install the PostgreSQL ${major} server — Debian/Ubuntu:` +
    ` apt-get install postgresql-${major}; RHEL/Fedora: dnf install postgresql${major}-server; macOS: brew install postgresql@${major}` +
    ` — or name its directory in PG_BINDIR or the config's binaries.majors`;
}
