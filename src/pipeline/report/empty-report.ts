/** A report with every section present and empty, filled in as the stages run. */
import type { Report } from '../../report/model.js';
import { PGDRILL_VERSION } from '../../version.js';

export function emptyReport(
  kind: Report['kind'], runDir: string, startedAt: Date, argv: readonly string[], scrub: (s: string) => string,
  metadata: Report['metadata'],
): Report {
  return {
    schema_version: 1,
    tool: { name: 'pgdrill', version: PGDRILL_VERSION },
    kind,
    status: 'FAIL',
    interrupted: false,
    run: { id: runDir.split('/').pop()!, dir: runDir, started_at: startedAt.toISOString(), finished_at: startedAt.toISOString(), duration_ms: 0, host: '', user: '', argv: argv.map(scrub) },
    metadata: { ...metadata },
    source: { url: null, database: null, system_identifier: null, server_version: null, user: null, is_superuser: null, can_write: null, can_write_detail: null, in_recovery: null, snapshot: null },
    backup: emptyBackupSection(),
    inventory: null,
    restore: null,
    tables: [],
    teardown: { confirmed: false, detail: 'not reached', postmaster_pid: null },
    production_untouched: null,
    production: { system_identifier_before: null, system_identifier_after: null, fingerprint_before: null, fingerprint_after: null, session_settings: null, audit: [], footprint: null },
    versions: null,
    checks: [],
    stages: [],
    notes: [],
  };
}

/** The report's `backup` section before anything is known of the backup. */
export function emptyBackupSection(): Report['backup'] {
  return { path: null, format: null, size_bytes: null, sha256: null, sums_path: null, self_check: null, tool: null, duration_ms: null, globals: null };
}
