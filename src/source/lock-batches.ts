/**
 * Work over many tables in the dump's snapshot without piling up their locks. A lock taken inside a savepoint is
 * released as soon as the transaction rolls back to it (PostgreSQL's documentation, "Explicit Locking"), while the
 * transaction — and its snapshot, which pg_dump imported — stays open. So the snapshot session counts (or hashes)
 * `LOCK_BATCH` tables at a time and rolls back to a savepoint after each batch: it holds the locks of one batch
 * (each table and its indexes, which the plan opens) instead of every table's for the whole dump. Nothing is lost:
 * the work is read-only, and pg_dump keeps its own ACCESS SHARE lock on every table until it ends.
 */
import { QueryError, type DbSession } from '../pg/client.js';

/** Tables per batch: the snapshot session's locks are at most these tables and their indexes (lock-table.ts). */
export const LOCK_BATCH = 50;

const SAVEPOINT = 'pgdrill_lock_batch';

/** An item whose statement failed on its own (see `isPerObjectFailure`): the walk went on without it. */
export interface ItemFailure<T> {
  readonly item: T;
  readonly error: QueryError;
}

/** What a walk over tables gave: a result for each item that succeeded, and the items that failed on their own. */
export interface WalkResult<T, R> {
  readonly results: R[];
  readonly failures: ItemFailure<T>[];
}

/**
 * Did this statement fail because of the one object it read (and not because of the session, the server or an
 * interrupt)? A table's count or hash can fail on its own: its plan inlines a SQL function written with an
 * unqualified name, which pg_dump's empty search_path cannot resolve (42P01/42883); a privilege (42501); a data
 * error in a column's output (22xxx); a PL routine's error (38/39/P0); a damaged page (XX001/XX002). A lock timeout
 * (55P03: the lock failure check names the blocker), a cancel (57014), a recovery conflict (40001), a lost or shut
 * down connection (08, 57P) and anything without SQLSTATE are the session's, never one table's.
 */
export function isPerObjectFailure(err: unknown): err is QueryError {
  if (!(err instanceof QueryError) || !err.sqlstate) return false;
  const s = err.sqlstate;
  return ['42', '22', '0A', '2F', '38', '39', '44', '54', 'P0'].includes(s.slice(0, 2)) || s === 'XX001' || s === 'XX002';
}

/**
 * `each` over `items` in order, inside a savepoint rolled back to after every `batch` items (and after the last),
 * then released. The session must be in a transaction. A failure propagates as it came (the transaction is then
 * aborted, as it would have been without the savepoint) — unless `tolerate` is set and `isPerObjectFailure` says it
 * is the item's own: then the session rolls back to the savepoint (the results already read are kept: the work only
 * reads), the item is listed in `failures`, and the walk goes on with the next item. No extra round trip while
 * nothing fails.
 */
export async function eachReleasingLocks<T, R>(db: DbSession, items: readonly T[], each: (item: T) => Promise<R>, batch = LOCK_BATCH, tolerate = false): Promise<WalkResult<T, R>> {
  const results: R[] = [];
  const failures: ItemFailure<T>[] = [];
  if (!items.length) return { results, failures };
  await db.query(`SAVEPOINT ${SAVEPOINT}`);
  for (let i = 0; i < items.length; i++) {
    try {
      results.push(await each(items[i]!));
    } catch (err) {
      if (!tolerate || !isPerObjectFailure(err)) throw err;
      failures.push({ item: items[i]!, error: err });
      await db.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
      continue;
    }
    if ((i + 1) % batch === 0 || i === items.length - 1) await db.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
  }
  await db.query(`RELEASE SAVEPOINT ${SAVEPOINT}`);
  return { results, failures };
}

/** `each` over `items` in order: releasing locks batch by batch (`eachReleasingLocks`) when asked, else plainly. */
export async function eachInTurn<T, R>(db: DbSession, items: readonly T[], each: (item: T) => Promise<R>, releaseLocks = false): Promise<R[]> {
  if (releaseLocks) return (await eachReleasingLocks(db, items, each)).results;
  const out: R[] = [];
  for (const item of items) out.push(await each(item));
  return out;
}
