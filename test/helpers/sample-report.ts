/**
 * Realistic reports for renderer and history tests: a PASS of a pagila drill and a FAIL with failing checks,
 * restore errors and hostile text (what a crafted dump can put into error messages and details).
 * Every report is validated with ReportSchema.parse, so a model change that breaks them fails loudly.
 */
import { ReportSchema, type Report } from '../../src/report/model.js';

/** Text a hostile dump could smuggle into a report. */
export const HOSTILE = `<script>alert(1)</script><img src=x onerror="alert(2)"> & "quoted" 'single' </style></svg>`;

/** Options for a sample report. */
export interface SampleOptions {
  readonly database?: string;
  readonly startedAt?: string;
  readonly durationMs?: number;
  readonly sizeBytes?: number;
  readonly runDir?: string;
}

const SHA = 'ad614a71813d21902343049021fb413c4c058826e99bc5e4948fc3d6ab0a67cd';

function at(start: string, plusMs: number): string {
  return new Date(Date.parse(start) + plusMs).toISOString();
}

/** A drill that passed every check. */
export function passReport(o: SampleOptions = {}): Report {
  const db = o.database ?? 'pagila';
  const start = o.startedAt ?? '2026-11-27T23:33:17.000Z';
  const total = o.durationMs ?? 96_000;
  const f = total / 96_000;
  const dir = o.runDir ?? `/var/lib/pgdrill/drills/${db}-${start.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
  return ReportSchema.parse({
    schema_version: 1,
    tool: { name: 'pgdrill', version: '0.1.0' },
    kind: 'run',
    status: 'PASS',
    interrupted: false,
    run: { id: dir.split('/').pop(), dir, started_at: start, finished_at: at(start, total), duration_ms: total, host: 'db-backup-01', user: 'postgres', argv: ['pgdrill', 'run', '--source', 'postgresql://drill_ro:***@db1/' + db, '--out', '/var/lib/pgdrill/drills'] },
    metadata: { ticket: 'OPS-1412', environment: 'production', retention_days: 30 },
    source: { url: `postgresql://drill_ro:***@db1:5432/${db}`, database: db, system_identifier: '7611578671664259111', server_version: '15.18', user: 'drill_ro', is_superuser: false, can_write: false, can_write_detail: 'member of pg_read_all_data; no write privileges', in_recovery: false, snapshot: '00000004-0000002A-1' },
    backup: {
      path: `${dir}/${db}.dump`, format: 'custom', size_bytes: o.sizeBytes ?? 667_414_820, sha256: SHA, sums_path: `${dir}/SHA256SUMS`, self_check: true,
      tool: 'pg_dump (PostgreSQL) 15.18 --format=custom --snapshot=00000004-0000002A-1 --no-sync', duration_ms: Math.round(31_200 * f),
      globals: { mode: 'roles-only', path: `${dir}/globals.sql`, sha256: SHA.replace(/a/g, 'b'), size_bytes: 2_048, note: null },
    },
    inventory: { counts_by_type: { table: 3, view: 1, sequence: 2 }, roles: { app: { owner: 6, grant: 2, other: 0 } }, grants_by_role: { app_ro: { total: 3, write: 0 } } },
    restore: {
      system_identifier: '7640636973498654764', server_version: '15.18', os_user: 'postgres', data_dir: '/tmp/pgdrill-sbx-x1/data', socket_dir: '/tmp/pgdrill-sbx-x1',
      duration_ms: Math.round(41_500 * f), errors: [], objects_source: { table: 3, view: 1, sequence: 2 }, objects_restored: { table: 3, view: 1, sequence: 2 },
      missing_objects: [], kept: false, connect: null,
    },
    tables: [
      { schema: 'public', name: 'actor', source_rows: 200, restored_rows: 200, match: true, source_hash: 'md5:1f3870be274f6c49b3e31a0c6728957f', restored_hash: 'md5:1f3870be274f6c49b3e31a0c6728957f', hash_ms: 4 },
      { schema: 'public', name: 'film', source_rows: 1_000, restored_rows: 1_000, match: true, source_hash: 'md5:0cc175b9c0f1b6a831c399e269772661', restored_hash: 'md5:0cc175b9c0f1b6a831c399e269772661', hash_ms: 12 },
      { schema: 'public', name: 'rental', source_rows: 16_044, restored_rows: 16_044, match: true, source_hash: 'md5:92eb5ffee6ae2fec3ad71c777531578f', restored_hash: 'md5:92eb5ffee6ae2fec3ad71c777531578f', hash_ms: 88 },
    ],
    teardown: { confirmed: true, detail: 'postmaster 48211 stopped; data directory removed', postmaster_pid: 48211 },
    production_untouched: true,
    production: {
      system_identifier_before: '7611578671664259111', system_identifier_after: '7611578671664259111',
      fingerprint_before: 'sha256:5d41402abc4b2a76b9719d911017c592', fingerprint_after: 'sha256:5d41402abc4b2a76b9719d911017c592',
      session_settings: "default_transaction_read_only=on, lock_timeout=30000ms, application_name='pgdrill'",
      audit: [
        { at: at(start, 120), sql: 'SELECT system_identifier FROM pg_control_system()', by: 'pgdrill' },
        { at: at(start, 300), sql: 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', by: 'pgdrill' },
        { at: at(start, 310), sql: 'SELECT pg_export_snapshot()', by: 'pgdrill' },
        { at: at(start, 900), sql: 'pg_dump --snapshot=00000004-0000002A-1 --format=custom', by: 'pg_dump' },
        { at: at(start, 30_100), sql: 'SELECT count(*) FROM ONLY "public"."rental"', by: 'pgdrill' },
        { at: at(start, 95_000), sql: 'ROLLBACK', by: 'pgdrill' },
      ],
    },
    checks: [
      { name: 'guard.identity', stage: 'guard', status: 'pass', detail: 'source is sysid 7611578671664259111, database ' + db, evidence: { system_identifier: '7611578671664259111' } },
      { name: 'backup.pg_dump', stage: 'backup', status: 'pass', detail: 'pg_dump exited 0' },
      { name: 'backup.sha256_self_check', stage: 'backup', status: 'pass', detail: 'sha256sum -c SHA256SUMS: OK (1/1)' },
      { name: 'content.source_catalog', stage: 'content', status: 'pass', detail: 'every object of the source is in the dump' },
      { name: 'restore.errors', stage: 'restore', status: 'pass', detail: 'pg_restore reported no error' },
      { name: 'fidelity.row_counts', stage: 'fidelity', status: 'pass', detail: '3 of 3 tables have the same exact row count', evidence: { tables: 3, rows: 17_244 } },
      { name: 'fidelity.amcheck', stage: 'fidelity', status: 'warn', detail: 'pg_amcheck not available in the sandbox version; skipped heapallindexed' },
      { name: 'teardown.confirmed', stage: 'teardown', status: 'pass', detail: 'postmaster gone, data directory removed' },
      { name: 'production.audit_read_only', stage: 'production', status: 'pass', detail: '6 statement(s) sent by pgdrill, all read-only' },
    ],
    stages: [
      { name: 'guard', started_at: start, duration_ms: Math.round(400 * f), status: 'pass' },
      { name: 'backup', started_at: at(start, 400 * f), duration_ms: Math.round(31_200 * f), status: 'pass' },
      { name: 'content', started_at: at(start, 31_600 * f), duration_ms: Math.round(2_100 * f), status: 'pass' },
      { name: 'restore', started_at: at(start, 33_700 * f), duration_ms: Math.round(41_500 * f), status: 'pass' },
      { name: 'fidelity', started_at: at(start, 75_200 * f), duration_ms: Math.round(17_800 * f), status: 'warn' },
      { name: 'teardown', started_at: at(start, 93_000 * f), duration_ms: Math.round(1_900 * f), status: 'pass' },
      { name: 'production', started_at: at(start, 94_900 * f), duration_ms: Math.round(1_100 * f), status: 'pass' },
    ],
    notes: [{ id: 'sequences', text: 'Sequences are compared "not behind": setval in the dump can be ahead of the snapshot.' }],
  });
}

/** A drill that failed: rows lost, a backup defect among the restore errors, hostile text in a detail. */
export function failReport(o: SampleOptions = {}): Report {
  const base = passReport({ database: 'northwind', startedAt: '2026-11-28T02:10:05.000Z', durationMs: 58_000, sizeBytes: 9_437_184, ...o });
  return ReportSchema.parse({
    ...base,
    status: 'FAIL',
    restore: {
      ...base.restore!,
      errors: [
        { message: 'role "reporting" does not exist', sqlstate: '42704', statement: 'ALTER TABLE public.orders OWNER TO reporting;', line: 812, phase: 'dump', classification: 'environment_defect', hint: 'Restore the globals (roles) first, or pass --globals roles-only.' },
        { message: `invalid input syntax for type integer: "${HOSTILE}"`, sqlstate: '22P02', statement: `COPY public.orders (order_id, note) FROM stdin;\n1\t${HOSTILE}`, line: 1_204, phase: 'dump', classification: 'backup_defect', hint: null },
        { message: 'extension "plpgsql" already exists', sqlstate: '42710', statement: 'CREATE EXTENSION plpgsql;', line: 14, phase: 'dump', classification: 'benign', hint: null },
      ],
    },
    tables: [
      { schema: 'public', name: 'customers', source_rows: 91, restored_rows: 91, match: true, source_hash: 'md5:aa', restored_hash: 'md5:aa' },
      { schema: 'public', name: 'orders', source_rows: 830, restored_rows: 611, match: false, source_hash: 'md5:bb', restored_hash: 'md5:cc' },
      { schema: 'public', name: 'order_details', source_rows: 2_155, restored_rows: null, match: false, source_hash: 'md5:dd', restored_hash: null },
    ],
    checks: [
      ...base.checks.filter((c) => !c.name.startsWith('fidelity.') && c.name !== 'restore.errors'),
      { name: 'restore.errors', stage: 'restore', status: 'fail', detail: `1 backup defect: invalid input syntax near ${HOSTILE}`, evidence: { errors: 3, backup_defect: 1, sample: HOSTILE } },
      { name: 'fidelity.row_counts', stage: 'fidelity', status: 'fail', detail: '2 of 3 tables differ: public.orders 830 → 611, public.order_details missing' },
      { name: 'fidelity.amcheck', stage: 'fidelity', status: 'warn', detail: 'pg_amcheck not available in the sandbox version; skipped heapallindexed' },
    ],
    stages: base.stages.map((s) => (s.name === 'restore' || s.name === 'fidelity' ? { ...s, status: 'fail' } : s)),
    notes: [...base.notes, { id: 'hostile', text: `A note quoting the dump: ${HOSTILE}` }],
    metadata: { ...base.metadata, [`label ${HOSTILE}`]: HOSTILE },
  });
}
