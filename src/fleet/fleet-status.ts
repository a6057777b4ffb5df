/**
 * The fleet at a glance: per registered database, when it was last verified, the newest verdict, and how far it
 * lags behind its schedule; the fleet is OK only when every database is. Computed from the results store
 * (src/fleet/results-store.ts); `fleet status`, `fleet report --html` and `--metrics` render the same object.
 */
import { formatAge } from '../history/freshness.js';
import { formatDuration } from '../config/duration.js';
import { latestResults, requireResultsSchema, type FleetResult, type LatestResult, type RegisteredDatabase, type ResultsClient } from './results-store.js';

/**
 * ok: verified within its allowed age and the newest drill passed; pending: registered recently, not yet due;
 * failing: the newest drill did not pass (fail, error or stopped); stale: the newest PASS is too old;
 * never: no drill ever passed, and it was due.
 */
export type FleetState = 'ok' | 'pending' | 'failing' | 'stale' | 'never';

/** The longest grace after a database's interval before it counts as stale (without --max-age). */
export const MAX_GRACE_MS = 2 * 3_600_000;

/** One database's standing. */
export interface FleetDatabaseStatus {
  readonly database: RegisteredDatabase;
  readonly state: FleetState;
  readonly ok: boolean;
  /** One line: why this state. */
  readonly reason: string;
  /** When its newest passing drill finished (ISO), null when none. */
  readonly lastVerifiedAt: string | null;
  readonly lastVerifiedAgeMs: number | null;
  /** The oldest acceptable PASS: --max-age, else the interval plus the interval or 2 h, whichever is shorter. */
  readonly allowedAgeMs: number;
  /** When the next verification was due: the newest PASS (else the registration) plus the interval (ISO). */
  readonly dueAt: string;
  /** How long past `dueAt`, 0 when not yet due. */
  readonly lagMs: number;
  readonly latest: FleetResult | null;
}

/** The fleet's standing. */
export interface FleetStatus {
  readonly ok: boolean;
  readonly checkedAt: string;
  /** --max-age, null when each database's own schedule decides. */
  readonly maxAgeMs: number | null;
  readonly counts: Readonly<Record<FleetState, number>>;
  readonly databases: readonly FleetDatabaseStatus[];
}

/** Options of `judgeFleet` and `fleetStatus`. */
export interface FleetStatusOptions {
  /** Default: now. */
  readonly now?: Date;
  /** One oldest acceptable PASS for every database; default: each database's interval plus min(interval, 2 h). */
  readonly maxAgeMs?: number;
}

/** Why the newest drill did not pass, in one line. */
function failure(r: FleetResult): string {
  const when = `${r.finishedAt.replace(/\.\d+Z$/, 'Z')} on ${r.host}`;
  if (r.verdict === 'stopped') {
    const budget = r.reason === 'disk' ? 'its disk_budget' : 'its max_duration';
    return `the newest drill (${when}) was stopped after ${formatDuration(r.durationMs)}: ${r.summary.message?.split('\n')[0] ?? `it overran ${budget}`}`;
  }
  if (r.reason === 'retries_exhausted') return `the newest drill (${when}) was given up after its retries: ${r.summary.message?.split('\n')[0] ?? 'its worker died on every attempt'}`;
  if (r.verdict === 'error') return `the newest drill (${when}) could not run: exit ${r.exitCode ?? 'by signal'}${r.summary.message ? `: ${r.summary.message.split('\n')[0]}` : ''}`;
  const checks = r.summary.failed_checks;
  return `the newest drill (${when}) FAILED${checks.length ? `: ${checks.join(', ')}` : ''}`;
}

/** One database's state from its newest results. */
function judgeOne(l: LatestResult, now: number, maxAgeMs: number | undefined): FleetDatabaseStatus {
  const d = l.database;
  const allowedAgeMs = maxAgeMs ?? d.intervalMs + Math.min(d.intervalMs, MAX_GRACE_MS);
  const passAt = l.lastPass ? Date.parse(l.lastPass.finishedAt) : null;
  const due = (passAt ?? Date.parse(d.addedAt)) + d.intervalMs;
  const ageMs = passAt === null ? null : Math.max(0, now - passAt);
  const since = passAt === null ? now - Date.parse(d.addedAt) : null;
  let state: FleetState;
  let reason: string;
  if (l.latest && l.latest.verdict !== 'pass') {
    state = 'failing';
    reason = `${failure(l.latest)}; ${ageMs === null ? 'never verified' : `last verified ${formatAge(ageMs)} ago`}`;
  } else if (ageMs !== null) {
    state = ageMs > allowedAgeMs ? 'stale' : 'ok';
    reason = `last verified ${formatAge(ageMs)} ago${state === 'stale' ? ` (allowed: ${formatAge(allowedAgeMs)})` : ''}`;
  } else {
    state = since !== null && since > allowedAgeMs ? 'never' : 'pending';
    reason = state === 'never' ? `never verified, registered ${formatAge(since ?? 0)} ago (allowed: ${formatAge(allowedAgeMs)})` : 'not drilled yet; not due before its first period ends';
  }
  return {
    database: d, state, ok: state === 'ok' || state === 'pending', reason,
    lastVerifiedAt: l.lastPass?.finishedAt ?? null, lastVerifiedAgeMs: ageMs, allowedAgeMs,
    dueAt: new Date(due).toISOString(), lagMs: Math.max(0, now - due), latest: l.latest,
  };
}

/** Judge every database from its newest results (pure: the same rows and `now` give the same answer). */
export function judgeFleet(rows: readonly LatestResult[], opts: FleetStatusOptions = {}): FleetStatus {
  const now = (opts.now ?? new Date()).getTime();
  const databases = rows.map((l) => judgeOne(l, now, opts.maxAgeMs));
  const counts: Record<FleetState, number> = { ok: 0, pending: 0, failing: 0, stale: 0, never: 0 };
  for (const d of databases) counts[d.state]++;
  return {
    ok: databases.length > 0 && databases.every((d) => d.ok), checkedAt: new Date(now).toISOString(), maxAgeMs: opts.maxAgeMs ?? null, counts, databases,
  };
}

/**
 * Read the results store and judge the fleet. A fleet with no registered database is not OK: nothing is verified.
 * @throws ResultsSchemaError (exit 4) when the coordination database has no results schema.
 */
export async function fleetStatus(client: ResultsClient, opts: FleetStatusOptions = {}): Promise<FleetStatus> {
  await requireResultsSchema(client);
  return judgeFleet(await latestResults(client), opts);
}
