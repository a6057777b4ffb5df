/**
 * What `pgdrill worker` writes on stderr: one line when each job starts and one when it ends, always (an operator
 * follows a worker with `journalctl -u pgdrill-worker` or `kubectl logs`), plus pgdrill's warnings and errors. With
 * `--log-format json` every line is one JSON object (`time`, `level`, `event` or `message`) for a log shipper.
 */
import { formatDuration } from '../config/duration.js';
import type { WorkerJobEvent } from '../fleet/worker.js';
import type { Logger } from '../logger.js';
import { showBytes } from '../pg/server-bytes.js';

/** `--log-format`. */
export type WorkerLogFormat = 'text' | 'json';

/** A job's line in the text format: `<time> <database>: run started (job <id>)`, `<time> <database>: PASS after 12.3 s (…)`. */
export function jobEventText(e: WorkerJobEvent, at = new Date()): string {
  const head = `${at.toISOString()} ${e.database}:`;
  if (e.event === 'start') return `${head} ${e.kind} started (job ${e.jobId})`;
  const exit = e.exitCode === undefined ? '' : `, exit ${e.exitCode ?? 'by signal'}`;
  const cause = e.cause ? `: ${e.cause.split('\n')[0]}` : '';
  const report = e.runDir ? `; report in ${e.runDir}` : '';
  return `${head} ${e.verdict} after ${formatDuration(e.durationMs ?? 0)} (job ${e.jobId}${exit})${cause}${report}`;
}

/** A job's line in the JSON format. */
export function jobEventJson(e: WorkerJobEvent, at = new Date()): string {
  const { event, ...fields } = e;
  return JSON.stringify({ time: at.toISOString(), level: 'info', event: `job_${event}`, ...fields });
}

/** The worker's job lines and logger for `format`; `base` is the CLI's logger (info and debug only with PGDRILL_DEBUG). */
export function workerLog(format: WorkerLogFormat, base: Logger, write: (line: string) => void): { onJob: (e: WorkerJobEvent) => void; logger: Logger } {
  if (format === 'text') return { onJob: (e) => write(jobEventText(e)), logger: base };
  const json = (level: string) => (m: string) => write(JSON.stringify({ time: new Date().toISOString(), level, message: showBytes(m) }));
  const debugging = Boolean(process.env.PGDRILL_DEBUG);
  return {
    onJob: (e) => write(jobEventJson(e)),
    logger: { debug: debugging ? json('debug') : () => {}, info: debugging ? json('info') : () => {}, warn: json('warn'), error: json('error') },
  };
}
