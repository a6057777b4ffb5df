/**
 * The fleet's results in the coordination database: its own schema (`pgdrill_fleet`), beside the queue's, holding
 * every database the fleet file names (`databases`) and every drill a worker finished (`results`: its verdict, a
 * summary of its report and a pointer to the report on the worker's machine). `fleet sync` registers the databases,
 * workers record results, `fleet status` and `fleet report` read them.
 *
 * Plain node-postgres clients in (a `pg.Client` or a pool's client), typed data out. Nothing here stores a password:
 * a database's source is redacted again before it is written, whatever the caller gave.
 */
import type pg from 'pg';
import { PgdrillError } from '../errors.js';
import { redactUrl, redactUrlsIn } from '../source/libpq-url.js';

/** The schema that holds the fleet's results. The queue's role owns it (docs/fleet.md: the coordination database). */
export const RESULTS_SCHEMA = 'pgdrill_fleet';

/** The schema version this pgdrill writes and reads. A newer one in the database is refused (never downgraded). */
export const RESULTS_SCHEMA_VERSION = 2;

/** Any node-postgres client that can run a transaction: `pg.Client`, or `await pool.connect()`. */
export type ResultsClient = pg.ClientBase;

/** A drill's kind: a `pgdrill run` of a source, or a `pgdrill verify` of a backup location. */
export type FleetDrillKind = 'run' | 'verify';

/**
 * How a drill ended: pass/fail are the report's verdict; error: no verdict on the backup (pgdrill exited 2, 3, 4 or 70,
 * or its worker died on every attempt: reason `retries_exhausted`); stopped: the worker stopped it for overrunning a
 * budget (reason `duration` or `disk`). Rows written as `timeout` by schema version 1 read as `stopped`.
 */
export type FleetVerdict = 'pass' | 'fail' | 'error' | 'stopped';

/**
 * Why a drill ended the way it did, beyond its verdict: `duration` (stopped at max_duration), `disk` (stopped at its
 * disk_budget), `retries_exhausted` (error: the job was given up after its worker died, or failed around the drill,
 * on every attempt); null for the others.
 */
export type FleetReason = 'duration' | 'disk' | 'retries_exhausted';

/** One database as the fleet file names it, for `registerDatabases`. */
export interface FleetDatabaseEntry {
  /** Stable key of the database in the fleet (unique). */
  readonly key: string;
  /** Its source URL or service name; redacted again before it is stored. */
  readonly source: string;
  readonly kind: FleetDrillKind;
  /** The schedule as written ("daily", "every 6h", a cron expression). */
  readonly schedule: string;
  /** The longest time between two scheduled drills, in ms (a cron expression: the longest gap between two firings). */
  readonly intervalMs: number;
  /** Higher drills first (default 0). */
  readonly priority?: number;
}

/** A registered database as stored. */
export interface RegisteredDatabase {
  readonly key: string;
  readonly source: string;
  readonly kind: FleetDrillKind;
  readonly schedule: string;
  readonly intervalMs: number;
  readonly priority: number;
  /** When a sync first registered it, or registered it again after its removal (ISO): a database never drilled is not overdue before this plus its interval. */
  readonly addedAt: string;
  /** When `fleet sync` last wrote it (ISO). */
  readonly syncedAt: string;
  /** When a sync found it gone from the fleet file (ISO), else null. Its results are kept. */
  readonly removedAt: string | null;
}

/** What a drill's report says, in brief (the `summary` column). */
export interface ResultSummary {
  /** Names of the checks that failed (at most 50). */
  readonly failed_checks: readonly string[];
  /** How many checks ended in each status. */
  readonly counts: { readonly pass: number; readonly fail: number; readonly warn: number; readonly skip: number };
  /** PostgreSQL versions: the source's, pg_dump's, the sandbox's (null when unknown). */
  readonly versions: { readonly source: string | null; readonly pg_dump: string | null; readonly sandbox: string | null };
  /** The dump's size in bytes, when known. */
  readonly size_bytes: number | null;
  /** True when a signal ended the drill. */
  readonly interrupted: boolean;
  /** For error and timeout: what happened (pgdrill's stderr line, URLs redacted; at most 2,000 characters). */
  readonly message: string | null;
}

/** One finished drill, for `recordResult`. */
export interface FleetResultInput {
  readonly databaseKey: string;
  /** The worker's name (e.g. host:pid, or its pod name). */
  readonly worker: string;
  /** The machine the drill ran on. */
  readonly host: string;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly verdict: FleetVerdict;
  /** Required for `stopped` (duration or disk); `retries_exhausted` only with `error`. Default null. */
  readonly reason?: FleetReason | null;
  /** The queue's job id of the drill, when it ran from the queue. */
  readonly jobId?: string | null;
  /** pgdrill's exit code; null when it was killed. */
  readonly exitCode: number | null;
  /** Default: finishedAt − startedAt. */
  readonly durationMs?: number;
  readonly summary?: Partial<ResultSummary>;
  /** Where report.json is on the worker's machine (or where workers publish reports), else null. */
  readonly reportPath?: string | null;
}

/** One recorded result. */
export interface FleetResult {
  readonly id: number;
  readonly databaseKey: string;
  readonly worker: string;
  readonly host: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly verdict: FleetVerdict;
  readonly reason: FleetReason | null;
  readonly jobId: string | null;
  readonly exitCode: number | null;
  readonly durationMs: number;
  readonly summary: ResultSummary;
  readonly reportPath: string | null;
}

/** A registered database with its newest result and its newest passing one. */
export interface LatestResult {
  readonly database: RegisteredDatabase;
  /** The newest result (by finished_at), null when it was never drilled. */
  readonly latest: FleetResult | null;
  /** The newest result whose verdict is pass, null when none. */
  readonly lastPass: FleetResult | null;
}

/** What `registerDatabases` changed. */
export interface RegisterResult {
  readonly added: readonly string[];
  readonly updated: readonly string[];
  /** Registered, not removed, and absent from the entries: marked removed (only with `prune`, the default). */
  readonly removed: readonly string[];
}

/** The results schema is missing, or newer than this pgdrill. */
export class ResultsSchemaError extends PgdrillError {
  override readonly exitCode = 4;
}

/** The DDL of each version, in order; version N is `MIGRATIONS[N - 1]`. Applied in one transaction under a lock. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE ${RESULTS_SCHEMA}.databases (
     key text PRIMARY KEY CHECK (key <> ''),
     source text NOT NULL,
     kind text NOT NULL CHECK (kind IN ('run', 'verify')),
     schedule text NOT NULL,
     interval_ms bigint NOT NULL CHECK (interval_ms > 0),
     priority integer NOT NULL DEFAULT 0,
     added_at timestamptz NOT NULL,
     synced_at timestamptz NOT NULL,
     removed_at timestamptz
   );
   CREATE TABLE ${RESULTS_SCHEMA}.results (
     id bigserial PRIMARY KEY,
     database_key text NOT NULL REFERENCES ${RESULTS_SCHEMA}.databases (key) ON UPDATE CASCADE,
     worker text NOT NULL,
     host text NOT NULL,
     started_at timestamptz NOT NULL,
     finished_at timestamptz NOT NULL,
     verdict text NOT NULL CHECK (verdict IN ('pass', 'fail', 'error', 'timeout')),
     exit_code integer,
     duration_ms bigint NOT NULL CHECK (duration_ms >= 0),
     summary jsonb NOT NULL DEFAULT '{}',
     report_path text
   );
   CREATE INDEX results_database_finished ON ${RESULTS_SCHEMA}.results (database_key, finished_at DESC);
   CREATE INDEX results_pass_finished ON ${RESULTS_SCHEMA}.results (database_key, finished_at DESC) WHERE verdict = 'pass';
   CREATE INDEX results_finished ON ${RESULTS_SCHEMA}.results (finished_at);`,
  // 2: a drill stopped for a budget is `stopped` with its reason (duration, disk), no longer a `timeout` whose message
  // alone told disk from time; a job given up after its retries is recorded (error, retries_exhausted), once per job.
  // `timeout` stays allowed: a worker still running the previous pgdrill during an upgrade writes it (read as stopped).
  `ALTER TABLE ${RESULTS_SCHEMA}.results DROP CONSTRAINT results_verdict_check;
   ALTER TABLE ${RESULTS_SCHEMA}.results ADD COLUMN reason text, ADD COLUMN job_id text;
   UPDATE ${RESULTS_SCHEMA}.results SET verdict = 'stopped',
     reason = CASE WHEN summary->>'message' LIKE 'exceeded disk_budget%' THEN 'disk' ELSE 'duration' END
   WHERE verdict = 'timeout';
   ALTER TABLE ${RESULTS_SCHEMA}.results
     ADD CONSTRAINT results_verdict_check CHECK (verdict IN ('pass', 'fail', 'error', 'stopped', 'timeout')),
     ADD CONSTRAINT results_reason_check CHECK (reason IS NULL
       OR (verdict = 'stopped' AND reason IN ('duration', 'disk'))
       OR (verdict = 'error' AND reason = 'retries_exhausted'));
   CREATE UNIQUE INDEX results_exhausted_job ON ${RESULTS_SCHEMA}.results (job_id) WHERE reason = 'retries_exhausted';`,
];

/** Serialises schema creation between workers and syncs that start at once (an arbitrary, fixed advisory lock key). */
const SCHEMA_LOCK_KEY = 0x70676466; // "pgdf"

/** Run `fn` in a transaction on `client`; rolled back when it throws. */
async function inTransaction<T>(client: ResultsClient, fn: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const out = await fn();
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

async function storedVersion(client: ResultsClient): Promise<number | null> {
  const exists = await client.query<{ t: string | null }>(`SELECT to_regclass('${RESULTS_SCHEMA}.schema_version')::text AS t`);
  if (!exists.rows[0]?.t) return null;
  const v = await client.query<{ version: number }>(`SELECT max(version)::int AS version FROM ${RESULTS_SCHEMA}.schema_version`);
  return v.rows[0]?.version ?? 0;
}

function newerSchema(version: number): ResultsSchemaError {
  return new ResultsSchemaError(
    `the coordination database's ${RESULTS_SCHEMA} schema is at version ${version}, newer than this pgdrill's (${RESULTS_SCHEMA_VERSION}): ` +
      'upgrade pgdrill on this machine (every worker and the machines that run fleet sync, status and report run the same version)',
  );
}

/**
 * Create the results schema, or bring it to this pgdrill's version: idempotent, safe when several workers start at
 * once (one transaction under an advisory lock). Needs CREATE on the database, or a `pgdrill_fleet` schema the role
 * owns already (docs/fleet.md). Returns the version now in place.
 * @param opts.version stop at this version (default: this pgdrill's): for tests of the migrations.
 * @throws ResultsSchemaError (exit 4) when the schema is newer than this pgdrill.
 */
export async function ensureResultsSchema(client: ResultsClient, opts: { readonly version?: number } = {}): Promise<number> {
  const target = Math.min(opts.version ?? RESULTS_SCHEMA_VERSION, RESULTS_SCHEMA_VERSION);
  return inTransaction(client, async () => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK_KEY]);
    // Not CREATE SCHEMA IF NOT EXISTS: it needs CREATE on the database even when the schema exists (a queue role
    // that owns a schema an administrator created has no CREATE on the database).
    const schema = await client.query<{ n: string | null }>('SELECT to_regnamespace($1)::text AS n', [RESULTS_SCHEMA]);
    if (!schema.rows[0]?.n) await client.query(`CREATE SCHEMA ${RESULTS_SCHEMA}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${RESULTS_SCHEMA}.schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const from = (await storedVersion(client)) ?? 0;
    if (from > RESULTS_SCHEMA_VERSION) throw newerSchema(from);
    for (let v = from + 1; v <= target; v++) {
      await client.query(MIGRATIONS[v - 1]!); // v - 1 < MIGRATIONS.length: RESULTS_SCHEMA_VERSION === MIGRATIONS.length
      await client.query(`INSERT INTO ${RESULTS_SCHEMA}.schema_version (version) VALUES ($1)`, [v]);
    }
    return Math.max(from, target);
  });
}

/**
 * For readers (status, report): the schema must exist at this pgdrill's version; nothing is created.
 * @throws ResultsSchemaError (exit 4) naming what to run when it is missing or newer.
 */
export async function requireResultsSchema(client: ResultsClient): Promise<void> {
  const v = await storedVersion(client);
  if (v === null || v === 0) {
    throw new ResultsSchemaError(
      `the coordination database has no ${RESULTS_SCHEMA} schema (or this role cannot see it): run \`pgdrill fleet sync --fleet fleet.yaml --queue URL\` first, ` +
        `and give this role USAGE on ${RESULTS_SCHEMA} and SELECT on its tables (docs/fleet.md)`,
    );
  }
  if (v > RESULTS_SCHEMA_VERSION) throw newerSchema(v);
}

/** A source as stored: URLs redacted (a password never reaches the coordination database). */
function redactSource(source: string): string {
  return /^postgres(?:ql)?:\/\//i.test(source) ? redactUrl(source) : redactUrlsIn(source);
}

/**
 * Register the fleet file's databases: insert new ones, update the others (source, kind, schedule, priority), clear
 * `removed_at` of those back in the file; with `prune` (default true) mark registered databases absent from
 * `entries` removed (their results are kept; status and report leave them out). One transaction.
 */
export async function registerDatabases(client: ResultsClient, entries: readonly FleetDatabaseEntry[], opts: { prune?: boolean; now?: Date } = {}): Promise<RegisterResult> {
  const keys = entries.map((e) => e.key);
  const dup = keys.find((k, i) => keys.indexOf(k) !== i);
  if (dup !== undefined) throw new PgdrillError(`registerDatabases: the key ${JSON.stringify(dup)} appears twice`);
  const now = opts.now ?? new Date();
  return inTransaction(client, async () => {
    const before = await client.query<{ key: string }>(`SELECT key FROM ${RESULTS_SCHEMA}.databases WHERE removed_at IS NULL`);
    const known = new Set((await client.query<{ key: string }>(`SELECT key FROM ${RESULTS_SCHEMA}.databases`)).rows.map((r) => r.key));
    for (const e of entries) {
      await client.query(
        `INSERT INTO ${RESULTS_SCHEMA}.databases AS d (key, source, kind, schedule, interval_ms, priority, added_at, synced_at, removed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, NULL)
         ON CONFLICT (key) DO UPDATE SET source = EXCLUDED.source,
           added_at = CASE WHEN d.removed_at IS NULL THEN d.added_at ELSE EXCLUDED.added_at END, kind = EXCLUDED.kind, schedule = EXCLUDED.schedule,
           interval_ms = EXCLUDED.interval_ms, priority = EXCLUDED.priority, synced_at = EXCLUDED.synced_at, removed_at = NULL`,
        [e.key, redactSource(e.source), e.kind, e.schedule, Math.round(e.intervalMs), e.priority ?? 0, now],
      );
    }
    const wanted = new Set(keys);
    const removed = opts.prune === false ? [] : before.rows.map((r) => r.key).filter((k) => !wanted.has(k));
    if (removed.length) await client.query(`UPDATE ${RESULTS_SCHEMA}.databases SET removed_at = $2 WHERE key = ANY($1)`, [removed, now]);
    return { added: keys.filter((k) => !known.has(k)), updated: keys.filter((k) => known.has(k)), removed };
  });
}

const EMPTY_SUMMARY: ResultSummary = {
  failed_checks: [], counts: { pass: 0, fail: 0, warn: 0, skip: 0 }, versions: { source: null, pg_dump: null, sandbox: null },
  size_bytes: null, interrupted: false, message: null,
};

/** A summary as stored: defaults filled in, bounded, URLs in the message redacted. */
function boundedSummary(s: Partial<ResultSummary> | undefined): ResultSummary {
  const m = s?.message;
  return {
    ...EMPTY_SUMMARY,
    ...s,
    failed_checks: (s?.failed_checks ?? []).slice(0, 50),
    message: m == null ? null : redactUrlsIn(m).slice(0, 2000),
  };
}

/** A stopped drill needs its reason; `retries_exhausted` belongs to an error with its job's id. */
function checkReason(r: FleetResultInput): void {
  const reason = r.reason ?? null;
  const ok = r.verdict === 'stopped' ? reason === 'duration' || reason === 'disk'
    : reason === null || (r.verdict === 'error' && reason === 'retries_exhausted' && !!r.jobId);
  if (!ok) throw new PgdrillError(`cannot record a ${r.verdict} result of ${JSON.stringify(r.databaseKey)} with reason ${JSON.stringify(reason)}: a stopped drill needs duration or disk, retries_exhausted an error with its job id`);
}

/**
 * Record one finished drill. The database must be registered (`registerDatabases`).
 * @throws PgdrillError naming the key when it is not registered, or when the reason does not fit the verdict
 *   (a job given up after its retries goes through `recordExhaustedJob`).
 */
export async function recordResult(client: ResultsClient, r: FleetResultInput): Promise<FleetResult> {
  if (r.reason === 'retries_exhausted') throw new PgdrillError('recordResult: a job given up after its retries is recorded by recordExhaustedJob');
  const row = await insertResult(client, r, '');
  return row!; // without ON CONFLICT, INSERT … RETURNING returns the one row inserted
}

/**
 * Record a drill job given up after its retries (verdict error, reason `retries_exhausted`), once per job id: when
 * it is recorded already (another worker's sweep), nothing is written and null returned.
 */
export async function recordExhaustedJob(client: ResultsClient, r: Omit<FleetResultInput, 'verdict' | 'reason' | 'jobId'> & { readonly jobId: string }): Promise<FleetResult | null> {
  return insertResult(client, { ...r, verdict: 'error', reason: 'retries_exhausted' }, `ON CONFLICT (job_id) WHERE reason = 'retries_exhausted' DO NOTHING`);
}

async function insertResult(client: ResultsClient, r: FleetResultInput, onConflict: string): Promise<FleetResult | null> {
  checkReason(r);
  const durationMs = r.durationMs ?? Math.max(0, r.finishedAt.getTime() - r.startedAt.getTime());
  try {
    const res = await client.query<ResultRow>(
      `INSERT INTO ${RESULTS_SCHEMA}.results (database_key, worker, host, started_at, finished_at, verdict, reason, job_id, exit_code, duration_ms, summary, report_path)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ${onConflict} RETURNING ${RESULT_COLUMNS}`,
      [r.databaseKey, r.worker, r.host, r.startedAt, r.finishedAt, r.verdict, r.reason ?? null, r.jobId ?? null, r.exitCode, Math.round(durationMs), JSON.stringify(boundedSummary(r.summary)), r.reportPath ?? null],
    );
    return res.rows[0] ? toResult(res.rows[0]) : null;
  } catch (err) {
    if ((err as { code?: string }).code === '23503') {
      throw new PgdrillError(`cannot record a result of ${JSON.stringify(r.databaseKey)}: no such database in ${RESULTS_SCHEMA}.databases (run fleet sync first)`, { cause: err });
    }
    throw err;
  }
}

const RESULT_COLUMNS = 'id, database_key, worker, host, started_at, finished_at, verdict, reason, job_id, exit_code, duration_ms, summary, report_path';

interface ResultRow {
  id: string;
  database_key: string;
  worker: string;
  host: string;
  started_at: Date;
  finished_at: Date;
  verdict: FleetVerdict | 'timeout';
  reason: FleetReason | null;
  job_id: string | null;
  exit_code: number | null;
  duration_ms: string;
  summary: Partial<ResultSummary> | null;
  report_path: string | null;
}

interface DatabaseRow {
  key: string;
  source: string;
  kind: FleetDrillKind;
  schedule: string;
  interval_ms: string;
  priority: number;
  added_at: Date;
  synced_at: Date;
  removed_at: Date | null;
}

/** The verdict and reason of a row; `timeout` (version 1, or a worker of it during an upgrade) reads as stopped. */
function verdictOfRow(r: ResultRow): { verdict: FleetVerdict; reason: FleetReason | null } {
  if (r.verdict !== 'timeout') return { verdict: r.verdict, reason: r.reason };
  return { verdict: 'stopped', reason: r.summary?.message?.startsWith('exceeded disk_budget') ? 'disk' : 'duration' };
}

function toResult(r: ResultRow): FleetResult {
  return {
    id: Number(r.id), databaseKey: r.database_key, worker: r.worker, host: r.host,
    startedAt: r.started_at.toISOString(), finishedAt: r.finished_at.toISOString(), ...verdictOfRow(r), jobId: r.job_id,
    exitCode: r.exit_code, durationMs: Number(r.duration_ms), summary: { ...EMPTY_SUMMARY, ...r.summary }, reportPath: r.report_path,
  };
}

function toDatabase(r: DatabaseRow): RegisteredDatabase {
  return {
    key: r.key, source: r.source, kind: r.kind, schedule: r.schedule, intervalMs: Number(r.interval_ms), priority: r.priority,
    addedAt: r.added_at.toISOString(), syncedAt: r.synced_at.toISOString(), removedAt: r.removed_at ? r.removed_at.toISOString() : null,
  };
}

/**
 * Every registered database (removed ones only with `includeRemoved`), ordered by key, with its newest result and
 * its newest passing result (three queries; DISTINCT ON reads each database's results through its index).
 */
export async function latestResults(client: ResultsClient, opts: { includeRemoved?: boolean } = {}): Promise<LatestResult[]> {
  const dbs = await client.query<DatabaseRow>(
    `SELECT * FROM ${RESULTS_SCHEMA}.databases WHERE $1 OR removed_at IS NULL ORDER BY key`, [opts.includeRemoved === true],
  );
  const newest = (where: string) => client.query<ResultRow>(
    `SELECT DISTINCT ON (database_key) ${RESULT_COLUMNS} FROM ${RESULTS_SCHEMA}.results ${where} ORDER BY database_key, finished_at DESC, id DESC`,
  );
  const byKey = (rows: readonly ResultRow[]) => new Map(rows.map((r) => [r.database_key, toResult(r)]));
  const latest = byKey((await newest('')).rows);
  const passes = byKey((await newest("WHERE verdict = 'pass'")).rows);
  return dbs.rows.map((d) => ({ database: toDatabase(d), latest: latest.get(d.key) ?? null, lastPass: passes.get(d.key) ?? null }));
}

/** Every result that finished at or after `since`, newest first (at most `limit`, default 10,000). */
export async function resultsSince(client: ResultsClient, since: Date, opts: { limit?: number } = {}): Promise<FleetResult[]> {
  const res = await client.query<ResultRow>(
    `SELECT ${RESULT_COLUMNS} FROM ${RESULTS_SCHEMA}.results WHERE finished_at >= $1 ORDER BY finished_at DESC, id DESC LIMIT $2`,
    [since, opts.limit ?? 10_000],
  );
  return res.rows.map(toResult);
}
