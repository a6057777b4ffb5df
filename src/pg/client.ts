/**
 * Opening node-postgres connections, for the source and for sandboxes alike. Every statement pgdrill sends
 * goes through `DbSession.query`, which records it when an audit log is attached (the source's audit).
 */
import pg from 'pg';
import { describePgError, PgdrillError } from '../errors.js';

/** Where and as whom to connect (node-postgres' config; password never logged). */
export type ConnectionConfig = pg.ClientConfig;

/** One statement sent, for the audit of what touched the source. */
export interface AuditEntry {
  readonly at: string;
  readonly sql: string;
  /** Where it was sent from: 'pgdrill' or a child tool (pg_dump...). */
  readonly by: string;
}

/** A PostgreSQL error from a query, with SQLSTATE, detail and hint kept. */
export class QueryError extends PgdrillError {
  constructor(readonly sql: string, readonly sqlstate: string | undefined, cause: unknown) {
    super(describePgError(cause), { cause });
  }
}

/** A connection whose every query can be audited and aborted. */
export class DbSession {
  private constructor(private readonly client: pg.Client, private readonly audit?: AuditEntry[]) {}

  /** Connect. `audit`, when given, receives every statement sent (including the session settings). */
  static async open(config: ConnectionConfig, opts: { audit?: AuditEntry[]; signal?: AbortSignal } = {}): Promise<DbSession> {
    const client = new pg.Client(config);
    // A dropped connection must not crash the process: the pending query rejects with the error instead.
    client.on('error', () => {});
    await client.connect();
    const session = new DbSession(client, opts.audit);
    if (opts.signal) {
      const onAbort = () => void client.end().catch(() => {});
      opts.signal.addEventListener('abort', onAbort, { once: true });
      client.once('end', () => opts.signal?.removeEventListener('abort', onAbort));
    }
    return session;
  }

  /** Run one statement; rows come back typed as the caller says. */
  async query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    this.audit?.push({ at: new Date().toISOString(), sql, by: 'pgdrill' });
    try {
      const res = await this.client.query(sql, params as unknown[]);
      return res.rows as R[];
    } catch (err) {
      throw new QueryError(sql, (err as { code?: string }).code, err);
    }
  }

  /** Run a statement and return its first row's first column. */
  async value<T = unknown>(sql: string, params: readonly unknown[] = []): Promise<T> {
    const rows = await this.query(sql, params);
    const first = rows[0];
    return (first ? Object.values(first)[0] : undefined) as T;
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
