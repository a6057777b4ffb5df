/**
 * The report model: one object per drill, rendered by several renderers (Markdown, JSON, HTML) that compute
 * nothing. Defined as a zod schema so report.json has a documented, generated JSON Schema
 * (schema/report.schema.json) and tests can validate reports against it.
 */
import { z } from 'zod';
import { FootprintSchema } from './footprint-model.js';
import { CheckNameSchema, STAGES, type CheckName, type StageOf } from './checks/index.js';

export const CheckStatus = z.enum(['pass', 'fail', 'warn', 'skip']);
export type CheckStatus = z.infer<typeof CheckStatus>;

/** One check: what was verified, its status, a one-line detail and the measured facts it rests on. */
export const CheckSchema = z.object({
  name: CheckNameSchema.describe('stable dotted name from the check registry (docs/reference/checks.md), e.g. backup.sha256_self_check; `content.objects[…]`, `content.role[…]` and `content.grants[…]` name one configured expectation'),
  stage: z.enum(STAGES).describe("stage that ran it: its name's first part"),
  status: CheckStatus,
  detail: z.string(),
  evidence: z.record(z.string(), z.unknown()).optional(),
});
export type Check = z.infer<typeof CheckSchema>;

/**
 * A check as a stage emits it: a registered name with the registry's stage for it (a misspelt name, or a stage other
 * than the name's, does not compile). `ReportBuilder.add` records it.
 */
export type CheckResult = {
  [N in CheckName]: { readonly name: N; readonly stage: StageOf<N>; status: CheckStatus; detail: string; evidence?: Record<string, unknown> };
}[CheckName];

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
  source_rows: z.number().nullable().describe('exact count(*) on the source in the dump snapshot (run and demo with source.witness counts or hashes); null without such a witness (the default source.witness: none, and verify): compare with dump_rows then'),
  restored_rows: z.number().nullable().describe("exact row count in the restored copy: the rows the content hashes' COPY … TO STDOUT read back, or count(*) where that did not read the table whole; null when the table is missing"),
  dump_rows: z.number().nullable().optional().describe("rows in the table's COPY block of the dump as pgdrill read it (every format); null when the dump holds no COPY block for it"),
  match: z.boolean(),
  source_hash: z.string().nullable().optional().describe('content hash on the source in the dump snapshot (source.witness: hashes; demo); null when it could not be computed'),
  restored_hash: z.string().nullable().optional().describe('content hash of the restored table; null when missing'),
  hash_ms: z.number().optional().describe('time the content hash cost on the source (ms)'),
  restored_hash_ms: z.number().optional().describe('time the content hash cost on the restored copy (ms)'),
  dump_hash: z.string().nullable().optional().describe("order-independent hash of the table's COPY lines as the dump streamed them (computed by pgdrill, no source read); null when the dump holds no COPY block for it"),
  restored_copy_hash: z.string().nullable().optional().describe("the same hash of the restored table's `COPY … TO STDOUT` under the dump's session settings; null when it could not be read"),
  filter: z.string().nullable().optional().describe("an extension configuration table's filter (pg_extension_config_dump), read from the restored copy's pg_extension: restored_rows and restored_copy_hash are of the rows it selects — those pg_dump dumps — not of the rows the extension's script inserted; absent for other tables"),
  via_root: z.string().optional().describe("a leaf partition whose rows the dump loaded through its partitioned root (`schema.name`; --load-via-partition-root, or pg_dump's own choice for a table hash-partitioned on an enum): compared as part of that root's row, since a row may land in another leaf of the copy (a hash of an enum follows its OIDs); `match` is the root's"),
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

export const AuditEntrySchema = z.object({
  at: z.string(),
  sql: z.string(),
  by: z.string(),
  pid: z.number().optional().describe("backend pid of pgdrill's own session (%p in the source's server log); absent for pg_dump/pg_dumpall"),
});

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
  basis: z.string().optional().describe('what both drills are (logical dump, or physical backup tool and recovery target): only drills of the same kind are compared (absent in reports of older versions)'),
  size_bytes: ChangeSchema,
  objects: z.record(z.string(), ChangeSchema).describe('objects per type in the dump inventory'),
  tables: z.array(ChangeSchema.extend({ table: z.string() })).describe('tables whose row count changed (restored rows), or that appeared or disappeared'),
});
export type Baseline = z.infer<typeof BaselineSchema>;

/** Something refused before the restore: what pg_dump never writes and a hostile dump would. */
export const RefusedSchema = z.object({
  kind: z.enum(['meta-command', 'copy-program', 'server-file', 'alter-system', 'untrusted-function', 'other']),
  line: z.number().describe('1-based line in the plain dump, or in the `pg_restore -f -` script of an archive'),
  object: z.string().nullable().describe('the dump entry it is in ("FUNCTION public.f()"), from the nearest `-- Name:` header; null before the first'),
  text: z.string(),
});
export type Refused = z.infer<typeof RefusedSchema>;

/** How the sandbox was confined, and what was refused before it was given anything. */
export const JailSchema = z.object({
  os_user: z.string().nullable().describe('OS user the sandbox server and the psql replaying a dump run as; null = the caller (pgdrill not run as root)'),
  os_user_source: z.enum(['dedicated', 'config', 'caller']).describe('dedicated: pgdrill-sandbox (default as root); config: sandbox.os_user override; caller: not root'),
  network_namespace: z.boolean().describe('the server (and everything it runs) had a network namespace of its own: no connection anywhere'),
  namespace_mode: z.enum(['bwrap', 'root', 'userns', 'none']).describe('bwrap: bubblewrap as the OS user (private mount, network, IPC, user namespaces); root: unshare --net then setuid; userns: unprivileged user namespace; none'),
  namespace_note: z.string().nullable().describe('why there was no network namespace, when there was none'),
  mount_namespace: z.boolean().default(false).describe('the sandbox saw only /usr and its own directories (bwrap): not the run directories, other drills, /root, /home'),
  mount_note: z.string().nullable().default(null).describe('why the sandbox saw the host\'s file system, when it did'),
  refused: z.array(RefusedSchema).describe('hostile content found in the dump (first 1000); any entry means the dump was not restored'),
  refused_omitted: z.number().describe('findings beyond those listed'),
  allowed: z.object({ functions: z.array(z.string()), meta_commands: z.array(z.string()) }).describe('named exceptions from config sandbox.allow'),
});
export type JailReport = z.infer<typeof JailSchema>;

/** Fidelity evidence: the restored copy compared with the source as of the dump's snapshot (src/fidelity). */
/** A differing pair of lines of the round trip's schema-only dumps (null: the line is on the other side only). */
const RoundTripLinesSchema = z.object({ source_line: z.number().nullable(), restored_line: z.number().nullable(), source: z.string().nullable(), restored: z.string().nullable() });

export const FidelitySchema = z.object({
  deep: z.boolean().describe('run --deep (and demo): amcheck with --heapallindexed and large objects hashed on the source; false for verify (its --deep hashes the source now: fidelity.source_hashes_now)'),
  differences: z.array(z.object({
    object: z.string().describe('e.g. "table public.actor", "column public.film.rating", "function public.last_day(timestamp with time zone)"'),
    attribute: z.string().describe('e.g. "default", "definition", "grant SELECT to app_reader", "position (not behind)"; "object" when the whole object is on one side only'),
    source: z.string().nullable().describe('value on the source; null = absent'),
    restored: z.string().nullable().describe('value in the restored copy; null = absent'),
  })).describe('catalog differences, first 1000 (fidelity.catalog fails when any)'),
  differences_omitted: z.number().describe('differences beyond those listed'),
  hashes: z.object({
    tables: z.number(), equal: z.number(),
    source_ms: z.number().describe('time hashing cost on the source in the dump snapshot; 0 when the source was not read (evidence dump-stream only)'),
    restored_ms: z.number(),
    large_objects: z.number().optional().describe('large objects hashed on the source (absent in reports of older versions)'),
    large_objects_differ: z.number().optional().describe('large objects missing from the copy, with other bytes, or only in the copy'),
    evidence: z.array(z.enum(['dump-stream', 'source-snapshot'])).optional().describe("what the table hashes were compared with: `dump-stream` the COPY lines of the dump as pgdrill read them; `source-snapshot` hashes computed by the source server in the dump's snapshot (source.witness: hashes)"),
  }).nullable().describe('content hash totals; per table in tables[]; null when not computed'),
  catalog: z.object({
    source_facts: z.number(), restored_facts: z.number(), sequences_checked: z.number(),
    source_ms: z.number(), restored_ms: z.number(),
  }).nullable().describe('catalog facts read on each side; null when not compared'),
  round_trip: z.object({
    equal: z.boolean(),
    source_path: z.string().describe('schema-only dump of the source, same snapshot as the backup'),
    restored_path: z.string().describe('schema-only dump of the restored copy'),
    lines_compared: z.number(),
    stripped: z.array(z.object({ why: z.string(), source: z.number(), restored: z.number() })).describe('lines removed before comparing, per rule'),
    differences: z.array(RoundTripLinesSchema).describe("the first differing object's differing lines (at most 6)"),
    section: z.string().nullable().describe('the `-- Name: …` header of the first differing object'),
    objects_differing: z.number().optional().describe('how many objects (pg_dump entries) differ: on one side only, or with other text (absent in reports of older versions)'),
    objects: z.array(z.object({
      section: z.string().describe("the object's `-- Name: …` header"),
      kind: z.enum(['differs', 'missing in the restored copy', 'only in the restored copy']),
      lines: z.array(RoundTripLinesSchema).describe('its differing lines, at most 20'),
      lines_omitted: z.number(),
    })).optional().describe('the differing objects, at most 100 (all of them, with all their lines, in differences_path)'),
    objects_omitted: z.number().optional().describe('differing objects beyond those listed'),
    differences_path: z.string().nullable().optional().describe('file in the run directory naming every differing object with all its differing lines'),
    ms: z.number(),
  }).nullable(),
  amcheck: z.object({
    exit_code: z.number().nullable(),
    relations_checked: z.number(),
    corrupt: z.number(),
    relations: z.array(z.object({ relation: z.string(), kind: z.string(), status: z.enum(['ok', 'corrupt']), messages: z.array(z.string()) })).describe('every relation pg_amcheck checked, when at most 1,000 were; beyond that only those with findings (the others are counted in relations_omitted)'),
    relations_omitted: z.number().optional().describe('relations checked without findings that `relations` does not list (more than 1,000 were checked)'),
    error: z.string().nullable().describe('pg_amcheck could not check (not a corruption finding)'),
    ms: z.number(),
  }).nullable(),
  extensions_missing: z.array(z.object({ name: z.string(), version: z.string() })).describe("source extensions the sandbox's server lacks (environment defect)"),
  normalisations: z.array(z.object({
    id: z.string().describe('e.g. "maintain-privilege"'),
    since: z.number().describe('the PostgreSQL major that brought the change'),
    source_major: z.number(),
    sandbox_major: z.number(),
    why: z.string(),
    catalog_facts: z.number().describe('catalog facts rewritten or dropped before comparing'),
    round_trip_objects: z.number().describe('round-trip objects (pg_dump entries) rewritten before comparing'),
    examples: z.array(z.string()).describe('the first objects it touched, at most 10'),
  })).optional().describe('cross-major normalisations (src/fidelity/cross-major.ts): every rule between the source\'s major and the sandbox\'s, with what it touched; empty when the majors are equal (absent in reports of older versions)'),
});
export type Fidelity = z.infer<typeof FidelitySchema>;

/** The PostgreSQL versions of a drill: the source, the pg_dump that wrote the dump, the sandbox, every program used. */
export const VersionsSchema = z.object({
  source: z.string().nullable().describe("the source server's version (run; verify --source), else the dump's \"Dumped from\"; null when unknown"),
  source_major: z.number().nullable(),
  pg_dump: z.string().nullable().describe('version of the pg_dump that wrote the dump (run: the one pgdrill ran; verify: the header says); null when unknown'),
  pg_dump_major: z.number().nullable(),
  sandbox: z.string().describe("the sandbox server's version"),
  sandbox_major: z.number(),
  sandbox_reason: z.string().describe('why the sandbox runs this major'),
  target_major: z.number().nullable().describe('--target-major (an upgrade rehearsal), else null'),
  programs: z.array(z.object({
    name: z.string(),
    role: z.enum(['dump', 'server', 'client', 'sandbox-dump']).describe('dump: pg_dump/pg_dumpall of the source; server: the sandbox; client: psql/pg_restore/pg_amcheck on the sandbox; sandbox-dump: pg_dump of the restored copy (round trip)'),
    path: z.string(),
    version: z.string(),
    origin: z.enum(['PG_BINDIR', 'config', 'debian', 'rhel', 'homebrew', 'pg_config', 'PATH', 'store']).describe('where it was found'),
  })).describe('every PostgreSQL program chosen for the drill'),
});
export type VersionsReport = z.infer<typeof VersionsSchema>;

/** A physical drill: the base backup, its WAL, the recovery target and the proof it was reached, the isolation, RTO. */
export const PhysicalSchema = z.object({
  layout: z.enum(['plain', 'tar']),
  manifest: z.boolean().describe('a backup_manifest was there (pg_verifybackup checked the files against it)'),
  wal_dir: z.string().nullable().describe('the WAL archive (--wal), or null: only the WAL inside the backup'),
  start_lsn: z.string().nullable().describe("backup_label's START WAL LOCATION"),
  start_timeline: z.number().nullable(),
  backup_end_lsn: z.string().nullable().describe("where the backup becomes consistent: the manifest's End-LSN, else the server's \"consistent recovery state reached\""),
  target: z.string().describe('--target as given or defaulted'),
  target_timeline: z.string().describe('recovery_target_timeline'),
  reached: z.object({
    lsn: z.string().nullable().describe('pg_last_wal_replay_lsn() after recovery: the end of the last record replayed'),
    last_commit_time: z.string().nullable().describe('pg_last_xact_replay_timestamp(): the last replayed commit or abort'),
    stop_line: z.string().nullable().describe('the server log\'s "recovery stopping …" line (null for latest and immediate without one)'),
    consistent_at: z.string().nullable(),
    redo_done_at: z.string().nullable(),
    new_timeline: z.number().nullable().describe('the timeline the promoted copy chose'),
    fatal: z.string().nullable().describe('the server log\'s FATAL line when recovery failed'),
  }),
  wal: z.object({
    staged_segments: z.number(),
    history_files: z.number(),
    restored_segments: z.number().describe('segments the server asked for and got from the archive'),
    replayed_bytes: z.number().nullable().describe('WAL bytes from the backup start to the last record replayed'),
    replay_ms: z.number().nullable(),
    replay_bytes_per_s: z.number().nullable(),
  }),
  isolation: z.object({
    system_identifier: z.string().nullable().describe("the restored copy's: production's own, as expected of a physical copy"),
    settings: z.record(z.string(), z.string()).describe('the settings the copy ran with, read from the running server'),
    overridden: z.array(z.string()).describe("settings of the backup's own postgresql.conf/postgresql.auto.conf that were not read (names only)"),
    preload_dropped: z.array(z.string()).describe("shared_preload_libraries of the backup's configuration, not loaded (jobs never run)"),
    tcp_sockets: z.number().nullable().describe("TCP sockets the postmaster held (0)"),
  }),
  data_checksums: z.boolean().nullable(),
  databases: z.array(z.object({ name: z.string(), connected: z.boolean(), tables: z.number(), rows: z.number(), error: z.string().nullable() })),
  timings: z.object({
    copy_ms: z.number().nullable().describe('copying the backup in and staging the WAL'),
    recovery_ms: z.number().nullable().describe('server start, replay and promotion'),
    checks_ms: z.number().nullable(),
    rto_ms: z.number().nullable().describe('copy + recovery + checks: the measured recovery time objective'),
  }),
});
export type PhysicalReport = z.infer<typeof PhysicalSchema>;

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
    peak_rss_bytes: z.number().nullable().optional().describe("peak resident memory of pgdrill's own process during the drill (Linux VmHWM, reset at the drill's start); null where /proc is unavailable"),
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
    format: z.enum(['plain', 'custom', 'directory', 'tar', 'plain-gzip', 'basebackup-plain', 'basebackup-tar']).nullable().describe('basebackup-*: a pg_basebackup output (plain or tar format), drilled physically (`physical`)'),
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
    overlapped: z.boolean().optional().describe("true when the plain dump was restored from pg_dump's stream while it was written (backup.overlap)"),
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
    footprint: FootprintSchema.nullable().optional().describe('what the drill cost the source beside pg_dump alone (docs/reports.md); null when not measured (absent in reports of older versions)'),
  }),
  baseline: BaselineSchema.nullable().optional().describe('comparison with the previous PASS of the same database in the same out directory; null when there is none (absent in reports of older versions)'),
  fidelity: FidelitySchema.nullable().optional().describe('content hashes, catalog comparison, round trip, amcheck, extensions (run, demo and verify; verify compares the copy with the dump, and without a source has no catalog or round trip); null when no restore ran (absent in reports of older versions; older verify reports never had it)'),
  jail: JailSchema.nullable().optional().describe('the sandbox jail and what was refused before the restore; null when no dump was scanned (absent in reports of older versions)'),
  physical: PhysicalSchema.nullable().optional().describe('a physical drill (verify of a pg_basebackup): target, proof, isolation, RTO; absent for logical drills'),
  versions: VersionsSchema.nullable().optional().describe('source, pg_dump and sandbox versions side by side, and every program used; null when no program was chosen (absent in reports of older versions)'),
  checks: z.array(CheckSchema),
  stages: z.array(StageSchema),
  notes: z.array(NoteSchema),
});
export type Report = z.infer<typeof ReportSchema>;
