/**
 * The fleet's job queue: pg-boss 10 (docs/fleet-queue.md says why pg-boss and not graphile-worker) in one schema of
 * a coordination database, `pgdrill_queue`. What pgdrill takes from it:
 *
 * - one queue, `pgdrill-drill`, with pg-boss's `singleton` policy and the database's id as singleton key: a unique
 *   index lets at most one job per database be active, whichever worker fetched it (the scheduler, fleet-table.ts,
 *   also never queues a database that still has a job, so no queued job waits behind an active one);
 * - priorities (higher first), retries, and expiry: a job whose lease ran out (`started_on + expire_in`, the worker
 *   renews it while it drills: lease.ts) is failed by pg-boss's maintenance and retried by another worker;
 * - fetch/complete/fail, not `work()`: pg-boss's own handler timeout would cut a drill at the first lease.
 *
 * The queue URL names the coordination database and its role; a password in it is refused (argv is not a place for
 * secrets): PGPASSWORD, PGPASSFILE or ~/.pgpass supply it, as node-postgres reads them.
 */
import PgBoss from 'pg-boss';
import pg from 'pg';
import { ConfigError, EnvironmentError, describePgError } from '../errors.js';
import { isLibpqUrl, parseLibpqUrl, redactUrl } from '../source/libpq-url.js';
import { resolveSource } from '../source/connection.js';
import type { DrillConfigInput } from '../config/schema.js';

/** The schema pg-boss and the fleet's own table live in: the only one the queue role needs. */
export const QUEUE_SCHEMA = 'pgdrill_queue';
/** The one queue of drills. */
export const DRILL_QUEUE = 'pgdrill-drill';
/** How many times a job whose worker died is tried again before it is failed; a hand-back counts none (lease.ts). */
export const DRILL_RETRY_LIMIT = 3;

/** What a drill job carries: everything a worker needs, nothing secret (fleet-file.ts refused passwords). */
export interface DrillJobData {
  readonly database: string;
  readonly kind: 'run' | 'verify';
  readonly source?: string;
  readonly service?: string;
  readonly backup?: string;
  readonly deep: boolean;
  readonly maxDurationMs: number;
  readonly diskBudgetBytes?: number;
  readonly leaseSeconds: number;
  /** When the scheduler queued it (ISO): the period it drills. */
  readonly due: string;
  readonly config: DrillConfigInput;
}

/** Options of openQueue. */
export interface OpenQueueOptions {
  /** Run pg-boss's maintenance (expiring leases, archiving) in this process; workers do, `fleet sync` does not. */
  readonly supervise: boolean;
  /** How often maintenance runs, in seconds; default 30. A dead worker's job is retried within lease + this. */
  readonly maintenanceSeconds?: number;
  /** pg-boss's background errors (maintenance, a dropped connection); default: dropped. */
  readonly onError?: (message: string) => void;
}

/**
 * node-postgres' connection settings from the queue URL.
 * @throws ConfigError (exit 2) when it is not a libpq URL or holds a password; the message never quotes it.
 */
export function queueConnection(url: string): pg.ClientConfig {
  if (!isLibpqUrl(url)) throw new ConfigError('--queue must be a libpq URL of the coordination database (postgresql://role@host:port/dbname)');
  let password: string | undefined;
  try {
    password = parseLibpqUrl(url).password;
  } catch (err) {
    throw new ConfigError(`--queue ${redactUrl(url)}: ${(err as Error).message}`, [], { cause: err });
  }
  if (password !== undefined) {
    throw new ConfigError(`--queue ${redactUrl(url)} holds a password: command lines are visible to every local user — put it in PGPASSWORD, PGPASSFILE or ~/.pgpass instead`);
  }
  // Read as libpq reads it (query parameters, a service, the PG* environment), as `fleet status` does; without the
  // read-only session options of a source: this session writes the queue.
  const c = resolveSource(url).connection;
  return {
    host: c.host, port: c.port, user: c.user, password: c.password, database: c.database, ssl: c.ssl,
    connectionTimeoutMillis: c.connectionTimeoutMillis ?? 30_000, application_name: 'pgdrill fleet',
  };
}

/**
 * pg-boss's installer always sends `CREATE SCHEMA IF NOT EXISTS`, and PostgreSQL checks CREATE on the database
 * before it sees that the schema exists: a queue role that only owns a schema an administrator made for it
 * (docs/fleet-queue.md) would be refused. When the schema exists, that statement is not sent.
 */
const CREATE_SCHEMA = new RegExp(`CREATE SCHEMA IF NOT EXISTS ${QUEUE_SCHEMA}\\b`, 'g');

async function schemaExists(pool: pg.Pool, url: string): Promise<boolean> {
  try {
    const r = await pool.query<{ present: boolean }>('SELECT to_regnamespace($1) IS NOT NULL AS present', [QUEUE_SCHEMA]);
    return r.rows[0]?.present === true;
  } catch (err) {
    await pool.end().catch(() => {});
    throw new EnvironmentError(`the coordination database ${redactUrl(url)} could not be reached: ${describePgError(err)} — check --queue and the password (PGPASSWORD, ~/.pgpass)`, undefined, { cause: err });
  }
}

/** A started pg-boss on the coordination database, and a pool for the fleet's own statements. */
export interface Queue extends AsyncDisposable {
  readonly boss: PgBoss;
  readonly pool: pg.Pool;
  /** Stop pg-boss and close the pool (also what `await using` does). */
  close(): Promise<void>;
}

/**
 * Start pg-boss on the queue URL (installing or migrating its schema when needed) and make sure the drill queue
 * exists.
 * @throws EnvironmentError (exit 4) when the coordination database cannot be reached or refuses, naming it.
 */
export async function openQueue(url: string, opts: OpenQueueOptions): Promise<Queue> {
  const conn = queueConnection(url);
  const pool = new pg.Pool({ ...conn, max: 4 });
  pool.on('error', () => {}); // an idle client's connection dropped: the next query reports it
  const schemaGiven = await schemaExists(pool, url);
  const boss = new PgBoss({
    db: { executeSql: (text: string, values: unknown[]) => pool.query(schemaGiven ? text.replace(CREATE_SCHEMA, 'SELECT 1') : text, values) },
    schema: QUEUE_SCHEMA,
    supervise: opts.supervise,
    schedule: false,
    maintenanceIntervalSeconds: opts.maintenanceSeconds ?? 30,
    monitorStateIntervalSeconds: 60,
  });
  boss.on('error', (err) => opts.onError?.(describePgError(err)));
  try {
    await boss.start();
    if (!(await boss.getQueue(DRILL_QUEUE))) {
      await boss.createQueue(DRILL_QUEUE, { name: DRILL_QUEUE, policy: 'singleton', retryLimit: DRILL_RETRY_LIMIT, retryDelay: 5 });
    }
  } catch (err) {
    await boss.stop({ graceful: false, wait: true }).catch(() => {});
    await pool.end().catch(() => {});
    throw new EnvironmentError(
      `the coordination database ${redactUrl(url)} refused or could not be reached: ${describePgError(err)} — check --queue, the password (PGPASSWORD, ~/.pgpass) and the role's rights on schema ${QUEUE_SCHEMA} (docs/fleet-queue.md)`,
      undefined, { cause: err },
    );
  }
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await boss.stop({ graceful: false, wait: true, close: false }).catch(() => {});
    await pool.end().catch(() => {});
  };
  return { boss, pool, close, [Symbol.asyncDispose]: close };
}
