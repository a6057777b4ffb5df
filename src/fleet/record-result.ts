/**
 * Where a worker records each drill's outcome in the coordination database. The results store (its tables, `fleet
 * status`, the dashboard) is src/fleet/results-store.ts; this is the one call the worker makes into it.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { ReportSchema } from '../report/model.js';
import { recordResult } from './results-store.js';
import { summarizeReport, verdictOf } from './result-summary.js';
import type { DrillOutcome } from './drill-child.js';
import type { DrillJobData } from './queue.js';

/** One drill's outcome as the fleet records it: a summary and a pointer to the full report on its worker. */
export interface FleetDrillResult {
  readonly database: string;
  readonly jobId: string;
  /** host:pid of the worker that ran it. */
  readonly worker: string;
  readonly kind: DrillJobData['kind'];
  readonly verdict: DrillOutcome['verdict'];
  /** stopped: the budget it overran (duration, disk); null otherwise. */
  readonly stopReason: DrillOutcome['stopReason'];
  readonly exitCode: number | null;
  /** The period it drilled (when it was due). */
  readonly due: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  /** The run directory on the worker's host (report.json, report.md, run.log), when the drill wrote one. */
  readonly runDir: string | null;
  /** The report's summary: status, failed checks; null without a report. */
  readonly report: { readonly status: string; readonly failed: readonly string[]; readonly duration_ms: number | null } | null;
  /** Why a drill without a report ended (stderr's last lines, secrets redacted by pgdrill itself). */
  readonly error: string | null;
  /** Why the worker stopped it ("exceeded max_duration 2 min 0 s", "exceeded disk_budget …"); null when it did not. */
  readonly cause: string | null;
}

/** The summary and pointer of an outcome. */
export function resultOf(jobId: string, worker: string, job: DrillJobData, o: DrillOutcome): FleetDrillResult {
  const run = o.report?.run as { dir?: unknown; duration_ms?: unknown } | undefined;
  const checks = Array.isArray(o.report?.checks) ? (o.report.checks as { name?: unknown; status?: unknown }[]) : [];
  return {
    database: job.database, jobId, worker, kind: job.kind, verdict: o.verdict, stopReason: o.stopReason, exitCode: o.exitCode, due: job.due,
    startedAt: o.startedAt, finishedAt: o.finishedAt,
    runDir: o.runDir,
    report: o.report
      ? {
          status: String(o.report.status),
          failed: checks.filter((c) => c.status === 'fail').map((c) => String(c.name)),
          duration_ms: typeof run?.duration_ms === 'number' ? run.duration_ms : null,
        }
      : null,
    error: o.report ? null : o.stderrTail.trim().split('\n').slice(-5).join('\n') || `exit ${o.exitCode ?? 'by signal'}`,
    cause: o.cause,
  };
}

/** The drill's result in the fleet's results store (its report summarised, a pointer to its report.json). */
export async function recordFleetResult(pool: pg.Pool, result: FleetDrillResult, outcome: DrillOutcome): Promise<void> {
  const parsed = outcome.report ? ReportSchema.safeParse(outcome.report) : null;
  const report = parsed?.success ? parsed.data : null;
  const summary = report ? summarizeReport(report) : {};
  const client = await pool.connect();
  try {
    await recordResult(client, {
      databaseKey: result.database, worker: result.worker, host: hostname(),
      startedAt: new Date(result.startedAt), finishedAt: new Date(result.finishedAt),
      verdict: verdictOf(outcome.exitCode, report, outcome.verdict === 'stopped'),
      reason: outcome.verdict === 'stopped' ? outcome.stopReason : null,
      jobId: result.jobId,
      exitCode: result.exitCode,
      // A stopped drill's cause comes first: its stderr only says it was interrupted.
      summary: { ...summary, message: outcome.cause ?? result.error },
      reportPath: result.runDir ? join(result.runDir, 'report.json') : null,
    });
  } finally {
    client.release();
  }
}
