/**
 * A worker's hold on a running drill job, written on pg-boss 10's job row (its internals: pg-boss is pinned exactly,
 * docs/fleet-queue.md). pg-boss keeps a job's id across retries, so an attempt is told by its `started_on` as well:
 * a worker frozen longer than its lease must not renew (or complete) the attempt another worker has since fetched.
 *
 * Retries are for drills that kill their worker (the same database again and again: an out-of-memory restore). A
 * hand-back is not one: the worker stops (SIGTERM), lacks the disk, or was frozen and lost its lease — the drill never
 * got its chance. pg-boss 10 counts an attempt when a job that was started before is fetched again (`retry_count + 1
 * WHERE started_on IS NOT NULL`); a hand-back clears `started_on`, so the next fetch does not count it.
 *
 * pg-boss keeps only the last attempt's start on the job, and its maintenance overwrites the output of a job whose
 * lease ran out. So each attempt is also written in the fleet's `fleet_attempt` table (who, where, when) and marked
 * when it ends in the worker's hands: an attempt still unmarked when its job fails is one whose worker died. That is
 * what a job given up after its retries is recorded with (exhausted-jobs.ts).
 */
import type pg from 'pg';
import { DRILL_QUEUE, QUEUE_SCHEMA } from './queue.js';

const JOB = `${QUEUE_SCHEMA}.job`;
/** The attempts of drill jobs: created by fleet-table.ts's ensureFleetTables. */
export const ATTEMPTS = `${QUEUE_SCHEMA}.fleet_attempt`;
/** node-postgres reads timestamps to the millisecond; the column holds microseconds. */
const SAME_ATTEMPT = `started_on >= $3::timestamptz AND started_on < $3::timestamptz + interval '1 ms'`;

/** One attempt at a job: its id and when this worker's fetch started it. */
export interface Attempt {
  readonly jobId: string;
  readonly startedOn: Date;
}

/** Extend the attempt's lease to `seconds` from now; false when it is no longer this worker's. */
export async function renewLease(db: pg.Pool, a: Attempt, seconds: number): Promise<boolean> {
  const r = await db.query(
    `UPDATE ${JOB} SET expire_in = (now() - started_on) + make_interval(secs => $4)
     WHERE name = $1 AND id = $2 AND state = 'active' AND ${SAME_ATTEMPT}`,
    [DRILL_QUEUE, a.jobId, a.startedOn, seconds],
  );
  return (r.rowCount ?? 0) > 0;
}

/**
 * Give the attempt back to the queue, for any worker after `delaySeconds`, without counting it as a retry.
 * @returns false when it was not this worker's any more (its lease had run out).
 */
export async function handBack(db: pg.Pool, a: Attempt, output: object, delaySeconds = 5): Promise<boolean> {
  const r = await db.query(
    `UPDATE ${JOB} SET state = 'retry', started_on = NULL, start_after = now() + make_interval(secs => $4), output = $5::jsonb
     WHERE name = $1 AND id = $2 AND state = 'active' AND ${SAME_ATTEMPT}`,
    [DRILL_QUEUE, a.jobId, a.startedOn, delaySeconds, JSON.stringify(output)],
  );
  return (r.rowCount ?? 0) > 0;
}

/**
 * The attempt's lease ran out while this worker was alive (frozen), and pg-boss's maintenance took it as a death:
 * undo the retry that counts. Waiting for its next fetch, the job forgets it was started; already fetched again by
 * another worker, its count goes back down. A job the lost lease failed for good stays failed.
 */
export async function refundLostLease(db: pg.Pool, a: Attempt): Promise<void> {
  await db.query(
    `UPDATE ${JOB} SET
       started_on = CASE WHEN state = 'retry' THEN NULL ELSE started_on END,
       retry_count = CASE WHEN state = 'retry' THEN retry_count ELSE greatest(retry_count - 1, 0) END
     WHERE name = $1 AND id = $2
       AND ((state = 'retry' AND ${SAME_ATTEMPT}) OR (state = 'active' AND started_on >= $3::timestamptz + interval '1 ms'))`,
    [DRILL_QUEUE, a.jobId, a.startedOn],
  );
}

/** Complete the attempt with its result; false when it was not this worker's any more. */
export async function completeAttempt(db: pg.Pool, a: Attempt, output: object): Promise<boolean> {
  const r = await db.query(
    `UPDATE ${JOB} SET state = 'completed', completed_on = now(), output = $4::jsonb
     WHERE name = $1 AND id = $2 AND state = 'active' AND ${SAME_ATTEMPT}`,
    [DRILL_QUEUE, a.jobId, a.startedOn, JSON.stringify(output)],
  );
  return (r.rowCount ?? 0) > 0;
}

/** How an attempt ended in its worker's hands; an attempt with none when its job failed was its worker's death. */
export type AttemptEnd = 'completed' | 'handed_back' | 'dropped' | 'error';

/** Write down that `worker` (host:pid) on `host` started the attempt at `database`'s drill. */
export async function beginAttempt(db: pg.Pool, a: Attempt, database: string, worker: string, host: string): Promise<void> {
  await db.query(
    `INSERT INTO ${ATTEMPTS} (job_id, started_on, database, worker, host) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
    [a.jobId, a.startedOn, database, worker, host],
  );
}

/**
 * Write down how the attempt ended (`detail`: the error, for `error`). A completed job's attempts are of no further
 * use: they go.
 */
export async function endAttempt(db: pg.Pool, a: Attempt, end: AttemptEnd, detail: string | null = null): Promise<void> {
  if (end === 'completed') {
    await db.query(`DELETE FROM ${ATTEMPTS} WHERE job_id = $1`, [a.jobId]);
    return;
  }
  await db.query(
    `UPDATE ${ATTEMPTS} SET ended = $3, detail = $4 WHERE job_id = $1 AND started_on >= $2::timestamptz AND started_on < $2::timestamptz + interval '1 ms'`,
    [a.jobId, a.startedOn, end, detail],
  );
}
