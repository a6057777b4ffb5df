/**
 * Opening node-postgres connections, for the source and for sandboxes alike. Every statement pgdrill sends
 * goes through `DbSession.query`, which records it when an audit log is attached (the source's audit).
 */
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { describePgError, GuardError, InterruptedError, PgdrillError } from '../errors.js';
import { attachByteWire, type ByteWire } from './byte-wire.js';
import { sendCancelRequest } from './cancel.js';

/**
 * Where and as whom to connect (node-postgres' config; password never logged). `readOnlyAfterLogin`: the session is
 * made read-only by its first statements instead of a startup option (a source whose login event trigger writes:
 * src/source/login.ts) — `DbSession.open` sends them, and checks them with SHOW, before anything else.
 */
export type ConnectionConfig = pg.ClientConfig & { readonly readOnlyAfterLogin?: boolean };

/** The statements that make a session read-only once logged in (both: a later `SET TRANSACTION` cannot undo either). */
export const READ_ONLY_AFTER_LOGIN = ['SET default_transaction_read_only = on', 'SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY'] as const;

/** One statement sent, for the audit of what touched the source. */
export interface AuditEntry {
  readonly at: string;
  readonly sql: string;
  /** Where it was sent from: 'pgdrill' or a child tool (pg_dump...). */
  readonly by: string;
  /** The server process (backend pid) of pgdrill's own session, as `%p` shows it in the server log; absent for child tools. */
  readonly pid?: number;
}

/** Hooks run with a session's backend pid right before it closes, by the audit its statements go to (`onSessionClose`). */
const closeHooks = new WeakMap<AuditEntry[], (pid: number) => void>();

/**
 * Call `hook` with the backend pid of every session that records into `audit`, right before the session ends (the
 * source's footprint reads each backend's CPU then: a session shorter than the meter's interval, or one that ended
 * before the meter began, still counts whole). A hook that throws is ignored.
 */
export function onSessionClose(audit: AuditEntry[], hook: (pid: number) => void): void {
  closeHooks.set(audit, hook);
}

/** A PostgreSQL error from a query, with SQLSTATE, detail and hint kept. */
export class QueryError extends PgdrillError {
  constructor(readonly sql: string, readonly sqlstate: string | undefined, cause: unknown) {
    super(describePgError(cause), { cause });
  }
}

/** A connection whose every query can be audited and aborted. */
export class DbSession {
  /** Statements sent and not yet answered. */
  private running = 0;
  /** `close` has begun (the close hook runs once). */
  private closing = false;

  private constructor(private readonly client: pg.Client, private readonly wire: ByteWire, private readonly audit?: AuditEntry[], private readonly signal?: AbortSignal) {}

  /**
   * True on a SQL_ASCII database: the session reads and writes the stored bytes unconverted, and strings carry any
   * byte that is not UTF-8 as a lone surrogate (src/pg/server-bytes.ts: `showBytes` prints them as `\xNN`).
   */
  get serverBytes(): boolean {
    return this.wire.bytes;
  }

  /**
   * On abort: cancel a running statement first (a backend waiting for a lock would not notice the closed socket,
   * and would stay queued on the server until it got the lock), then close the connection.
   */
  private async abort(): Promise<void> {
    const c = this.client as unknown as { processID?: number | null; secretKey?: number | null; host?: string; port?: number };
    if (this.running > 0 && c.processID && c.secretKey != null && c.host) {
      await sendCancelRequest(c.host, c.port ?? 5432, c.processID, c.secretKey);
    }
    await this.client.end().catch(() => {});
  }

  /**
   * Connect. `audit`, when given, receives every statement sent (including the session settings). `signal` ends the
   * connection — also while it is still being made (a server that never answers must not outlast Ctrl-C) — and makes
   * the pending and later queries reject with the signal's reason (an InterruptedError), not a connection error.
   * On a SQL_ASCII database the first statement is `SET client_encoding = 'SQL_ASCII'` (see `serverBytes`).
   */
  static async open(config: ConnectionConfig, opts: { audit?: AuditEntry[]; signal?: AbortSignal } = {}): Promise<DbSession> {
    const { readOnlyAfterLogin, ...clientConfig } = config;
    const client = new pg.Client(clientConfig);
    // A dropped connection must not crash the process: the pending query rejects with the error instead.
    client.on('error', () => {});
    const signal = opts.signal;
    if (signal?.aborted) throw signal.reason ?? new InterruptedError('SIGINT');
    const session = new DbSession(client, attachByteWire(client), opts.audit, signal);
    const onAbort = () => void session.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    client.once('end', () => signal?.removeEventListener('abort', onAbort));
    try {
      await client.connect();
    } catch (err) {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) throw signal.reason ?? new InterruptedError('SIGINT');
      throw err;
    }
    try {
      if (readOnlyAfterLogin) await session.makeReadOnly();
      if (session.serverBytes) await session.query("SET client_encoding = 'SQL_ASCII'");
    } catch (err) {
      await session.close();
      throw err;
    }
    return session;
  }

  /** `READ_ONLY_AFTER_LOGIN`, then SHOW proves both took: a session that is not read-only sends nothing else. */
  private async makeReadOnly(): Promise<void> {
    for (const sql of READ_ONLY_AFTER_LOGIN) await this.query(sql);
    const dflt = await this.value<string>('SHOW default_transaction_read_only');
    const now = await this.value<string>('SHOW transaction_read_only');
    if (dflt !== 'on' || now !== 'on') {
      throw new GuardError(`the session is not read-only after ${READ_ONLY_AFTER_LOGIN.join('; ')} (default_transaction_read_only ${dflt}, ` +
        `transaction_read_only ${now}): nothing else was sent; report this, with the server's version`, 'read_only', 'on', `${dflt}/${now}`);
    }
  }

  /** The backend pid of this session (`%p` in the server log, `pid` in pg_stat_activity). */
  get backendPid(): number | undefined {
    return (this.client as unknown as { processID?: number | null }).processID ?? undefined;
  }

  /** Run one statement; rows come back typed as the caller says. */
  async query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    this.audit?.push({ at: new Date().toISOString(), sql, by: 'pgdrill', pid: this.backendPid });
    this.running++;
    try {
      const res = await this.client.query(sql, params as unknown[]);
      return res.rows as R[];
    } catch (err) {
      if (this.signal?.aborted) throw this.signal.reason ?? new InterruptedError('SIGINT');
      throw new QueryError(sql, (err as { code?: string }).code, err);
    } finally {
      this.running--;
    }
  }

  /**
   * Run a `COPY … TO STDOUT` and hand its bytes, as the server sends them (in the session's client_encoding, never
   * decoded), to `onChunk` as they arrive: streamed, whatever the table's size.
   */
  async copyOut(sql: string, onChunk: (chunk: Buffer) => void): Promise<void> {
    this.audit?.push({ at: new Date().toISOString(), sql, by: 'pgdrill', pid: this.backendPid });
    this.running++;
    try {
      const stream = this.client.query(copyTo(sql));
      for await (const chunk of stream) onChunk(chunk as Buffer);
    } catch (err) {
      if (this.signal?.aborted) throw this.signal.reason ?? new InterruptedError('SIGINT');
      throw new QueryError(sql, (err as { code?: string }).code, err);
    } finally {
      this.running--;
    }
  }

  /** Run a statement and return its first row's first column. */
  async value<T = unknown>(sql: string, params: readonly unknown[] = []): Promise<T> {
    const rows = await this.query(sql, params);
    const first = rows[0];
    return (first ? Object.values(first)[0] : undefined) as T;
  }

  async close(): Promise<void> {
    const pid = this.backendPid;
    if (this.audit && pid && !this.closing) {
      this.closing = true;
      try {
        closeHooks.get(this.audit)?.(pid);
      } catch {
        // the footprint's reading only
      }
    }
    await this.client.end().catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
