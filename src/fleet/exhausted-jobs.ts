/**
 * Drill jobs given up after their retries, recorded as results. A job is retried when its worker dies mid-drill (its
 * lease runs out and pg-boss's maintenance counts a retry) or when pgdrill fails around the drill; past
 * DRILL_RETRY_LIMIT retries pg-boss fails it for good — in its maintenance or in `fail`, where no pgdrill code
 * follows. Without this the database would only show up as stale a period later, with no word of why.
 *
 * So every worker, on each tick, sweeps the queue for failed drill jobs not yet recorded, and records each once
 * (verdict error, reason `retries_exhausted`) with its attempts from the fleet's attempt table (lease.ts): which worker
 * on which host started each, and which of them died. Sweeps of several workers at once record a job once: its row
 * is locked (SKIP LOCKED) and the results store keeps one such result per job id.
 */
import { hostname } from 'node:os';
import type pg from 'pg';
import { DRILL_QUEUE, QUEUE_SCHEMA } from './queue.js';
import { ATTEMPTS } from './lease.js';
import { RESULTS_SCHEMA, recordExhaustedJob, type FleetResult } from './results-store.js';

/** One attempt at a job, as the attempt table keeps it. */
export interface JobAttempt {
  readonly worker: string;
  readonly host: string;
  readonly startedOn: Date;
  /** How it ended in its worker's hands; null: its worker died (the lease ran out). */
  readonly ended: string | null;
  readonly detail: string | null;
}

/** A failed drill job, as the sweep reads it. */
export interface ExhaustedJob {
  readonly id: string;
  readonly database: string;
  /** Retries pg-boss counted (a hand-back counts none). */
  readonly retryCount: number;
  /** When its last attempt started (pg-boss keeps only that one). */
  readonly startedOn: Date | null;
  readonly createdOn: Date;
  /** When pg-boss failed it. */
  readonly failedOn: Date;
  /** pg-boss's output of the last failure (its own "job failed by timeout" message, or the worker's error). */
  readonly output: { readonly worker?: unknown; readonly error?: unknown } | null;
}

const iso = (d: Date) => d.toISOString().replace(/\.\d+Z$/, 'Z');

/**
 * The one line a DBA reads: how many times the drill's worker died, and each attempt's worker, host and start.
 * Pure. A job whose attempts were not written (a worker of an older pgdrill ran them) is told from pg-boss's counts.
 */
export function exhaustedMessage(job: ExhaustedJob, attempts: readonly JobAttempt[]): string {
  const died = attempts.filter((a) => a.ended === null);
  const errors = attempts.filter((a) => a.ended === 'error');
  if (!died.length && !errors.length) {
    const n = job.retryCount + 1;
    const last = job.startedOn ? `; the last started ${iso(job.startedOn)}` : '';
    const lastError = typeof job.output?.error === 'string' ? `; the last failed: ${job.output.error}` : '';
    return `given up after ${n} attempt${n === 1 ? '' : 's'}: the drill's worker died or failed each time (its attempts were not recorded)${last}${lastError}`;
  }
  const parts: string[] = [];
  if (died.length) {
    parts.push(`the drill's worker died ${died.length} time${died.length === 1 ? '' : 's'} (its lease ran out): ${died.map((a) => `${a.worker} on ${a.host}, started ${iso(a.startedOn)}`).join('; ')}`);
  }
  if (errors.length) {
    parts.push(`pgdrill failed around the drill ${errors.length} time${errors.length === 1 ? '' : 's'}: ${errors.map((a) => `${a.worker} on ${a.host}, started ${iso(a.startedOn)}: ${a.detail ?? 'error'}`).join('; ')}`);
  }
  // pg-boss counted retry_count + 1 attempts; an attempt whose worker could not write it down is counted, not listed.
  const n = Math.max(job.retryCount + 1, attempts.length);
  return `given up after ${n} attempt${n === 1 ? '' : 's'}: ${parts.join('; and ')}`;
}

interface JobRow {
  id: string;
  database: string;
  retry_count: number;
  started_on: Date | null;
  created_on: Date;
  completed_on: Date | null;
  output: ExhaustedJob['output'];
}

/**
 * Record every failed drill job not recorded yet (at most `limit` per call, default 100), in one transaction.
 * A job whose last attempt recorded a result (pgdrill failed after recording it) is not recorded again; a job of a
 * database no longer registered in the results store is left alone.
 * @returns the results recorded.
 */
export async function recordExhaustedJobs(pool: pg.Pool, limit = 100): Promise<FleetResult[]> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<JobRow>(
      `SELECT j.id::text AS id, j.singleton_key AS database, j.retry_count, j.started_on, j.created_on, j.completed_on, j.output
       FROM ${QUEUE_SCHEMA}.job j
       WHERE j.name = $1 AND j.state = 'failed'
         AND EXISTS (SELECT 1 FROM ${RESULTS_SCHEMA}.databases d WHERE d.key = j.singleton_key)
         AND NOT EXISTS (SELECT 1 FROM ${RESULTS_SCHEMA}.results r WHERE r.job_id = j.id::text
                         AND (r.reason = 'retries_exhausted' OR r.started_at >= j.started_on))
       ORDER BY j.completed_on
       LIMIT $2
       FOR UPDATE OF j SKIP LOCKED`,
      [DRILL_QUEUE, limit],
    );
    const recorded: FleetResult[] = [];
    for (const r of rows) {
      const job: ExhaustedJob = {
        id: r.id, database: r.database, retryCount: r.retry_count, startedOn: r.started_on, createdOn: r.created_on,
        failedOn: r.completed_on ?? new Date(), output: r.output,
      };
      const attempts = (await client.query<{ worker: string; host: string; started_on: Date; ended: string | null; detail: string | null }>(
        `SELECT worker, host, started_on, ended, detail FROM ${ATTEMPTS} WHERE job_id = $1 AND ended IS DISTINCT FROM 'handed_back' AND ended IS DISTINCT FROM 'dropped' ORDER BY started_on`,
        [r.id],
      )).rows.map((a): JobAttempt => ({ worker: a.worker, host: a.host, startedOn: a.started_on, ended: a.ended, detail: a.detail }));
      const last = attempts.at(-1);
      const fallbackWorker = typeof r.output?.worker === 'string' ? r.output.worker : 'unknown';
      const result = await recordExhaustedJob(client, {
        databaseKey: job.database, jobId: job.id,
        worker: last?.worker ?? fallbackWorker, host: last?.host ?? (fallbackWorker.split(':')[0] || hostname()),
        startedAt: attempts[0]?.startedOn ?? job.startedOn ?? job.createdOn, finishedAt: job.failedOn,
        exitCode: null, summary: { message: exhaustedMessage(job, attempts) }, reportPath: null,
      });
      if (result) recorded.push(result);
      await client.query(`DELETE FROM ${ATTEMPTS} WHERE job_id = $1`, [r.id]);
    }
    // Attempts of jobs that are gone (archived) or ended otherwise: kept only while they can still matter.
    await client.query(
      `DELETE FROM ${ATTEMPTS} a WHERE NOT EXISTS (SELECT 1 FROM ${QUEUE_SCHEMA}.job j WHERE j.id = a.job_id AND j.state IN ('created', 'retry', 'active', 'failed'))`,
    );
    await client.query('COMMIT');
    return recorded;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
