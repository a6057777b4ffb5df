/**
 * The source's shared lock table against what a drill holds in it. The lock table is shared by every session of the
 * server and sized max_locks_per_transaction × (max_connections + autovacuum_max_workers + 1 + max_worker_processes
 * + max_wal_senders + max_prepared_transactions) — PostgreSQL's documented capacity; when it is full, *any* session
 * that needs one more lock fails with "out of shared memory" (measured: while one session held 400 table locks of a
 * server sized for 270, another that locked 200 tables failed so; pgdrill's own snapshot session then failed, and
 * pg_dump with "could not import the requested snapshot").
 *
 * What a drill holds at once (measured by blocking each kind of relation with an ACCESS EXCLUSIVE lock, PostgreSQL
 * 15): pg_dump locks every table, and reads — so locks until it ends — every view, materialized view and sequence;
 * the round trip's schema-only pg_dump (only when its source side cannot come from the dump itself:
 * schemaFromDumpPossible) the same but the sequences; the snapshot session counts (and hashes) the
 * tables `LOCK_BATCH` at a time and gives each batch's locks back (lock-batches.ts), and its catalog step locks the
 * views and what they read only while it runs (source-capture.ts). pg_dump's parallel workers lock each table
 * they dump. And every session locks the system catalogs it reads: CATALOG_LOCKS.
 */
import { GuardError } from '../errors.js';
import type { DbSession } from '../pg/client.js';
import type { CheckResult } from '../report/model.js';
import { LOCK_BATCH } from './lock-batches.js';

/** What the guard read. */
export interface LockTableUse {
  /** Tables and partitioned tables outside the system schemas: what pg_dump locks. */
  readonly tables: number;
  /** Views, materialized views and foreign tables: both pg_dumps read (and lock) each. */
  readonly views: number;
  /** Sequences: pg_dump reads (and locks) each for its position. */
  readonly sequences: number;
  /** The snapshot session's most at once: one batch of counts (the LOCK_BATCH tables with the most indexes, each with them) or the catalog step (the views and what they read). */
  readonly sessionPeak: number;
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
  /** Whether the round trip runs a schema-only pg_dump on the source (false when its source side comes from the dump). Default true. */
  readonly schemaDump: boolean;
  /** What the drill holds at once: pg_dump's + the schema-only pg_dump's (when it runs) + the snapshot session's (+ the workers'). */
  readonly need: number;
}

const USER = (c: string) => `${c}.relnamespace NOT IN (SELECT oid FROM pg_namespace WHERE nspname IN ('pg_catalog', 'information_schema') OR nspname LIKE 'pg\\_toast%' OR nspname LIKE 'pg\\_temp%')`;

const SQL = `
SELECT (SELECT count(*)::int FROM pg_class WHERE oid >= 16384) AS relations,
       (SELECT count(*)::int FROM pg_class c WHERE c.relkind IN ('r', 'p') AND ${USER('c')}) AS tables,
       (SELECT count(*)::int FROM pg_class c WHERE c.relkind IN ('v', 'm', 'f') AND ${USER('c')}) AS views,
       (SELECT count(*)::int FROM pg_class c WHERE c.relkind = 'S' AND ${USER('c')}) AS sequences,
       (SELECT coalesce(sum(1 + n), 0)::int FROM (
          SELECT (SELECT count(*) FROM pg_index i WHERE i.indrelid = c.oid) AS n FROM pg_class c
           WHERE c.relkind = 'r' AND ${USER('c')} ORDER BY 1 DESC LIMIT ${LOCK_BATCH}) b) AS batch,
       (SELECT count(*)::int FROM (
          SELECT c.oid FROM pg_class c WHERE c.relkind IN ('v', 'm') AND ${USER('c')}
          UNION
          SELECT d.refobjid FROM pg_depend d JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
            JOIN pg_class c ON c.oid = r.ev_class
           WHERE d.refclassid = 'pg_class'::regclass AND c.relkind IN ('v', 'm') AND ${USER('c')}) v) AS view_locks,
       current_setting('max_locks_per_transaction')::int AS per_tx,
       (current_setting('max_connections')::int + current_setting('autovacuum_max_workers')::int + 1
        + current_setting('max_worker_processes')::int + current_setting('max_wal_senders')::int
        + current_setting('max_prepared_transactions')::int) AS slots`;

/**
 * Locks on the system catalogs and their indexes, whatever the schema's size: each query of a catalog locks it until
 * the transaction ends (beyond a backend's 16 fast-path slots, in the shared table). Measured on PostgreSQL 15 by
 * sampling pg_locks during drills: pg_dump's session 136–145 (the schema-only one as many), its parallel workers
 * none, the snapshot session 81 at most, the guard's 35 — counted as 150 + 150 + 100 + 50 for pgdrill's other
 * sessions (pg_dumpall's, the lock watch's).
 */
export const CATALOG_LOCKS = 450;

/** pg_dump's locks, the schema-only pg_dump's, the parallel workers'. */
const dumpLocks = (u: Pick<LockTableUse, 'tables' | 'views' | 'sequences'>) => u.tables + u.views + u.sequences;
const schemaDumpLocks = (u: Pick<LockTableUse, 'tables' | 'views' | 'schemaDump'>) => (u.schemaDump ? u.tables + u.views : 0);
const workerLocks = (u: Pick<LockTableUse, 'tables'>, dumpWorkers: number) => (dumpWorkers ? u.tables : 0);
type Counted = Pick<LockTableUse, 'tables' | 'views' | 'sequences' | 'sessionPeak' | 'schemaDump'>;
const need = (u: Counted, dumpWorkers: number) => dumpLocks(u) + schemaDumpLocks(u) + u.sessionPeak + workerLocks(u, dumpWorkers) + CATALOG_LOCKS;

/** Read the source's lock table sizing, the relations a drill will lock there, and the relations a restore will lock. */
export async function readLockTableUse(db: DbSession): Promise<LockTableUse> {
  const [r] = await db.query<{ relations: number; tables: number; views: number; sequences: number; batch: number; view_locks: number; per_tx: number; slots: number }>(SQL);
  const u = {
    tables: r!.tables, views: r!.views, sequences: r!.sequences, sessionPeak: Math.max(r!.batch, r!.view_locks), relations: r!.relations,
    maxLocksPerTransaction: r!.per_tx, slots: r!.slots, capacity: r!.per_tx * r!.slots, schemaDump: true,
  };
  return { ...u, dumpWorkers: 0, need: need(u, 0) };
}

/**
 * The drill's locks with pg_dump's parallel workers counted: a directory-format dump with `--jobs` > 1 has its
 * workers lock each table they dump (`LOCK TABLE … NOWAIT`, kept until they end) beside the leader's lock. And the
 * round trip's schema-only pg_dump only when it runs (`schemaDump`, default true: when its source side cannot come
 * from the dump).
 */
export function withDumpWorkers(u: LockTableUse, format: string, jobs: number | undefined, schemaDump = true): LockTableUse {
  const dumpWorkers = format === 'directory' && (jobs ?? 1) > 1 ? jobs! : 0;
  const shaped = { ...u, schemaDump };
  return { ...shaped, dumpWorkers, need: need(shaped, dumpWorkers) };
}

/** How the drill's locks compare with the lock table, in words (for the check and the refusal). */
export function describeLockTableUse(u: LockTableUse): string {
  const workers = u.dumpWorkers ? ` + pg_dump's ${u.dumpWorkers} parallel workers ${workerLocks(u, u.dumpWorkers)}` : '';
  return `${u.tables} table(s), ${u.views} view(s)/materialized view(s)/foreign table(s), ${u.sequences} sequence(s): ` +
    `pg_dump ${dumpLocks(u)}${u.schemaDump ? ` + the round trip's schema-only pg_dump ${schemaDumpLocks(u)}` : ''} + the snapshot session at most ${u.sessionPeak} ` +
    `(it counts ${LOCK_BATCH} tables at a time and gives their locks back after each batch)${workers} + ~${CATALOG_LOCKS} on the system catalogs = ~${u.need} locks held at once, ` +
    `${Math.round((100 * u.need) / Math.max(1, u.capacity))}% of the source's lock table (max_locks_per_transaction ${u.maxLocksPerTransaction} × ${u.slots} server slots = ${u.capacity})`;
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
export function lockTableCheck(u: LockTableUse): CheckResult {
  const detail = describeLockTableUse(u);
  const evidence = { tables: u.tables, views: u.views, sequences: u.sequences, session_peak: u.sessionPeak, dump_workers: u.dumpWorkers, need: u.need, capacity: u.capacity, max_locks_per_transaction: u.maxLocksPerTransaction, slots: u.slots };
  if (2 * u.need <= u.capacity) return { name: 'guard.lock_table', stage: 'guard', status: 'pass', detail, evidence };
  return {
    name: 'guard.lock_table', stage: 'guard', status: 'warn', evidence,
    detail: `${detail}: more than half of it, for the whole dump — production transactions that need many locks at once may fail with "out of shared memory" meanwhile; raise max_locks_per_transaction on the source`,
  };
}
