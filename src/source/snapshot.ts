/**
 * The dump's own snapshot: a REPEATABLE READ READ ONLY transaction exports a snapshot, pg_dump runs with
 * `--snapshot`, and this transaction stays open so that counts and hashes taken in it describe exactly what
 * the dump holds. If it ended early, pg_dump would fail with "invalid snapshot identifier".
 */
import { DbSession, type AuditEntry, type ConnectionConfig } from '../pg/client.js';

/** An open exporting transaction on the source. Dispose (or `close`) commits it. */
export class SourceSnapshot implements AsyncDisposable {
  private closed = false;
  private constructor(readonly db: DbSession, readonly id: string) {}

  /** Open a session, start the read-only transaction and export its snapshot. */
  static async open(connection: ConnectionConfig, audit: AuditEntry[], signal?: AbortSignal): Promise<SourceSnapshot> {
    const db = await DbSession.open(connection, { audit, signal });
    try {
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
