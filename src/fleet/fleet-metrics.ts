/**
 * The fleet's Prometheus metrics, for node_exporter's textfile collector: one series per database and family,
 * labelled `database` (its fleet key). Their own `pgdrill_fleet_` families, not a single drill's: the single-drill
 * alert rules assume a daily drill, while a fleet's databases each have their schedule — `pgdrill_fleet_database_ok`
 * carries the judgement by schedule (contrib/prometheus/pgdrill-fleet.rules.yml alerts on it).
 */
import { renderMetrics, type MetricSample } from '../outputs/metrics.js';
import { writeFileAtomic } from '../outputs/atomic-file.js';
import type { FleetStatus } from './fleet-status.js';

/** The families `fleet report --metrics` writes, with their help text. All gauges. */
export const FLEET_METRIC_FAMILIES = {
  pgdrill_fleet_database_ok: '1 when the database was verified within its allowed age and its newest drill passed (or it is not yet due), else 0.',
  pgdrill_fleet_last_success_timestamp_seconds: 'Unix time at which the newest passing drill of the database finished.',
  pgdrill_fleet_last_run_timestamp_seconds: 'Unix time at which the newest drill of the database finished.',
  pgdrill_fleet_last_run_success: 'Verdict of the newest drill of the database: 1 PASS, 0 FAIL, error or stopped.',
  pgdrill_fleet_last_run_verdict: 'Always 1, labelled with the verdict of the newest drill of the database (pass, fail, error, stopped) and its reason (duration, disk, retries_exhausted, or empty).',
  pgdrill_fleet_last_run_duration_seconds: 'Duration of the newest drill of the database, in seconds.',
  pgdrill_fleet_last_run_failed_checks: 'Number of checks that failed in the newest drill of the database.',
  pgdrill_fleet_lag_seconds: 'How long past its schedule the next verification of the database is, in seconds (0: not yet due).',
  pgdrill_fleet_allowed_age_seconds: 'Oldest acceptable PASS of the database, in seconds (--max-age, else its interval plus a grace).',
  pgdrill_fleet_status_timestamp_seconds: 'Unix time at which the fleet status in this file was computed.',
} as const;

/** The samples of a fleet status: one per database and family (the newest drill's only for a database drilled once). */
export function fleetSamples(s: FleetStatus): MetricSample[] {
  const out: MetricSample[] = [{ name: 'pgdrill_fleet_status_timestamp_seconds', labels: {}, value: Date.parse(s.checkedAt) / 1000 }];
  for (const d of s.databases) {
    const labels = { database: d.database.key };
    const add = (name: keyof typeof FLEET_METRIC_FAMILIES, value: number) => void out.push({ name, labels, value });
    add('pgdrill_fleet_database_ok', d.ok ? 1 : 0);
    add('pgdrill_fleet_lag_seconds', d.lagMs / 1000);
    add('pgdrill_fleet_allowed_age_seconds', d.allowedAgeMs / 1000);
    if (d.lastVerifiedAt) add('pgdrill_fleet_last_success_timestamp_seconds', Date.parse(d.lastVerifiedAt) / 1000);
    const r = d.latest;
    if (!r) continue;
    add('pgdrill_fleet_last_run_timestamp_seconds', Date.parse(r.finishedAt) / 1000);
    add('pgdrill_fleet_last_run_success', r.verdict === 'pass' ? 1 : 0);
    out.push({ name: 'pgdrill_fleet_last_run_verdict', labels: { ...labels, verdict: r.verdict, reason: r.reason ?? '' }, value: 1 });
    add('pgdrill_fleet_last_run_duration_seconds', r.durationMs / 1000);
    add('pgdrill_fleet_last_run_failed_checks', r.summary.counts.fail);
  }
  return out;
}

/** The textfile's text. */
export function renderFleetMetrics(s: FleetStatus): string {
  return renderMetrics(fleetSamples(s), FLEET_METRIC_FAMILIES);
}

/** Write the fleet's metrics to `path`, replacing it whole (atomic: temporary file and rename). One writer per file. */
export async function writeFleetMetrics(path: string, s: FleetStatus): Promise<void> {
  await writeFileAtomic(path, renderFleetMetrics(s));
}
