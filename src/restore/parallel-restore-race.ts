/**
 * What `pg_restore --jobs` can get wrong on a good archive, and how the restore tells it from a backup defect.
 *
 * PostgreSQL's own race (measured on 15.18, issue 21): when a partition index is attached and that makes its
 * partitioned index valid, the server checks the grandparent index too, and releases its lock on it at once
 * (validatePartitionedIndex closes it with its lock mode) — before the attach commits. Two sessions that attach the
 * last index partitions of two sibling sub-trees at once (`ALTER INDEX p1_pkey ATTACH PARTITION p1_1_pkey` beside
 * `ALTER INDEX p2_pkey ATTACH PARTITION p2_2_pkey`) can then each see the other's sub-tree still invalid, and the
 * grandparent (`trigger_parted_pkey`, `fkpart4.droppk_pkey` of the regression database) stays INVALID for good: no
 * error, pg_restore exits 0. A foreign key that references it then fails ("there is no unique constraint matching
 * given keys"). A serial restore never leaves that state: each attach commits before the next one looks.
 * Measured: 3 of 48 `pg_restore -j 2` of the regression database (an archive pg_dump wrote to a pipe, as a drill
 * does) under load; 0 of 50 of the cached archive; every time with two psql sessions, one of them in an open transaction.
 *
 * Its signature in the copy: a partitioned index that is not valid although every partition of its table has an
 * attached, valid index — exactly when PostgreSQL marks one valid (validatePartitionedIndex), so no restore (and no
 * dump) leaves it that way on purpose. A partitioned index that is invalid in the source (an index partition never
 * attached) is dumped without that attach and stays invalid in the copy with a partition missing: not the signature.
 * Besides, errors whose SQLSTATE says "two sessions collided" (deadlock, lock not available, serialization failure)
 * come from the restore's own parallelism, never from the archive.
 */
import type { DbSession } from '../pg/client.js';
import type { RestoreError } from '../report/model.js';

/** SQLSTATEs of sessions colliding (deadlock_detected, lock_not_available, serialization_failure): never the archive's fault. */
export const CONCURRENCY_SQLSTATES: ReadonlySet<string> = new Set(['40P01', '55P03', '40001']);

/**
 * Partitioned indexes left invalid although every partition of their table has an attached, valid index (the race's
 * signature), as `schema.name`. pg_inherits only: the count of partitions is the table's inheritance children, the
 * count of valid index partitions the index's.
 */
export const RACE_INVALID_INDEXES_SQL = `
SELECT n.nspname || '.' || c.relname AS name
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'I' AND NOT i.indisvalid
   AND (SELECT count(*) FROM pg_inherits t WHERE t.inhparent = i.indrelid) > 0
   AND (SELECT count(*) FROM pg_inherits h JOIN pg_index ci ON ci.indexrelid = h.inhrelid WHERE h.inhparent = i.indexrelid AND ci.indisvalid)
     = (SELECT count(*) FROM pg_inherits t WHERE t.inhparent = i.indrelid)
 ORDER BY 1`;

/** Why a parallel restore is not trusted and is done again serially. */
export interface ParallelRestoreRace {
  /** Partitioned indexes with the race's signature (schema.name). */
  readonly invalidIndexes: readonly string[];
  /** The restore's errors whose SQLSTATE is a collision of sessions. */
  readonly concurrencyErrors: readonly RestoreError[];
}

/** The race's traces in a copy just restored with `pg_restore --jobs` (null: none, the restore stands as it is). */
export async function findParallelRestoreRace(db: DbSession, errors: readonly RestoreError[]): Promise<ParallelRestoreRace | null> {
  const invalidIndexes = (await db.query<{ name: string }>(RACE_INVALID_INDEXES_SQL)).map((r) => r.name);
  const concurrencyErrors = errors.filter((e) => e.sqlstate !== null && CONCURRENCY_SQLSTATES.has(e.sqlstate));
  return invalidIndexes.length || concurrencyErrors.length ? { invalidIndexes, concurrencyErrors } : null;
}

/** The report's note on a parallel restore done again serially. */
export function describeParallelRestoreRace(race: ParallelRestoreRace, jobs: number): string {
  const why = [
    ...(race.invalidIndexes.length ? [`partitioned index(es) left invalid although all their partitions were attached: ${race.invalidIndexes.slice(0, 10).join(', ')}${race.invalidIndexes.length > 10 ? `, … (${race.invalidIndexes.length})` : ''}`] : []),
    ...(race.concurrencyErrors.length ? [`${race.concurrencyErrors.length} error(s) of sessions colliding (${[...new Set(race.concurrencyErrors.map((e) => `${e.sqlstate}: ${e.message}`))].slice(0, 3).join('; ')})`] : []),
  ];
  return `pg_restore --jobs=${jobs} showed a race of its parallel sessions (${why.join('; ')}), not a defect of the archive: ` +
    'the database was dropped and the archive restored again serially (--jobs=1), and that restore is what is checked';
}
