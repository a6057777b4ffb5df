/**
 * Who kept the dump from its locks. pg_dump takes ACCESS SHARE on every table it dumps and waits at most
 * `--lock-wait-timeout` for each; the exact counts wait at most `lock_timeout`. When either gives up, the drill
 * fails — and the operator needs to know which table and which session were in the way, not just "timeout".
 * Only an ACCESS EXCLUSIVE lock (held, or queued ahead of ours) conflicts with ACCESS SHARE, so that is what is
 * looked for, from a fresh read-only session (pg_locks and pg_stat_activity are readable by any role; other
 * users' query text stays hidden without pg_read_all_stats).
 */
import { describePgError } from '../errors.js';
import { DbSession, QueryError, type AuditEntry, type ConnectionConfig } from '../pg/client.js';
import type { CheckResult } from '../report/model.js';
import { LockWaitError } from './lock-watch.js';

/** A session holding, or queued for, an ACCESS EXCLUSIVE lock on a table of the source database. */
export interface LockBlocker {
  readonly pid: number;
  /** True: it holds the lock; false: it waits for it, and every newer ACCESS SHARE request queues behind it. */
  readonly granted: boolean;
  readonly table: string;
  readonly application: string | null;
  readonly user: string | null;
  readonly state: string | null;
  /** Seconds its transaction has been open, when visible. */
  readonly xact_seconds: number | null;
  /** For a queued request: the pids it waits for (pg_blocking_pids). */
  readonly blocked_by: readonly number[];
}

/** Every ACCESS EXCLUSIVE lock (held, or queued) on a relation of the current database but our own, with its session. */
export const LOCK_BLOCKERS_SQL = `
SELECT l.pid, l.granted, quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS "table",
       a.application_name AS application, a.usename AS "user", a.state,
       extract(epoch FROM now() - a.xact_start)::int AS xact_seconds,
       CASE WHEN l.granted THEN '{}'::int[] ELSE pg_blocking_pids(l.pid) END AS blocked_by
  FROM pg_locks l
  JOIN pg_class c ON c.oid = l.relation
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.pid <> pg_backend_pid()
   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
 ORDER BY l.granted DESC, 3, l.pid`;

/** Is this failure a lock wait that gave up (pg_dump's `--lock-wait-timeout`, `lock_timeout` of the counts, or the lock watch)? */
export function isLockWaitFailure(err: unknown): boolean {
  if (err instanceof LockWaitError) return true;
  if (err instanceof QueryError && err.sqlstate === '55P03') return true;
  const text = (err as Error)?.message ?? String(err);
  return /canceling statement due to lock timeout/.test(text) || /(timeout|lock)[\s\S]*LOCK TABLE .+ IN ACCESS SHARE MODE/i.test(text);
}

/** The relation a lock failure names: the lock watch's, pg_dump's `Query was: LOCK TABLE x IN ACCESS SHARE MODE`, or the count that waited. */
export function tableOfLockFailure(err: unknown): string | null {
  if (err instanceof LockWaitError) return err.relation;
  const text = (err as Error)?.message ?? String(err);
  const dump = /LOCK TABLE (.+?) IN ACCESS SHARE MODE/.exec(text);
  if (dump) return dump[1]!.replace(/^ONLY /, '');
  if (err instanceof QueryError) {
    const count = /FROM ONLY (.+)$/.exec(err.sql.trim());
    if (count) return count[1]!;
  }
  return null;
}

/** Read every ACCESS EXCLUSIVE lock (held or queued) on the source database, from a new read-only session. */
export async function findLockBlockers(connection: ConnectionConfig, audit?: AuditEntry[]): Promise<LockBlocker[]> {
  await using db = await DbSession.open(connection, { audit });
  const rows = await db.query<LockBlocker & Record<string, unknown>>(LOCK_BLOCKERS_SQL);
  return rows.map((r) => ({ ...r, blocked_by: r.blocked_by ?? [] }));
}

function describeBlocker(b: LockBlocker): string {
  const who = [b.application ? `application ${b.application}` : null, b.user ? `user ${b.user}` : null, b.state ?? null,
    b.xact_seconds !== null ? `transaction open ${b.xact_seconds} s` : null].filter(Boolean).join(', ');
  return b.granted
    ? `pid ${b.pid} holds ACCESS EXCLUSIVE on ${b.table}${who ? ` (${who})` : ''}`
    : `pid ${b.pid} waits for ACCESS EXCLUSIVE on ${b.table}${b.blocked_by.length ? ` behind pid ${b.blocked_by.join(', ')}` : ''}${who ? ` (${who})` : ''}, and our lock queued behind it`;
}

/**
 * The failing `backup.locks` check for a lock wait that gave up: the table, the blocking pid(s) and what to do.
 * `blockers` null means they could not be read (the reason is in `lookupError`).
 */
export function lockFailureCheck(err: unknown, blockers: readonly LockBlocker[] | null, lockWaitMs: number, lookupError?: unknown): CheckResult {
  const table = tableOfLockFailure(err);
  const kind = err instanceof LockWaitError ? err.kind : 'table';
  const relevant = (blockers ?? []).filter((b) => !table || b.table === table || b.table === table.replace(/"/g, ''));
  const shown = relevant.length ? relevant : blockers ?? [];
  const wait = lockWaitMs >= 1000 ? `${lockWaitMs / 1000} s` : `${lockWaitMs} ms`;
  const who = shown.length
    ? shown.map(describeBlocker).join('; ')
    : blockers === null
      ? `the blocking session could not be read (${describePgError(lookupError)})`
      : 'the lock was released before pgdrill could see who held it';
  return {
    name: 'backup.locks', stage: 'backup', status: 'fail',
    detail: `could not lock ${table ? `${kind} ${table}` : 'a table'} within backup.lock_wait_timeout (${wait}): ${who}. ` +
      `The drill gave up instead of waiting (a pg_dump queued behind an ACCESS EXCLUSIVE lock would block every later query on that ${kind}). ` +
      `Run the drill when that transaction has ended, or raise backup.lock_wait_timeout.`,
    evidence: { table, kind, lock_wait_timeout_ms: lockWaitMs, blockers: shown, error: (err as Error)?.message ?? String(err) },
  };
}
