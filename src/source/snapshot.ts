/**
 * The dump's own snapshot: a REPEATABLE READ READ ONLY transaction exports a snapshot, pg_dump runs with
 * `--snapshot`, and this transaction stays open so that counts and hashes taken in it describe exactly what
 * the dump holds. If it ended early, pg_dump would fail with "invalid snapshot identifier".
 */
import { DbSession, type AuditEntry, type ConnectionConfig } from '../pg/client.js';

/**
 * For a session that holds a transaction open while others work (pg_dump, pg_dumpall, the sandbox start): a
 * server-wide `idle_in_transaction_session_timeout` would otherwise end it between two of its statements — pg_dump
 * then fails with "invalid snapshot identifier", the counts with a lost connection. pg_dump sets the same for its
 * own session. A session setting: nothing on the server changes.
 */
export const IDLE_IN_TRANSACTION_OFF = 'SET idle_in_transaction_session_timeout = 0';

/**
 * Settings of a source session that runs full scans (the exact counts, `--deep` hashes), set before its first one:
 * no statement_timeout (a count of a big table must be able to end); no parallel workers (a count need only end
 * before pg_dump does, so production lends the drill no worker slots and no extra cores); no JIT (PostgreSQL 11+):
 * a `count(*)` or a hash costs more than `jit_above_cost` on any table of ~70 MB or more, and compiling its
 * expressions is work the scan never earns back — measured on PostgreSQL 15, the 5M-row count of pgbench scale 50
 * took ~100 ms more with JIT (0.62 s against 0.52 s), its row hashes the same with and without. Session settings:
 * nothing on the server changes.
 */
export function scanSessionSettings(serverMajor: number): string[] {
  return ['SET statement_timeout = 0', 'SET max_parallel_workers_per_gather = 0', ...(serverMajor >= 11 ? ['SET jit = off'] : [])];
}

/** An open exporting transaction on the source. Dispose (or `close`) commits it. */
export class SourceSnapshot implements AsyncDisposable {
  private closed = false;
  private constructor(readonly db: DbSession, readonly id: string) {}

  /** Open a session, start the read-only transaction and export its snapshot. */
  static async open(connection: ConnectionConfig, audit: AuditEntry[], signal?: AbortSignal): Promise<SourceSnapshot> {
    const db = await DbSession.open(connection, { audit, signal });
    try {
      await db.query(IDLE_IN_TRANSACTION_OFF);
      await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const id = await db.value<string>('SELECT pg_export_snapshot()');
      return new SourceSnapshot(db, id);
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  /** End the transaction (nothing was written: COMMIT and ROLLBACK are the same here) and the session. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.query('ROLLBACK').catch(() => {});
    await this.db.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
