/** `pgdrill fleet status`: every database of the fleet, when it was last verified, its verdict and its lag; exit 1 when any is not OK. */
import { terminalText } from '../../terminal-text.js';
import { Command } from 'commander';
import { parseDuration } from '../../config/duration.js';
import { ConfigError } from '../../errors.js';
import { openCoordination, queueUrl } from '../../fleet/coordination.js';
import { fleetStatus, type FleetStatus } from '../../fleet/fleet-status.js';
import { formatAge } from '../../history/freshness.js';
import type { CliContext } from '../context.js';

/** --max-age: a positive duration, or undefined (each database's schedule decides). */
export function parseMaxAge(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const ms = parseDuration(v);
  if (ms === null || ms <= 0) throw new ConfigError(`--max-age ${v}: expected a duration like 26h, 90m, 7d`);
  return ms;
}

/** The --json document: snake_case like report.json, one entry per database. */
export function fleetStatusJson(s: FleetStatus, queue: string): unknown {
  return {
    ok: s.ok, checked_at: s.checkedAt, max_age_ms: s.maxAgeMs, queue, counts: s.counts,
    databases: s.databases.map((d) => ({
      database: d.database.key, source: d.database.source, kind: d.database.kind, schedule: d.database.schedule,
      interval_ms: d.database.intervalMs, priority: d.database.priority, state: d.state, ok: d.ok, reason: d.reason,
      last_verified_at: d.lastVerifiedAt, last_verified_age_ms: d.lastVerifiedAgeMs, allowed_age_ms: d.allowedAgeMs, due_at: d.dueAt, lag_ms: d.lagMs,
      latest: d.latest && {
        verdict: d.latest.verdict, reason: d.latest.reason, job_id: d.latest.jobId, exit_code: d.latest.exitCode, started_at: d.latest.startedAt, finished_at: d.latest.finishedAt,
        duration_ms: d.latest.durationMs, worker: d.latest.worker, host: d.latest.host, failed_checks: d.latest.summary.failed_checks,
        message: d.latest.summary.message, report_path: d.latest.reportPath,
      },
    })),
  };
}

/** The text table: one line per database, then the verdict. */
export function formatFleetStatus(s: FleetStatus): string {
  if (!s.databases.length) return 'no database registered in the coordination database: run pgdrill fleet sync --fleet fleet.yaml --queue URL\nfleet status: NOT OK\n';
  const width = Math.max(...s.databases.map((d) => d.database.key.length));
  const lines = s.databases.map((d) => `${d.state.toUpperCase().padEnd(7)} ${d.database.key.padEnd(width)}  ${d.reason}${d.lagMs > 0 ? `; ${formatAge(d.lagMs)} behind its schedule (${d.database.schedule})` : ''}`);
  const c = s.counts;
  const tally = `${c.ok} ok, ${c.pending} pending, ${c.failing} failing, ${c.stale} stale, ${c.never} never verified`;
  return `${lines.join('\n')}\nfleet status: ${s.ok ? 'OK' : 'NOT OK'} (${s.databases.length} database${s.databases.length === 1 ? '' : 's'}: ${tally})\n`;
}

/** Register `pgdrill fleet status --queue URL [--max-age 26h] [--json]` under the `fleet` command. */
export function registerFleetStatus(fleet: Command, ctx: CliContext): void {
  fleet
    .command('status')
    .description('every database of the fleet: when it was last verified, the newest verdict, the lag behind its schedule; exit 1 when any is failing, stale or never verified (for cron and monitoring)')
    .option('--queue <url>', 'libpq URL of the coordination database, no password in it (default: PGDRILL_QUEUE); the password from PGPASSWORD, PGPASSFILE or ~/.pgpass')
    .option('--max-age <duration>', 'oldest acceptable PASS for every database, e.g. 26h (default: per database, its schedule\'s interval plus the interval or 2 h, whichever is shorter)')
    .option('--json', 'print the status as JSON', false)
    .addHelpText('after', '\nExit codes: 0 every database OK (or not yet due), 1 any failing, stale or never verified (or none registered), 2 bad flags, 4 the coordination database unreachable or without pgdrill_fleet.\n')
    .action(async (o: { queue?: string; maxAge?: string; json: boolean }) => {
      const maxAgeMs = parseMaxAge(o.maxAge);
      await using coord = await openCoordination(queueUrl(o.queue), { signal: ctx.signal });
      const s = await fleetStatus(coord.client, { maxAgeMs });
      process.stdout.write(o.json ? JSON.stringify(fleetStatusJson(s, coord.redacted), null, 2) + '\n' : terminalText(formatFleetStatus(s)));
      ctx.exitCode = s.ok ? 0 : 1;
    });
}
