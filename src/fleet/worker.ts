/**
 * `pgdrill worker`: take drills from the fleet's queue and run them, `concurrency` at a time, until stopped.
 *
 * - At start it cleans this machine's leftovers of its dead predecessors (`pgdrill cleanup` on its own state and out
 *   directories: sandboxes whose pgdrill is gone, stale locks, partial dumps).
 * - Every tick it queues the drills that are due (fleet-table.ts; any worker may, one wins each row).
 * - While it drills, it renews the job's lease every third of it; a lease it lost (the worker was frozen longer
 *   than the lease, and another worker took the database) stops its drill and leaves the job to the other.
 * - A stop (SIGTERM, SIGINT) stops its drills — each tears its sandbox down — and hands their jobs back to the queue
 *   for another worker; the worker then exits.
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
import { DRILL_QUEUE, QUEUE_SCHEMA, openQueue, type DrillJobData, type Queue } from './queue.js';
import { enqueueDue, ensureFleetTables, fleetConcurrency } from './fleet-table.js';
import { jobConfigPath, runDrillChild, type DrillChildOptions } from './drill-child.js';
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

/** Extend a job's lease to `seconds` from now; false when it is no longer this worker's (expired, retried elsewhere). */
async function renewLease(q: Queue, jobId: string, seconds: number): Promise<boolean> {
  const r = await q.pool.query(
    `UPDATE ${QUEUE_SCHEMA}.job SET expire_in = (now() - started_on) + make_interval(secs => $3)
     WHERE name = $1 AND id = $2 AND state = 'active'`,
    [DRILL_QUEUE, jobId, seconds],
  );
  return (r.rowCount ?? 0) > 0;
}

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

/** Run one job: its drill in a child, the lease renewed meanwhile; then record and complete, or hand it back. */
async function runJob(c: Ctx, job: PgBoss.Job<DrillJobData>): Promise<void> {
  const { o, q, log } = c;
  const data = job.data;
  if (!(await hasRoom(o.outDir, data.diskBudgetBytes))) {
    log.warn(`${data.database}: less than its disk budget (${data.diskBudgetBytes} bytes) free in ${o.outDir}; handed back`);
    await q.boss.fail(DRILL_QUEUE, job.id, { handedBack: true, worker: c.worker, reason: 'disk budget' });
    c.handedBack++;
    return;
  }
  const lease = new AbortController();
  const renew = setInterval(() => {
    renewLease(q, job.id, data.leaseSeconds).then(
      (ok) => void (ok || lease.abort(new Error('lease lost'))),
      (err) => log.warn(`${data.database}: renewing the lease failed: ${describePgError(err)}`),
    );
  }, Math.max(1000, (data.leaseSeconds * 1000) / 3));
  const child: DrillChildOptions = { pgdrillBin: o.pgdrillBin, outDir: o.outDir, stateDir: o.stateDir, env: o.env ?? process.env, signal: AbortSignal.any([o.signal, lease.signal]) };
  log.info(`${data.database}: ${data.kind} started (job ${job.id})`);
  try {
    const outcome = await runDrillChild(data, jobConfigPath(o.stateDir, job.id), child);
    if (lease.signal.aborted) {
      log.warn(`${data.database}: the lease ran out (this worker was stalled) and another worker has the drill; this one is dropped`);
      return;
    }
    if (outcome.verdict === 'interrupted') {
      await q.boss.fail(DRILL_QUEUE, job.id, { handedBack: true, worker: c.worker, reason: 'worker stopping' });
      c.handedBack++;
      return;
    }
    const result = resultOf(job.id, c.worker, data, outcome);
    await recordFleetResult(q.pool, result, outcome);
    await q.boss.complete(DRILL_QUEUE, job.id, result);
    c.drills++;
    log.info(`${data.database}: ${outcome.verdict} (exit ${outcome.exitCode})`);
    o.onResult?.(result);
  } finally {
    clearInterval(renew);
  }
}

/** One slot: fetch a job, run it, again, until the worker stops. */
async function slot(c: Ctx): Promise<void> {
  while (!c.o.signal.aborted) {
    let jobs: PgBoss.Job<DrillJobData>[] = [];
    try {
      jobs = await c.q.boss.fetch<DrillJobData>(DRILL_QUEUE, { batchSize: 1 });
    } catch (err) {
      c.log.warn(`fetching a job failed: ${describePgError(err)}`);
    }
    const job = jobs[0];
    if (!job) {
      await sleep(c.o.pollMs ?? 2000, c.o.signal);
      continue;
    }
    try {
      await runJob(c, job);
    } catch (err) {
      c.log.error(`${job.data.database}: ${describePgError(err)}`);
      await c.q.boss.fail(DRILL_QUEUE, job.id, { worker: c.worker, error: describePgError(err) }).catch(() => {});
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
