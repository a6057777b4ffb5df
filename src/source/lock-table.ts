/**
 * The source's shared lock table against what a drill holds in it. pg_dump takes an ACCESS SHARE lock on every
 * table it dumps and keeps it until it ends; so do the round trip's schema-only pg_dump and the snapshot session
 * that counts every table — whose plans lock the table's indexes too: three locks per table and one per index of
 * those tables, at once. The lock table is shared by every session of the
 * server and sized max_locks_per_transaction × (max_connections + autovacuum_max_workers + 1 + max_worker_processes
 * + max_wal_senders + max_prepared_transactions) — PostgreSQL's documented capacity; when it is full, *any* session
 * that needs one more lock fails with "out of shared memory" (measured: while one session held 400 table locks of a
 * server sized for 270, another that locked 200 tables failed so; pgdrill's own snapshot session then failed, and
 * pg_dump with "could not import the requested snapshot").
 */
import { GuardError } from '../errors.js';
import type { DbSession } from '../pg/client.js';
import type { Check } from '../report/model.js';

/** Locks per table a drill holds on the source at once: pg_dump, the schema-only pg_dump, the count in the snapshot (plus one per index, the count's plan). */
export const LOCKS_PER_TABLE = 3;

/** What the guard read. */
export interface LockTableUse {
  /** Tables and partitioned tables outside the system schemas: what pg_dump locks. */
  readonly tables: number;
  /** Indexes of those tables: the count of each table locks them too. */
  readonly indexes: number;
  /**
   * Every user relation (pg_class oid ≥ 16384: tables, indexes, sequences, views, TOAST tables and their indexes): what
   * a restore in one transaction locks in the sandbox, whose lock table is sized by it.
   */
  readonly relations: number;
  readonly maxLocksPerTransaction: number;
  /** Server slots the lock table is sized for (max_connections + autovacuum workers + 1 + worker processes + WAL senders + prepared transactions). */
  readonly slots: number;
  /** The documented capacity: maxLocksPerTransaction × slots. */
  readonly capacity: number;
  /** pg_dump's parallel workers (`--format directory --jobs N`), 0 without: each locks the tables it dumps, one more lock per table. */
  readonly dumpWorkers: number;
  /** What the drill holds at once: tables × (LOCKS_PER_TABLE, +1 with dump workers) + indexes. */
  readonly need: number;
}

const SQL = `
SELECT (SELECT count(*)::int FROM pg_class WHERE oid >= 16384) AS relations,
       (SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%') AS tables,
       (SELECT count(*)::int FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%') AS indexes,
       current_setting('max_locks_per_transaction')::int AS per_tx,
       (current_setting('max_connections')::int + current_setting('autovacuum_max_workers')::int + 1
        + current_setting('max_worker_processes')::int + current_setting('max_wal_senders')::int
        + current_setting('max_prepared_transactions')::int) AS slots`;

/** Locks per table with `dumpWorkers` parallel pg_dump workers (0: none). */
const perTable = (dumpWorkers: number) => LOCKS_PER_TABLE + (dumpWorkers ? 1 : 0);
const need = (tables: number, indexes: number, dumpWorkers: number) => tables * perTable(dumpWorkers) + indexes;

/** Read the source's lock table sizing, the tables a drill will lock there, and the relations a restore will lock. */
export async function readLockTableUse(db: DbSession): Promise<LockTableUse> {
  const [r] = await db.query<{ relations: number; tables: number; indexes: number; per_tx: number; slots: number }>(SQL);
  const capacity = r!.per_tx * r!.slots;
  const u = { tables: r!.tables, indexes: r!.indexes, relations: r!.relations, maxLocksPerTransaction: r!.per_tx, slots: r!.slots, capacity };
  return { ...u, dumpWorkers: 0, need: need(u.tables, u.indexes, 0) };
}

/**
 * The drill's locks with pg_dump's parallel workers counted: a directory-format dump with `--jobs` > 1 has its
 * workers lock each table they dump (`LOCK TABLE … NOWAIT`, kept until they end) beside the leader's lock.
 */
export function withDumpWorkers(u: LockTableUse, format: string, jobs: number | undefined): LockTableUse {
  const dumpWorkers = format === 'directory' && (jobs ?? 1) > 1 ? jobs! : 0;
  return { ...u, dumpWorkers, need: need(u.tables, u.indexes, dumpWorkers) };
}

/** How the drill's locks compare with the lock table, in words (for the check and the refusal). */
export function describeLockTableUse(u: LockTableUse): string {
  const workers = u.dumpWorkers ? `, pg_dump's ${u.dumpWorkers} parallel workers` : '';
  return `${u.tables} table(s) × ${perTable(u.dumpWorkers)} (pg_dump, the round trip's schema-only pg_dump, the counts in the snapshot${workers}) + their ${u.indexes} index(es) (the counts' plans) = ~${u.need} locks held at once, ${Math.round((100 * u.need) / Math.max(1, u.capacity))}% of the source's lock table (max_locks_per_transaction ${u.maxLocksPerTransaction} × ${u.slots} server slots = ${u.capacity})`;
}

/**
 * Refuse (exit 3, before anything is done) a drill whose locks would not fit the source's lock table (times
 * `maxShare`, the config's `source.max_lock_table_share`): pg_dump could fail with "out of shared memory" after
 * filling it, and production's sessions with it.
 */
export function assertLockTableFits(u: LockTableUse, maxShare = 1): void {
  if (u.need <= u.capacity * maxShare) return;
  throw new GuardError(
    `the drill would hold more locks on the source than its lock table is sized for: ${describeLockTableUse(u)}. ` +
      `Once it is full, every session that needs a lock fails with "out of shared memory" — production's too. ` +
      `Raise max_locks_per_transaction on the source (it takes a restart), or drill a database with fewer tables` +
      (maxShare === 1 ? ` (source.max_lock_table_share above 1 only for a server known to have room beyond its documented size).` : ` (source.max_lock_table_share is ${maxShare}).`),
    'lock_table', `at most ${Math.floor(u.capacity * maxShare)} locks`, `~${u.need} locks`);
}

/**
 * `guard.lock_table`: pass below half the capacity; warn above it (the drill runs, but production transactions
 * that need many locks at once may fail with "out of shared memory" while it does). Above the capacity the drill
 * was refused before this check could be written.
 */
export function lockTableCheck(u: LockTableUse): Check {
  const detail = describeLockTableUse(u);
  const evidence = { tables: u.tables, indexes: u.indexes, dump_workers: u.dumpWorkers, need: u.need, capacity: u.capacity, max_locks_per_transaction: u.maxLocksPerTransaction, slots: u.slots };
  if (2 * u.need <= u.capacity) return { name: 'guard.lock_table', stage: 'guard', status: 'pass', detail, evidence };
  return {
    name: 'guard.lock_table', stage: 'guard', status: 'warn', evidence,
    detail: `${detail}: more than half of it, for the whole dump — production transactions that need many locks at once may fail with "out of shared memory" meanwhile; raise max_locks_per_transaction on the source`,
  };
}
