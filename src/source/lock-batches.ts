/**
 * Work over many tables in the dump's snapshot without piling up their locks. A lock taken inside a savepoint is
 * released as soon as the transaction rolls back to it (PostgreSQL's documentation, "Explicit Locking"), while the
 * transaction — and its snapshot, which pg_dump imported — stays open. So the snapshot session counts (or hashes)
 * `LOCK_BATCH` tables at a time and rolls back to a savepoint after each batch: it holds the locks of one batch
 * (each table and its indexes, which the plan opens) instead of every table's for the whole dump. Nothing is lost:
 * the work is read-only, and pg_dump keeps its own ACCESS SHARE lock on every table until it ends.
 */
import type { DbSession } from '../pg/client.js';

/** Tables per batch: the snapshot session's locks are at most these tables and their indexes (lock-table.ts). */
export const LOCK_BATCH = 50;

const SAVEPOINT = 'pgdrill_lock_batch';

/**
 * `each` over `items` in order, inside a savepoint rolled back to after every `batch` items (and after the last),
 * then released. The session must be in a transaction. A failure propagates as it came (the transaction is then
 * aborted, as it would have been without the savepoint).
 */
export async function eachReleasingLocks<T, R>(db: DbSession, items: readonly T[], each: (item: T) => Promise<R>, batch = LOCK_BATCH): Promise<R[]> {
  const out: R[] = [];
  if (!items.length) return out;
  await db.query(`SAVEPOINT ${SAVEPOINT}`);
  for (let i = 0; i < items.length; i++) {
    out.push(await each(items[i]!));
    if ((i + 1) % batch === 0 || i === items.length - 1) await db.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
  }
  await db.query(`RELEASE SAVEPOINT ${SAVEPOINT}`);
  return out;
}

/** `each` over `items` in order: releasing locks batch by batch (`eachReleasingLocks`) when asked, else plainly. */
export async function eachInTurn<T, R>(db: DbSession, items: readonly T[], each: (item: T) => Promise<R>, releaseLocks = false): Promise<R[]> {
  if (releaseLocks) return eachReleasingLocks(db, items, each);
  const out: R[] = [];
  for (const item of items) out.push(await each(item));
  return out;
}
