/**
 * The fleet's own tables beside pg-boss's, in the queue schema: which databases the fleet drills and when each is
 * next due (`fleet_database`), and the fleet-wide settings workers read (`fleet_setting`). `fleet sync` writes them
 * from the fleet file; every worker runs `enqueueDue` on a timer, and whichever gets a due row first queues its
 * drill — in the same transaction that moves the row to its next due time, so a period is queued exactly once.
 *
 * pg-boss has cron schedules, but in version 10 one per queue name: a queue per database would mean a poller per
 * database per worker (200 queries every poll for a 200-database fleet). One queue, and due times kept here, cost one
 * statement per worker per tick.
 */
import type pg from 'pg';
import type PgBoss from 'pg-boss';
import { DRILL_QUEUE, DRILL_RETRY_LIMIT, QUEUE_SCHEMA, type DrillJobData, type Queue } from './queue.js';
import { longestGapMs, nextDue, parseSchedule } from './schedule.js';
import { ensureResultsSchema, registerDatabases } from './results-store.js';
import { ATTEMPTS } from './lease.js';
import type { Fleet, FleetDatabase } from './fleet-file.js';

const T = `${QUEUE_SCHEMA}.fleet_database`;
const S = `${QUEUE_SCHEMA}.fleet_setting`;

/** Create the fleet's tables when missing (the queue role owns the schema: docs/fleet-queue.md). */
export async function ensureFleetTables(db: pg.Pool | pg.PoolClient): Promise<void> {
  await db.query(`CREATE TABLE IF NOT EXISTS ${T} (
    id text PRIMARY KEY,
    spec jsonb NOT NULL,
    schedule text NOT NULL,
    priority integer NOT NULL,
    next_due timestamptz NOT NULL,
    last_queued timestamptz,
    synced_at timestamptz NOT NULL DEFAULT now())`);
  await db.query(`CREATE TABLE IF NOT EXISTS ${S} (key text PRIMARY KEY, value jsonb NOT NULL)`);
  // Each attempt at a drill job, for the record of a job given up after its retries (lease.ts, exhausted-jobs.ts).
  await db.query(`CREATE TABLE IF NOT EXISTS ${ATTEMPTS} (
    job_id uuid NOT NULL,
    started_on timestamptz NOT NULL,
    database text NOT NULL,
    worker text NOT NULL,
    host text NOT NULL,
    ended text,
    detail text,
    PRIMARY KEY (job_id, started_on))`);
}

/** What a job of this database carries, but its due time. */
export function jobSpec(db: FleetDatabase, leaseSeconds: number): Omit<DrillJobData, 'due'> {
  return {
    database: db.id, kind: db.kind, source: db.source, service: db.service, backup: db.backup, deep: db.deep,
    maxDurationMs: db.maxDurationMs, diskBudgetBytes: db.diskBudgetBytes, leaseSeconds, config: db.config,
  };
}

/** What `fleet sync` changed. */
export interface SyncResult {
  readonly added: readonly string[];
  readonly updated: readonly string[];
  readonly removed: readonly string[];
  /** Jobs queued right away (databases due now). */
  readonly queued: readonly string[];
}

/** Write the fleet file's databases into the fleet table (one transaction); databases no longer listed are removed. */
async function writeFleet(client: pg.PoolClient, fleet: Fleet): Promise<Omit<SyncResult, 'queued'>> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtext('${T}'))`);
  const now = (await client.query<{ now: Date }>('SELECT now() AS now')).rows[0]?.now ?? new Date();
  const old = new Map((await client.query<{ id: string; schedule: string; last_queued: Date | null }>(`SELECT id, schedule, last_queued FROM ${T}`)).rows.map((r) => [r.id, r]));
  const added: string[] = [];
  const updated: string[] = [];
  for (const db of fleet.databases) {
    const before = old.get(db.id);
    old.delete(db.id);
    const spec = JSON.stringify(jobSpec(db, fleet.leaseSeconds));
    if (!before) {
      added.push(db.id);
      await client.query(`INSERT INTO ${T} (id, spec, schedule, priority, next_due) VALUES ($1, $2, $3, $4, $5)`, [db.id, spec, db.schedule.text, db.priority, nextDue(db.schedule, now)]);
      continue;
    }
    updated.push(db.id);
    const rescheduled = before.schedule !== db.schedule.text ? nextDue(db.schedule, now, before.last_queued ?? undefined) : null;
    await client.query(
      `UPDATE ${T} SET spec = $2, schedule = $3, priority = $4, next_due = COALESCE($5, next_due), synced_at = now() WHERE id = $1`,
      [db.id, spec, db.schedule.text, db.priority, rescheduled],
    );
  }
  const removed = [...old.keys()];
  if (removed.length) {
    await client.query(`DELETE FROM ${T} WHERE id = ANY($1)`, [removed]);
    // Their queued drills go too; one that is running finishes and is recorded.
    await client.query(`UPDATE ${QUEUE_SCHEMA}.job SET state = 'cancelled', completed_on = now() WHERE name = $1 AND singleton_key = ANY($2) AND state < 'active'`, [DRILL_QUEUE, removed]);
  }
  await client.query(`INSERT INTO ${S} (key, value) VALUES ('concurrency', $1) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [JSON.stringify(fleet.concurrency)]);
  return { added, updated, removed };
}

/** Run `fn` in one transaction on a client of the pool. */
export async function inTransaction<R>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<R>): Promise<R> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const r = await fn(client);
    await client.query('COMMIT');
    return r;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/** `fleet sync`: the fleet file into the fleet table, then queue what is due now. */
export async function syncFleet(queue: Queue, fleet: Fleet): Promise<SyncResult> {
  await ensureFleetTables(queue.pool);
  const written = await inTransaction(queue.pool, (c) => writeFleet(c, fleet));
  await registerInResults(queue.pool, fleet);
  const queued = await enqueueDue(queue);
  return { ...written, queued };
}

/** The fleet's databases in the results store, which `fleet status` judges by their schedules. */
async function registerInResults(pool: pg.Pool, fleet: Fleet): Promise<void> {
  const client = await pool.connect();
  try {
    await ensureResultsSchema(client);
    await registerDatabases(client, fleet.databases.map((d) => ({
      key: d.id, source: d.source ?? (d.service ? `service=${d.service}` : d.backup ?? d.id), kind: d.kind,
      schedule: d.schedule.text, intervalMs: longestGapMs(d.schedule), priority: d.priority,
    })));
  } finally {
    client.release();
  }
}

interface DueRow { id: string; spec: Omit<DrillJobData, 'due'>; schedule: string; priority: number; next_due: Date }

/** Queue one due database's drill through `client`'s transaction, and move it to its next due time. */
async function queueOne(boss: PgBoss, client: pg.PoolClient, r: DueRow, now: Date): Promise<void> {
  const data: DrillJobData = { ...r.spec, due: r.next_due.toISOString() };
  await boss.send(DRILL_QUEUE, data, {
    singletonKey: r.id, priority: r.priority, expireInSeconds: Math.max(10, r.spec.leaseSeconds), retryLimit: DRILL_RETRY_LIMIT, retryDelay: 5,
    db: { executeSql: (text: string, values: unknown[]) => client.query(text, values) },
  });
  const s = parseSchedule(r.schedule);
  const next = s ? nextDue(s, now, r.next_due) : new Date(now.getTime() + 86_400_000);
  // Never due again within this tick, even when an interval's grid lies in the past (catch up once).
  const after = next.getTime() > now.getTime() ? next : new Date(now.getTime() + (s?.kind === 'interval' ? s.ms : 60_000));
  await client.query(`UPDATE ${T} SET next_due = $2, last_queued = now() WHERE id = $1`, [r.id, after]);
}

/**
 * Queue the drill of every database that is due and has no job queued, retrying or running (so that no queued job
 * ever waits behind an active one of its database), highest priority first. Safe to run from every worker at once:
 * the rows are locked with SKIP LOCKED, and a job is queued in the transaction that moves its row's due time.
 * @returns the ids queued.
 */
export async function enqueueDue(queue: Queue, limit = 1000): Promise<string[]> {
  return inTransaction(queue.pool, async (client) => {
    const now = (await client.query<{ now: Date }>('SELECT now() AS now')).rows[0]?.now ?? new Date();
    const { rows } = await client.query<DueRow>(
      `SELECT d.id, d.spec, d.schedule, d.priority, d.next_due FROM ${T} d
       WHERE d.next_due <= now()
         AND NOT EXISTS (SELECT 1 FROM ${QUEUE_SCHEMA}.job j WHERE j.name = $1 AND j.singleton_key = d.id AND j.state < 'completed')
       ORDER BY d.priority DESC, d.next_due
       LIMIT $2
       FOR UPDATE OF d SKIP LOCKED`,
      [DRILL_QUEUE, limit],
    );
    for (const r of rows) await queueOne(queue.boss, client, r, now);
    return rows.map((r) => r.id);
  });
}

/** The fleet's concurrency per worker as `fleet sync` last wrote it, or undefined before any sync. */
export async function fleetConcurrency(pool: pg.Pool): Promise<number | undefined> {
  await ensureFleetTables(pool);
  const { rows } = await pool.query<{ value: unknown }>(`SELECT value FROM ${S} WHERE key = 'concurrency'`);
  const v = rows[0]?.value;
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
}
