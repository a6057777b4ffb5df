/**
 * No hang on a lock the timeouts do not cover. pg_dump bounds only its first lock on each table
 * (`--lock-wait-timeout`) and sets `lock_timeout = 0` for the rest of its session; it locks each view, materialized
 * view and sequence only when it reads it, later — so an ACCESS EXCLUSIVE lock on a view held by a transaction left
 * open (`ALTER VIEW …` in a migration that never committed) would stall the drill, and everything queued behind
 * pg_dump, for as long as that transaction lives (measured: pg_dump waited for an `ALTER VIEW`'s, `ALTER SEQUENCE`'s
 * and `ALTER MATERIALIZED VIEW`'s lock until it was released). The same holds for the round trip's schema-only dump.
 *
 * While the dumps run, pgdrill watches the dump's bytes. Only when none has come for longer than the lock wait
 * timeout plus a grace second (so that pg_dump's own timeout, which names its table, wins where it applies) — or, once
 * the dump is written, for that long while the counts or the round trip's dump still run — does a read-only session ask the server
 * whether a session of pgdrill's (application_name, user, database: pg_dump's included) waits for a relation lock
 * longer than that; then again at growing intervals (a dump can be silent for long, scanning dead rows), so the
 * audit gets a statement per silence, not per second. When one does, the watch aborts: pg_dump is stopped with
 * SIGTERM, on which it cancels its query (the backend leaves the lock queue), and the drill fails with
 * `backup.locks` naming the relation and who holds it.
 */
import { DbSession, type AuditEntry, type ConnectionConfig } from '../pg/client.js';
import type { Logger } from '../logger.js';

/** A session of pgdrill's that waited for a relation lock longer than allowed. */
export class LockWaitError extends Error {
  constructor(readonly relation: string, readonly kind: string, readonly pid: number, readonly waitedMs: number) {
    super(`pgdrill's session (pid ${pid}, pg_dump's or the round trip's) waited ${Math.round(waitedMs)} ms for a lock on ${kind} ${relation}`);
    this.name = 'LockWaitError';
  }
}

/** Waits of pgdrill's sessions on relation locks (pg_locks.waitstart from PostgreSQL 14, the query's start before). */
export const LOCK_WAITS_SQL = `
SELECT l.pid, quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS relation,
       CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' WHEN 'i' THEN 'index' ELSE 'table' END AS kind,
       (extract(epoch FROM now() - coalesce((to_jsonb(l) ->> 'waitstart')::timestamptz, a.query_start)) * 1000)::float8 AS waited_ms
  FROM pg_locks l
  JOIN pg_stat_activity a ON a.pid = l.pid
  JOIN pg_class c ON c.oid = l.relation
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT l.granted AND l.locktype = 'relation' AND a.application_name = 'pgdrill' AND a.usename = current_user
   AND a.datname = current_database() AND l.pid <> pg_backend_pid() AND l.pid <> ALL ($1::int[])
 ORDER BY waited_ms DESC`;

/** What `watchLockWaits` needs. */
export interface LockWatchOptions {
  readonly connection: ConnectionConfig;
  readonly audit: AuditEntry[];
  /** backup.lock_wait_timeout. */
  readonly timeoutMs: number;
  /** Milliseconds since the dump last made progress (a byte read, or its end). */
  readonly idleMs: () => number;
  /** Sessions with a lock_timeout of their own (the snapshot session): not watched. */
  readonly exclude: readonly number[];
  readonly logger: Logger;
  /** How often the idle time is looked at (no query). Default 250 ms. */
  readonly tickMs?: number;
  readonly signal?: AbortSignal;
}

/** Grace beyond the timeout: pg_dump's own `--lock-wait-timeout` error names its table; let it come first. */
export const LOCK_WATCH_GRACE_MS = 1000;
/** The longest interval between two questions to the server during one silence. */
export const LOCK_WATCH_MAX_INTERVAL_MS = 30_000;

/** A running watch. `signal` aborts (with a LockWaitError) when a wait is found; `stop` (or disposal) ends the watch. */
export interface LockWatch extends AsyncDisposable {
  readonly signal: AbortSignal;
  stop(): Promise<void>;
}

/** Start watching. A watch whose session cannot be opened or read logs why and stops (the dumps go on). */
export function watchLockWaits(o: LockWatchOptions): LockWatch {
  const found = new AbortController();
  const limit = o.timeoutMs + LOCK_WATCH_GRACE_MS;
  let stopped = false;
  let wake: (() => void) | null = null;
  const sleep = (ms: number) => new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    wake = () => (clearTimeout(t), resolve());
  });
  const loop = (async () => {
    let db: DbSession | null = null;
    let interval = limit;
    let nextAt = 0;
    try {
      while (!stopped) {
        await sleep(o.tickMs ?? 250);
        if (stopped) break;
        if (o.idleMs() <= limit) {
          interval = limit;
          nextAt = 0;
          continue;
        }
        if (performance.now() < nextAt) continue;
        db ??= await DbSession.open(o.connection, { audit: o.audit, signal: o.signal });
        const [w] = await db.query<{ pid: number; relation: string; kind: string; waited_ms: number }>(LOCK_WAITS_SQL, [o.exclude]);
        if (w && w.waited_ms > limit) {
          o.logger.info(`lock watch: pid ${w.pid} has waited ${Math.round(w.waited_ms)} ms for a lock on ${w.kind} ${w.relation}: stopping the dump`);
          found.abort(new LockWaitError(w.relation, w.kind, w.pid, w.waited_ms));
          break;
        }
        nextAt = performance.now() + interval;
        interval = Math.min(2 * interval, LOCK_WATCH_MAX_INTERVAL_MS);
      }
    } catch (err) {
      if (!stopped && !o.signal?.aborted) o.logger.warn(`lock watch stopped: ${(err as Error).message}`);
    } finally {
      await db?.close();
    }
  })();
  return {
    signal: found.signal,
    async stop() {
      stopped = true;
      wake?.();
      await loop;
    },
    async [Symbol.asyncDispose]() {
      await this.stop();
    },
  };
}
