/**
 * Server settings that keep a restored copy — logical or physical — from reaching another server, in every jail mode
 * (docs/jail.md › Egress). Used by the restore sandbox (src/pipeline/restore/restore-stage.ts) and the physical
 * recovery (src/physical/recovery-setup.ts).
 */
/** The first minor release of each major that knows `restrict_nonsystem_relation_kind` (CVE-2024-7348's fix). */
const RESTRICT_RELKIND_SINCE: Readonly<Record<number, number>> = { 12: 20, 13: 16, 14: 13, 15: 8, 16: 4 };

/** True when a server of that version knows `restrict_nonsystem_relation_kind` (17+, and the minors above). */
export function knowsRestrictRelkind(major: number, minor: number): boolean {
  if (major >= 17) return true;
  const since = RESTRICT_RELKIND_SINCE[major];
  return since !== undefined && minor >= since;
}

/**
 * Settings that keep the restored copy from reaching another server, in every jail mode (docs/jail.md › Egress) —
 * also without a network or mount namespace, where a foreign server's Unix socket in /tmp is reachable:
 * - `restrict_nonsystem_relation_kind = 'foreign-table'`: no statement may touch a foreign table. A dump's
 *   `COPY ft FROM stdin` (pg_dump --include-foreign-data) would otherwise INSERT the rows into the remote server
 *   through postgres_fdw, a `REFRESH MATERIALIZED VIEW` over one would read the remote's current rows, and
 *   pgdrill's own counts and read-back would read them as if they were the backup's; file_fdw would read host
 *   files. The scan refuses a dump that names the setting (a `SET` could turn it off for its session).
 *   Objects are restored unchanged: the catalog still compares equal. Servers older than the minor releases that
 *   know it (15.8, 14.13, …) go without: the report's `foreign-tables-unrestricted` note says so.
 * - `max_logical_replication_workers = 0`: a subscription a dump leaves enabled never starts its apply worker.
 */
export function egressSettings(serverMajor: number, serverMinor: number): Readonly<Record<string, string>> {
  return {
    ...(knowsRestrictRelkind(serverMajor, serverMinor) ? { restrict_nonsystem_relation_kind: "'foreign-table'" } : {}),
    ...(serverMajor >= 10 ? { max_logical_replication_workers: '0' } : {}),
  };
}
