/**
 * The tests behind each registered check (src/report/checks/): those that make it FAIL — for a check that never
 * fails, those that show what it does instead (warn, skip, or the abort before any report) — and those where it must
 * pass on legitimate input. Paths are relative to test/; each file names the check. `npm run schema` renders the
 * table into COVERAGE_DOC; test/unit/checks.test.ts holds this map to the registry and to the files.
 */
import type { CheckKey } from '../src/report/checks/index.js';

/** The developer doc that holds the rendered table. */
export const COVERAGE_DOC = 'CONTRIBUTING.md';

export interface CheckTests {
  /** Tests that make it fail (never-failing checks: its warn, skip or abort). At least one. */
  readonly fail: readonly string[];
  /** Tests where it passes; empty for a check emitted only when something went wrong. */
  readonly pass: readonly string[];
}

export const CHECK_COVERAGE: Readonly<Record<CheckKey, CheckTests>> = {
  'guard.identity': { fail: ['drill/init.test.ts', 'drill/pagila.test.ts'], pass: ['drill/init.test.ts', 'drill/demo.test.ts'] },
  'guard.lock_table': { fail: ['safety/guards.test.ts'], pass: ['safety/guards.test.ts', 'drill/demo.test.ts'] },
  'guard.standby': { fail: ['safety/standby.test.ts', 'unit/standby.test.ts'], pass: ['unit/standby.test.ts'] },
  'backup.pg_dump': { fail: ['safety/faults.test.ts'], pass: ['perf/one-pass.test.ts', 'drill/demo.test.ts'] },
  'backup.locks': { fail: ['safety/guards.test.ts', 'unit/lock-failure.test.ts'], pass: [] },
  'backup.recovery_conflict': { fail: ['safety/standby.test.ts', 'unit/standby.test.ts'], pass: [] },
  'backup.trailer': { fail: ['verify/broken.test.ts'], pass: ['verify/broken.test.ts', 'drill/demo.test.ts'] },
  'backup.globals': { fail: ['verify/globals.test.ts'], pass: ['drill/demo.test.ts'] },
  'backup.sha256_self_check': { fail: ['perf/one-pass.test.ts'], pass: ['drill/restore-errors.test.ts', 'safety/snapshot-release.test.ts'] },
  'backup.source_counts': { fail: ['drill/restore-errors.test.ts'], pass: [] },
  'backup.physical_files': { fail: ['physical/basebackup.test.ts'], pass: ['physical/basebackup.test.ts'] },
  'backup.pg_verifybackup': { fail: ['physical/basebackup.test.ts'], pass: ['physical/basebackup.test.ts'] },
  'backup.wal_continuity': { fail: ['physical/basebackup.test.ts', 'physical/report-endings.test.ts'], pass: ['physical/basebackup.test.ts', 'physical/report-endings.test.ts'] },
  'restore.physical_isolation': { fail: ['unit/physical.test.ts'], pass: ['physical/basebackup.test.ts', 'unit/physical.test.ts'] },
  'restore.recovery_target': { fail: ['physical/basebackup.test.ts', 'unit/physical.test.ts', 'physical/report-endings.test.ts'], pass: ['physical/basebackup.test.ts', 'unit/physical.test.ts', 'physical/report-endings.test.ts'] },
  'restore.repository': { fail: ['physical/pgbackrest.test.ts'], pass: [] },
  'restore.physical_copy': { fail: ['physical/report-endings.test.ts'], pass: [] },
  'fidelity.databases': { fail: ['physical/basebackup.test.ts', 'physical/no-checksums.test.ts'], pass: ['physical/basebackup.test.ts'] },
  'fidelity.pg_checksums': { fail: ['physical/basebackup.test.ts'], pass: ['physical/basebackup.test.ts'] },
  'backup.sha256sums': { fail: ['verify/broken.test.ts'], pass: ['verify/broken.test.ts'] },
  'backup.full_read': { fail: ['verify/broken.test.ts'], pass: ['verify/formats.test.ts'] },
  'backup.archive_files': { fail: ['verify/hostile-archive.test.ts'], pass: ['verify/hostile-archive.test.ts'] },
  'backup.directory_files': { fail: ['verify/broken.test.ts'], pass: ['verify/formats.test.ts'] },
  'backup.unchanged': { fail: ['verify/formats.test.ts'], pass: ['verify/formats.test.ts'] },
  'backup.barman_verify': { fail: ['physical/barman.test.ts'], pass: ['physical/barman.test.ts'] },
  'backup.pgbackrest_verify': { fail: ['physical/pgbackrest.test.ts', 'unit/pgbackrest.test.ts'], pass: ['physical/pgbackrest.test.ts', 'unit/pgbackrest.test.ts'] },
  'content.hostile_content': {
    fail: ['jail/refuse-run.test.ts', 'jail/refuse-crafted.test.ts', 'verify/hostile.test.ts', 'unit/jail-report.test.ts'],
    pass: ['jail/datasets.test.ts', 'jail/refuse-run.test.ts', 'perf/one-pass.test.ts'],
  },
  'content.source_catalog': { fail: ['scan/dump-names.test.ts', 'drill/dump-names.test.ts'], pass: ['drill/pagila.test.ts', 'scan/dump-names.test.ts'] },
  'content.expectations': { fail: ['unit/content-checks.test.ts'], pass: [] },
  'content.objects': { fail: ['drill/pagila.test.ts', 'unit/content-checks.test.ts'], pass: ['drill/demo.test.ts', 'drill/init.test.ts'] },
  'content.role': { fail: ['unit/content-checks.test.ts'], pass: ['drill/demo.test.ts', 'drill/init.test.ts'] },
  'content.grants': { fail: ['drill/pagila.test.ts', 'unit/content-checks.test.ts'], pass: ['drill/demo.test.ts', 'drill/pagila.test.ts'] },
  'restore.isolation': { fail: ['safety/guards.test.ts'], pass: ['safety/guards.test.ts', 'safety/secrets.test.ts'] },
  'restore.extensions_available': { fail: ['fidelity/extensions.test.ts'], pass: ['fidelity/pagila.test.ts'] },
  'restore.errors': { fail: ['drill/restore-errors.test.ts', 'drill/parallel-restore-race.test.ts'], pass: ['drill/demo.test.ts'] },
  'restore.objects': { fail: ['fidelity/mutations.test.ts'], pass: ['drill/demo.test.ts'] },
  'restore.roles': { fail: ['verify/globals.test.ts'], pass: ['verify/globals.test.ts', 'safety/audit.test.ts'] },
  'fidelity.row_counts': { fail: ['fidelity/mutations.test.ts'], pass: ['fidelity/pagila.test.ts', 'drill/restore-errors.test.ts'] },
  'fidelity.content_hashes': { fail: ['fidelity/mutations.test.ts', 'fidelity/types.test.ts', 'fidelity/sql-ascii.test.ts'], pass: ['fidelity/mutations.test.ts', 'fidelity/column-order.test.ts', 'fidelity/types.test.ts', 'verify/formats.test.ts'] },
  'fidelity.catalog': { fail: ['fidelity/mutations.test.ts'], pass: ['fidelity/mutations.test.ts', 'fidelity/pagila.test.ts'] },
  'fidelity.round_trip': { fail: ['fidelity/mutations.test.ts'], pass: ['fidelity/mutations.test.ts', 'fidelity/pagila.test.ts'] },
  'fidelity.amcheck': { fail: ['fidelity/mutations.test.ts', 'physical/no-checksums.test.ts'], pass: ['fidelity/event-triggers.test.ts', 'drill/restore-sandbox-settings.test.ts'] },
  'fidelity.source_rows_now': { fail: ['verify/formats.test.ts'], pass: ['verify/source-deep.test.ts', 'safety/idle-timeout.test.ts'] },
  'fidelity.source_hashes_now': { fail: ['verify/source-deep.test.ts'], pass: ['verify/source-deep.test.ts'] },
  'teardown.confirmed': { fail: ['safety/faults.test.ts'], pass: ['drill/demo.test.ts'] },
  'production.identity': { fail: ['safety/production-proof.test.ts'], pass: ['safety/production-proof.test.ts', 'drill/demo.test.ts'] },
  'production.catalog_fingerprint': { fail: ['safety/production-proof.test.ts'], pass: ['safety/production-proof.test.ts', 'drill/demo.test.ts'] },
  'production.audit_read_only': { fail: ['unit/audit.test.ts'], pass: ['safety/production-proof.test.ts', 'verify/formats.test.ts'] },
  'baseline.previous_pass': { fail: ['verify/baseline.test.ts'], pass: [] },
  'baseline.size': { fail: ['verify/baseline.test.ts'], pass: ['verify/baseline.test.ts'] },
  'baseline.objects': { fail: ['verify/baseline.test.ts'], pass: ['verify/baseline.test.ts'] },
  'baseline.table_rows': { fail: ['verify/baseline.test.ts'], pass: ['verify/baseline.test.ts'] },
  'backup.error': { fail: ['safety/faults.test.ts', 'perf/overlap-failures.test.ts', 'unit/report-builder.test.ts'], pass: [] },
  'source.error': { fail: ['unit/report-builder.test.ts'], pass: [] },
  'content.error': { fail: ['perf/one-pass.test.ts', 'unit/report-builder.test.ts'], pass: [] },
  'restore.error': { fail: ['unit/report-builder.test.ts'], pass: [] },
  'restore.skipped': { fail: ['verify/broken.test.ts', 'safety/guards.test.ts', 'unit/report-builder.test.ts'], pass: [] },
  'fidelity.error': { fail: ['unit/report-builder.test.ts'], pass: [] },
  'fidelity.skipped': { fail: ['drill/restore-errors.test.ts', 'unit/report-builder.test.ts'], pass: [] },
  'teardown.error': { fail: ['unit/report-builder.test.ts'], pass: [] },
  'production.error': { fail: ['safety/faults.test.ts', 'safety/signals.test.ts', 'unit/report-builder.test.ts'], pass: [] },
  'baseline.error': { fail: ['unit/report-builder.test.ts'], pass: [] },
  'drill.aborted': { fail: ['safety/crash.test.ts', 'fidelity/locale.test.ts'], pass: [] },
};
