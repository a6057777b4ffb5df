/**
 * Freshness, for cron and monitoring (`pgdrill status`): per database, when it was last verified (its newest
 * PASS), and whether that is good enough — the newest drill passed and the newest PASS is younger than max-age.
 */
import { silentLogger, type Logger } from '../logger.js';
import { listRuns, type HistoryEntry } from './read-history.js';

/** fresh: newest drill passed, within max-age; stale: newest drill passed, but the newest PASS is too old;
 * failed: the newest drill failed (or was interrupted); never: no drill of this database ever passed. */
export type FreshnessState = 'fresh' | 'stale' | 'failed' | 'never';

/** One database's freshness. */
export interface DatabaseFreshness {
  readonly database: string;
  readonly state: FreshnessState;
  /** True only for `fresh`. */
  readonly ok: boolean;
  /** The newest drill of the database, whatever its verdict. */
  readonly newest: HistoryEntry;
  /** The newest PASS, or null. */
  readonly lastPass: HistoryEntry | null;
  /** Milliseconds since the newest PASS finished, or null. */
  readonly lastPassAgeMs: number | null;
  /** One line for people: what is wrong, or that all is well. */
  readonly reason: string;
}

/** Every database of an out directory. `ok` is false when any database is not fresh, or there are none. */
export interface FreshnessReport {
  readonly checkedAt: string;
  readonly maxAgeMs: number;
  readonly ok: boolean;
  readonly databases: readonly DatabaseFreshness[];
}

/** "3 h 12 min", "2 d 4 h", "45 s": an age for people. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** Judge history entries (any order) against max-age at `now`. Pure. */
export function judgeFreshness(entries: readonly HistoryEntry[], maxAgeMs: number, now: Date = new Date()): FreshnessReport {
  const byDb = new Map<string, HistoryEntry[]>();
  for (const e of entries) byDb.set(e.database, [...(byDb.get(e.database) ?? []), e]);
  const t = now.getTime();
  const databases: DatabaseFreshness[] = [];
  for (const [database, list] of [...byDb].sort(([a], [b]) => a.localeCompare(b))) {
    const sorted = [...list].sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt));
    const newest = sorted[0]!;
    const lastPass = sorted.find((e) => e.status === 'PASS' && !e.interrupted) ?? null;
    const age = lastPass ? t - Date.parse(lastPass.finishedAt) : null;
    const newestFailed = newest.status !== 'PASS' || newest.interrupted;
    const state: FreshnessState = newestFailed ? (lastPass ? 'failed' : 'never') : age !== null && age > maxAgeMs ? 'stale' : 'fresh';
    const since = age === null ? 'never verified' : `last verified ${formatAge(age)} ago`;
    const reason = state === 'fresh'
      ? `${since} (${lastPass!.kind} PASS)`
      : state === 'stale'
        ? `${since}: older than the allowed ${formatAge(maxAgeMs)}`
        : `${since}; the newest drill (${newest.kind}, ${formatAge(t - Date.parse(newest.finishedAt))} ago) ${newest.interrupted ? 'was interrupted' : 'FAILED'}${newest.failedChecks.length ? `: ${newest.failedChecks.slice(0, 5).join(', ')}` : ''}`;
    databases.push({ database, state, ok: state === 'fresh', newest, lastPass, lastPassAgeMs: age, reason });
  }
  return { checkedAt: now.toISOString(), maxAgeMs, ok: databases.length > 0 && databases.every((d) => d.ok), databases };
}

/** Options of `checkFreshness`. */
export interface FreshnessOptions {
  /** Oldest acceptable PASS. Default 26 h (a nightly drill plus slack). */
  readonly maxAgeMs?: number;
  /** Only this database. Default: every database in the out directory. */
  readonly database?: string;
  /** Default: the current time. */
  readonly now?: Date;
  readonly logger?: Logger;
}

/** Read an out directory's history and judge every database's freshness. */
export async function checkFreshness(outDir: string, opts: FreshnessOptions = {}): Promise<FreshnessReport> {
  const entries = await listRuns(outDir, { logger: opts.logger ?? silentLogger });
  const mine = opts.database ? entries.filter((e) => e.database === opts.database) : entries;
  return judgeFreshness(mine, opts.maxAgeMs ?? 26 * 3_600_000, opts.now);
}
