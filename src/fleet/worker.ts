/**
 * `pgdrill worker`: take drills from the fleet's queue and run them, `concurrency` at a time, until stopped.
 *
 * - At start it cleans this machine's leftovers of its dead predecessors (`pgdrill cleanup` on its own state and out
 *   directories: sandboxes whose pgdrill is gone, stale locks, partial dumps).
 * - Every tick it queues the drills that are due (fleet-table.ts; any worker may, one wins each row).
 * - While it drills, it renews the job's lease every third of it; a lease it lost (the worker was frozen longer
 *   than the lease, and another worker took the database) stops its drill and leaves the job to the other.
 * - A stop (SIGTERM, SIGINT) stops its drills — each tears its sandbox down — and hands their jobs back to the queue
 *   for another worker; the worker then exits. A hand-back (a stop, too little disk, a lost lease) counts no retry:
 *   retries are for drills whose worker died (lease.ts).
 * - A drill over its max_duration or disk_budget is stopped and recorded as `stopped` with its reason and cause
 *   (drill-child.ts).
 * - Every tick it also records the jobs given up after their retries (their worker died each time), with each
 *   attempt's worker, host and start (exhausted-jobs.ts): `fleet status` shows them at once, not a period later.
 * - It tells `onJob` when each job starts and ends: the CLI prints one line for each.
 */
import { statfs, mkdir, readdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { acquireLockFile } from '../exec/lock-file.js';
import type PgBoss from 'pg-boss';
import type pg from 'pg';
import { cleanupOrphans } from '../sandbox/orphans.js';
import { ensureStateDir } from '../sandbox/state-dir.js';
import { silentLogger, type Logger } from '../logger.js';
import { describePgError, GuardError } from '../errors.js';
import { DRILL_QUEUE, openQueue, type DrillJobData, type Queue } from './queue.js';
import { enqueueDue, ensureFleetTables, fleetConcurrency } from './fleet-table.js';
import { jobConfigPath, runDrillChild, type DrillChildOptions, type DrillOutcome } from './drill-child.js';
import { beginAttempt, completeAttempt, endAttempt, handBack, refundLostLease, renewLease, type Attempt } from './lease.js';
import { recordExhaustedJobs } from './exhausted-jobs.js';
import { recordFleetResult, resultOf, type FleetDrillResult } from './record-result.js';
import { ensureResultsSchema } from './results-store.js';

/** Options of runWorker. */
export interface WorkerOptions {
  /** libpq URL of the coordination database, without a password. */
  readonly queueUrl: string;
  /** This worker's out directory (run directories); its own, not shared with another worker. */
  readonly outDir: string;
  /** This worker's state directory (sandbox records); default PGDRILL_STATE_DIR or pgdrill's default. */
  readonly stateDir: string;
  /** Drills at once; default: the fleet file's limits.concurrency, else 1. */
  readonly concurrency?: number;
  /** The pgdrill CLI script the drills run (dist/pgdrill.mjs). */
  readonly pgdrillBin: string;
  /** The environment drills inherit (PG*, HOME, PGDRILL_*: drill-child.ts). Default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Aborting stops the worker: running drills are stopped and handed back. */
  readonly signal: AbortSignal;
  readonly logger?: Logger;
  /** How often an idle slot asks for a job, ms; default 2000. */
  readonly pollMs?: number;
  /** How often due drills are queued, ms; default 30000. */
  readonly tickMs?: number;
  /** How often pg-boss's maintenance expires lost leases, s; default 30. */
  readonly maintenanceSeconds?: number;
  /** Called after each drill with its recorded result. */
  readonly onResult?: (r: FleetDrillResult) => void;
  /** Called when a job starts and when it ends, however it ends: the worker's log of its jobs (one line each). */
  readonly onJob?: (e: WorkerJobEvent) => void;
  /** How often a drill's disk use is measured against its disk_budget, ms; default 5000. */
  readonly diskPollMs?: number;
}

/** A job's start or end on this worker. */
export interface WorkerJobEvent {
  readonly event: 'start' | 'end';
  readonly database: string;
  readonly jobId: string;
  readonly kind: DrillJobData['kind'];
  /** host:pid */
  readonly worker: string;
  /**
   * end only: the drill's verdict (PASS, FAIL, error, stopped); `handed_back` (the worker stops, or lacks the disk:
   * another worker takes it, no retry counted); `dropped` (this worker lost its lease: another has the drill).
   */
  readonly verdict?: DrillOutcome['verdict'] | 'handed_back' | 'dropped';
  readonly exitCode?: number | null;
  readonly durationMs?: number;
  /** end: why it was stopped or handed back ("exceeded max_duration 2 h 0 min", "worker stopping"). */
  readonly cause?: string | null;
  /** end: the drill's run directory (report.json), when it wrote one. */
  readonly runDir?: string | null;
}

/** What a worker did before it stopped. */
export interface WorkerSummary {
  readonly worker: string;
  readonly drills: number;
  readonly handedBack: number;
  readonly cleanup: { readonly removed: number; readonly failed: number; readonly refused: number };
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((r) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      r();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/** Run `fn` on a client of the queue's pool. */
async function withClient<T>(q: Queue, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await q.pool.connect();
  try {
    return await fn(c);
  } finally {
    c.release();
  }
}

/** Whether `dir`'s file system has `bytes` free for this user. */
async function hasRoom(dir: string, bytes: number | undefined): Promise<boolean> {
  if (!bytes) return true;
  const s = await statfs(dir);
  return s.bavail * s.bsize >= bytes;
}

interface Ctx { readonly o: WorkerOptions; readonly q: Queue; readonly worker: string; readonly log: Logger; drills: number; handedBack: number }

type Job = PgBoss.JobWithMetadata<DrillJobData>;

/** Tell onJob that `job` ended. */
function ended(c: Ctx, job: Job, at: number, e: Pick<WorkerJobEvent, 'verdict' | 'exitCode' | 'cause' | 'runDir'>): void {
  c.o.onJob?.({ event: 'end', database: job.data.database, jobId: job.id, kind: job.data.kind, worker: c.worker, durationMs: Date.now() - at, ...e });
}

/** Give the job back to the queue for another worker; no retry is counted (lease.ts). */
async function giveBack(c: Ctx, job: Job, attempt: Attempt, at: number, cause: string): Promise<void> {
  await handBack(c.q.pool, attempt, { handedBack: true, worker: c.worker, reason: cause });
  await endAttempt(c.q.pool, attempt, 'handed_back');
  c.handedBack++;
  ended(c, job, at, { verdict: 'handed_back', cause });
}

/** Renew the attempt's lease every third of it; the controller aborts once it is lost. */
function keepLease(c: Ctx, job: Job, attempt: Attempt): { lease: AbortController; timer: NodeJS.Timeout } {
  const lease = new AbortController();
  const seconds = job.data.leaseSeconds;
  const timer = setInterval(() => {
    renewLease(c.q.pool, attempt, seconds).then(
      (ok) => void (ok || lease.abort(new Error('lease lost'))),
      (err) => c.log.warn(`${job.data.database}: renewing the lease failed: ${describePgError(err)}`),
    );
  }, Math.max(1000, (seconds * 1000) / 3));
  return { lease, timer };
}

/** The lease was lost while this worker lived: another worker has the drill; this one is dropped, its retry given back. */
async function dropLost(c: Ctx, job: Job, attempt: Attempt, at: number): Promise<void> {
  c.log.warn(`${job.data.database}: the lease ran out (this worker was stalled) and another worker has the drill; this one is dropped`);
  await refundLostLease(c.q.pool, attempt);
  await endAttempt(c.q.pool, attempt, 'dropped');
  ended(c, job, at, { verdict: 'dropped', cause: 'lease lost' });
}

/** Run one job: its drill in a child, the lease renewed meanwhile; then record and complete, or hand it back. */
async function runJob(c: Ctx, job: Job): Promise<void> {
  const { o, q } = c;
  const data = job.data;
  const at = Date.now();
  const attempt: Attempt = { jobId: job.id, startedOn: job.startedOn };
  c.o.onJob?.({ event: 'start', database: data.database, jobId: job.id, kind: data.kind, worker: c.worker });
  await beginAttempt(q.pool, attempt, data.database, c.worker, hostname());
  if (!(await hasRoom(o.outDir, data.diskBudgetBytes))) {
    return giveBack(c, job, attempt, at, `less than its disk budget (${data.diskBudgetBytes} bytes) free in ${o.outDir}`);
  }
  const { lease, timer } = keepLease(c, job, attempt);
  const child: DrillChildOptions = { pgdrillBin: o.pgdrillBin, outDir: o.outDir, stateDir: o.stateDir, env: o.env ?? process.env, signal: AbortSignal.any([o.signal, lease.signal]), diskPollMs: o.diskPollMs };
  try {
    const outcome = await runDrillChild(data, jobConfigPath(o.stateDir, job.id), child);
    if (lease.signal.aborted) return dropLost(c, job, attempt, at);
    if (outcome.verdict === 'interrupted') return giveBack(c, job, attempt, at, 'worker stopping');
    const result = resultOf(job.id, c.worker, data, outcome);
    // Recorded only while the attempt is still this worker's: one lost since the last renewal is dropped.
    if (!(await renewLease(q.pool, attempt, data.leaseSeconds))) return dropLost(c, job, attempt, at);
    await recordFleetResult(q.pool, result, outcome);
    await completeAttempt(q.pool, attempt, result);
    await endAttempt(q.pool, attempt, 'completed');
    c.drills++;
    ended(c, job, at, { verdict: outcome.verdict, exitCode: outcome.exitCode, cause: outcome.cause ?? result.error, runDir: result.runDir });
    o.onResult?.(result);
  } finally {
    clearInterval(timer);
  }
}

/** One slot: fetch a job, run it, again, until the worker stops. */
async function slot(c: Ctx): Promise<void> {
  while (!c.o.signal.aborted) {
    let jobs: Job[] = [];
    try {
      jobs = await c.q.boss.fetch<DrillJobData>(DRILL_QUEUE, { batchSize: 1, includeMetadata: true });
    } catch (err) {
      c.log.warn(`fetching a job failed: ${describePgError(err)}`);
    }
    const job = jobs[0];
    if (!job) {
      await sleep(c.o.pollMs ?? 2000, c.o.signal);
      continue;
    }
    const at = Date.now();
    try {
      await runJob(c, job);
    } catch (err) {
      // pgdrill's own failure around the drill (the coordination database went away): a retry is counted.
      c.log.error(`${job.data.database}: ${describePgError(err)}`);
      await endAttempt(c.q.pool, { jobId: job.id, startedOn: job.startedOn }, 'error', describePgError(err)).catch(() => {});
      await c.q.boss.fail(DRILL_QUEUE, job.id, { worker: c.worker, error: describePgError(err) }).catch(() => {});
      ended(c, job, at, { verdict: 'error', cause: describePgError(err) });
    }
  }
}

/** Queue what is due now and every `tickMs`, until the worker stops. */
async function ticker(c: Ctx): Promise<void> {
  while (!c.o.signal.aborted) {
    try {
      const queued = await enqueueDue(c.q);
      if (queued.length) c.log.info(`queued ${queued.length} due drill(s)`);
    } catch (err) {
      c.log.warn(`queueing due drills failed: ${describePgError(err)}`);
    }
    try {
      for (const r of await recordExhaustedJobs(c.q.pool)) c.log.warn(`${r.databaseKey}: recorded as error: ${r.summary.message ?? 'given up after its retries'}`);
    } catch (err) {
      c.log.warn(`recording the jobs given up after their retries failed: ${describePgError(err)}`);
    }
    await sleep(c.o.tickMs ?? 30_000, c.o.signal);
  }
}

/** The drill configs a dead predecessor wrote (this worker holds the state directory's lock: none is live). */
async function removeStaleJobFiles(stateDir: string, log: Logger): Promise<void> {
  for (const f of await readdir(stateDir)) {
    if (!/^fleet-job-[A-Za-z0-9-]+\.json$/.test(f)) continue;
    await rm(join(stateDir, f), { force: true });
    log.info(`cleanup: removed ${join(stateDir, f)}, the drill config of a dead worker's job`);
  }
}

/**
 * Run a worker until `signal` is aborted.
 * @throws ConfigError (exit 2) for a queue URL with a password; GuardError (exit 3) when another live worker uses
 *   the state directory; EnvironmentError (exit 4) when the coordination database cannot be reached, or the state
 *   directory is not private.
 */
export async function runWorker(o: WorkerOptions): Promise<WorkerSummary> {
  const log = o.logger ?? silentLogger;
  const outDir = resolve(o.outDir);
  await mkdir(outDir, { recursive: true });
  const stateDir = await ensureStateDir(resolve(o.stateDir));
  await using _lock = await acquireLockFile(join(stateDir, 'fleet-worker.lock'), {
    busy: (h, path) => new GuardError(`another worker (pid ${h.pid}) uses the state directory ${stateDir} (${path}): give each worker its own --state-dir and --out`, 'worker-state-dir'),
  });
  const cleaned = await cleanupOrphans({ outDirs: [outDir], stateDir });
  await removeStaleJobFiles(stateDir, log);
  for (const i of cleaned.items.filter((x) => x.action !== 'skipped')) log.info(`cleanup: ${i.action} ${i.kind} ${i.path}: ${i.reason}`);
  await using q = await openQueue(o.queueUrl, { supervise: true, maintenanceSeconds: o.maintenanceSeconds, onError: (m) => log.warn(`queue: ${m}`) });
  await ensureFleetTables(q.pool);
  await withClient(q, ensureResultsSchema);
  const concurrency = o.concurrency ?? (await fleetConcurrency(q.pool)) ?? 1;
  const worker = `${hostname()}:${process.pid}`;
  const c: Ctx = { o: { ...o, outDir, stateDir }, q, worker, log, drills: 0, handedBack: 0 };
  log.info(`worker ${worker}: ${concurrency} slot(s), out ${outDir}, state ${stateDir}`);
  await Promise.all([ticker(c), ...Array.from({ length: concurrency }, () => slot(c))]);
  return { worker, drills: c.drills, handedBack: c.handedBack, cleanup: { removed: cleaned.removed, failed: cleaned.failed, refused: cleaned.refused } };
}
