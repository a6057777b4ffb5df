/** A drill's report in brief, as the fleet's results store keeps it (src/fleet/results-store.ts). */
import type { Report } from '../report/model.js';
import type { FleetVerdict, ResultSummary } from './results-store.js';

/** The summary of a report.json: failed checks, counts per status, versions, the dump's size. */
export function summarizeReport(report: Report): ResultSummary {
  const counts = { pass: 0, fail: 0, warn: 0, skip: 0 };
  for (const c of report.checks) counts[c.status]++;
  return {
    failed_checks: report.checks.filter((c) => c.status === 'fail').map((c) => c.name).slice(0, 50),
    counts,
    versions: { source: report.versions?.source ?? report.source.server_version ?? null, pg_dump: report.versions?.pg_dump ?? null, sandbox: report.versions?.sandbox ?? null },
    size_bytes: report.backup.size_bytes,
    interrupted: report.interrupted,
    message: null,
  };
}

/**
 * The verdict of a finished `pgdrill run|verify` child: its report's when it wrote one and exited 0 or 1; `stopped`
 * when the worker stopped it for overrunning a budget; `error` otherwise (exit 2 config, 3 guard, 4 environment,
 * 70 bug, or killed).
 */
export function verdictOf(exitCode: number | null, report: Report | null, stopped: boolean): FleetVerdict {
  if (stopped) return 'stopped';
  if (report && (exitCode === 0 || exitCode === 1)) return report.status === 'PASS' ? 'pass' : 'fail';
  return 'error';
}
