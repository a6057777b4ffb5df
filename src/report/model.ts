/**
 * The report model: one object per drill, rendered by several renderers (Markdown, JSON, HTML) that compute
 * nothing. Defined as a zod schema so report.json has a documented, generated JSON Schema
 * (schema/report.schema.json) and tests can validate reports against it.
 */
import { z } from 'zod';

export const CheckStatus = z.enum(['pass', 'fail', 'warn', 'skip']);
export type CheckStatus = z.infer<typeof CheckStatus>;

/** One check: what was verified, its status, a one-line detail and the measured facts it rests on. */
export const CheckSchema = z.object({
  name: z.string().describe('stable dotted name, e.g. backup.sha256_self_check'),
  stage: z.string().describe('stage that ran it: guard, backup, content, restore, fidelity, teardown, production'),
  status: CheckStatus,
  detail: z.string(),
  evidence: z.record(z.string(), z.unknown()).optional(),
});
export type Check = z.infer<typeof CheckSchema>;

export const StageSchema = z.object({
  name: z.string(),
  started_at: z.string(),
  duration_ms: z.number(),
  status: CheckStatus,
});
export type Stage = z.infer<typeof StageSchema>;

export const TableRowSchema = z.object({
  schema: z.string(),
  name: z.string(),
  source_rows: z.number().nullable().describe('exact count(*) on the source in the dump snapshot (run) or null (verify without --source)'),
  restored_rows: z.number().nullable().describe('exact count(*) in the restored copy; null when the table is missing'),
  dump_rows: z.number().nullable().optional().describe('rows in the plain dump COPY block, when known'),
  match: z.boolean(),
  source_hash: z.string().nullable().optional(),
  restored_hash: z.string().nullable().optional(),
  hash_ms: z.number().optional(),
});
export type TableRow = z.infer<typeof TableRowSchema>;

export const RestoreErrorSchema = z.object({
  message: z.string(),
  sqlstate: z.string().nullable(),
  statement: z.string().nullable(),
  line: z.number().nullable(),
  phase: z.enum(['globals', 'dump']),
  classification: z.enum(['backup_defect', 'environment_defect', 'benign', 'unknown']).default('unknown'),
  hint: z.string().nullable().default(null),
});
export type RestoreError = z.infer<typeof RestoreErrorSchema>;

export const AuditEntrySchema = z.object({ at: z.string(), sql: z.string(), by: z.string() });

export const NoteSchema = z.object({ id: z.string(), text: z.string() });
export type Note = z.infer<typeof NoteSchema>;

/** One compared quantity: its value in the previous PASS and now, and the change in % of the previous (null when that is 0 or unknown). */
export const ChangeSchema = z.object({
  previous: z.number().nullable(),
  current: z.number().nullable(),
  change_pct: z.number().nullable(),
});
export type Change = z.infer<typeof ChangeSchema>;

/** The comparison with the previous PASS of the same database in the same out directory (see config `thresholds`). */
export const BaselineSchema = z.object({
  run_id: z.string().describe('run directory name of the previous PASS'),
  run_dir: z.string(),
  started_at: z.string(),
  kind: z.enum(['run', 'verify', 'demo']),
  format: z.string().nullable().describe('dump format of the previous PASS; sizes are compared only between equal formats'),
  size_bytes: ChangeSchema,
  objects: z.record(z.string(), ChangeSchema).describe('objects per type in the dump inventory'),
  tables: z.array(ChangeSchema.extend({ table: z.string() })).describe('tables whose row count changed (restored rows), or that appeared or disappeared'),
});
export type Baseline = z.infer<typeof BaselineSchema>;

export const ReportSchema = z.object({
  schema_version: z.literal(1),
  tool: z.object({ name: z.literal('pgdrill'), version: z.string() }),
  kind: z.enum(['run', 'verify', 'demo']),
  status: z.enum(['PASS', 'FAIL']).describe('PASS only when no check failed'),
  interrupted: z.boolean().describe('true when SIGINT/SIGTERM ended the drill'),
  run: z.object({
    id: z.string(),
    dir: z.string(),
    started_at: z.string(),
    finished_at: z.string(),
    duration_ms: z.number(),
    host: z.string(),
    user: z.string(),
    argv: z.array(z.string()).describe('command line, secrets redacted'),
  }),
  metadata: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  source: z.object({
    url: z.string().nullable().describe('redacted'),
    database: z.string().nullable(),
    system_identifier: z.string().nullable(),
    server_version: z.string().nullable(),
    user: z.string().nullable(),
    is_superuser: z.boolean().nullable(),
    can_write: z.boolean().nullable(),
    can_write_detail: z.string().nullable(),
    in_recovery: z.boolean().nullable(),
    snapshot: z.string().nullable().describe('exported snapshot the dump and the source counts share'),
  }),
  backup: z.object({
    path: z.string().nullable(),
    format: z.enum(['plain', 'custom', 'directory', 'tar', 'plain-gzip']).nullable(),
    size_bytes: z.number().nullable(),
    sha256: z.string().nullable(),
    sums_path: z.string().nullable(),
    self_check: z.boolean().nullable(),
    tool: z.string().nullable().describe('pg_dump version and arguments'),
    duration_ms: z.number().nullable(),
    globals: z.object({
      mode: z.enum(['globals-only', 'roles-only', 'none']),
      path: z.string().nullable(),
      sha256: z.string().nullable(),
      size_bytes: z.number(),
      note: z.string().nullable(),
    }).nullable(),
  }),
  inventory: z.object({
    counts_by_type: z.record(z.string(), z.number()),
    roles: z.record(z.string(), z.object({ owner: z.number(), grant: z.number(), other: z.number() })),
    grants_by_role: z.record(z.string(), z.object({ total: z.number(), write: z.number() })),
  }).nullable(),
  restore: z.object({
    system_identifier: z.string().nullable(),
    server_version: z.string().nullable(),
    os_user: z.string().nullable(),
    data_dir: z.string().nullable(),
    socket_dir: z.string().nullable(),
    duration_ms: z.number().nullable(),
    errors: z.array(RestoreErrorSchema),
    objects_source: z.record(z.string(), z.number()),
    objects_restored: z.record(z.string(), z.number()),
    missing_objects: z.array(z.string()),
    kept: z.boolean().describe('--keep: the cluster was left running'),
    connect: z.string().nullable().describe('how to connect to a kept cluster'),
  }).nullable(),
  tables: z.array(TableRowSchema),
  teardown: z.object({
    confirmed: z.boolean(),
    detail: z.string(),
    postmaster_pid: z.number().nullable(),
  }),
  production_untouched: z.boolean().nullable().describe('identity and catalog fingerprint equal before and after, and every statement read-only; null for verify without --source'),
  production: z.object({
    system_identifier_before: z.string().nullable(),
    system_identifier_after: z.string().nullable(),
    fingerprint_before: z.string().nullable(),
    fingerprint_after: z.string().nullable(),
    session_settings: z.string().nullable(),
    audit: z.array(AuditEntrySchema),
  }),
  baseline: BaselineSchema.nullable().optional().describe('comparison with the previous PASS of the same database in the same out directory; null when there is none (absent in reports of older versions)'),
  checks: z.array(CheckSchema),
  stages: z.array(StageSchema),
  notes: z.array(NoteSchema),
});
export type Report = z.infer<typeof ReportSchema>;
