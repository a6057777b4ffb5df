/**
 * Content hashes per table, computed in the server and streamed: PostgreSQL reads the table once, hashes each
 * row's text with md5 and folds the per-row digests into sums; only one short string per table reaches Node.
 *
 * Why this shape:
 * - **Order-independent**: the fold is a sum (sum(bigint) accumulates in numeric, so it never overflows) of the
 *   first 64 bits of each row's md5. A sum does not care in which order rows come, so tables without a primary key
 *   hash the same whatever their physical order; unlike xor, two identical rows do not cancel out. The row count
 *   goes in too. (A second 64-bit half would cost a third more for a collision chance already about 2^-64; the
 *   hex-to-bigint step is the expensive part: about 3 µs per row in all, measured on pgbench_accounts.)
 * - **Deterministic text**: each row is `ROW(col, …)::text` with the columns ordered by *name* (not position:
 *   a restored inheritance child may order its columns differently), in a session whose TimeZone, DateStyle,
 *   IntervalStyle, extra_float_digits and bytea_output are fixed (see session.ts). NULL prints as nothing and ''
 *   as `""`, so they differ. `money` prints with lc_monetary's currency format, which can differ between the
 *   source and the sandbox, so money columns (and domains over money, money arrays) are hashed as numeric.
 * - **Same rows as count(*)**: `FROM ONLY`, so inheritance children and partitions are hashed on their own.
 */
import type { DbSession } from '../pg/client.js';
import { quoteIdent, tableFailure, tableLabel, type TableFailure, type TableRef } from '../catalog/tables.js';
import { eachInTurn, eachReleasingLocks, LOCK_BATCH } from '../source/lock-batches.js';

/** One table's hash and what computing it cost. */
export interface TableHash extends TableRef {
  /** md5 of `rows:sum(first 64 bits of each row's md5)`. */
  readonly hash: string;
  readonly rows: number;
  readonly ms: number;
}

interface ColumnRow extends Record<string, unknown> {
  schema: string;
  name: string;
  column: string;
  base: string;
}

/** One query: every column of the given tables, with its type (a domain's base type) to pick its text form. */
async function columnsOf(db: DbSession, tables: readonly TableRef[]): Promise<Map<string, ColumnRow[]>> {
  const out = new Map<string, ColumnRow[]>(tables.map((t) => [tableLabel(t), []]));
  if (!tables.length) return out;
  const rows = await db.query<ColumnRow>(`
SELECT n.nspname AS schema, c.relname AS name, a.attname AS column,
       CASE WHEN t.typtype = 'd' THEN (SELECT b.typname FROM pg_catalog.pg_type b WHERE b.oid = t.typbasetype) ELSE t.typname END AS base
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
 WHERE a.attnum > 0 AND NOT a.attisdropped
   AND (n.nspname, c.relname) IN (SELECT * FROM unnest($1::text[], $2::text[]))
 ORDER BY 1, 2, a.attname COLLATE "C"`, [tables.map((t) => t.schema), tables.map((t) => t.name)]);
  for (const r of rows) out.get(tableLabel(r))?.push(r);
  return out;
}

/** The text form of one column inside the row. */
function columnExpr(c: ColumnRow): string {
  const col = quoteIdent(c.column);
  if (c.base === 'money') return `${col}::pg_catalog.numeric`;
  if (c.base === '_money') return `${col}::pg_catalog.numeric[]`;
  return col;
}

/** The hash query of one table (exported for tests and the README). */
export function hashSql(table: TableRef, columns: readonly { column: string; base: string }[]): string {
  const row = `ROW(${columns.map((c) => columnExpr(c as ColumnRow)).join(', ')})::text`;
  return `SELECT count(*)::text AS rows, md5(count(*)::text || ':' || coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint), 0)::text) AS hash
  FROM (SELECT md5(${row}) AS h FROM ONLY ${quoteIdent(table.schema)}.${quoteIdent(table.name)}) AS r`;
}

async function hashOne(db: DbSession, t: TableRef, columns: Map<string, ColumnRow[]>): Promise<TableHash> {
  const t0 = performance.now();
  const [r] = await db.query<{ rows: string; hash: string }>(hashSql(t, columns.get(tableLabel(t)) ?? []));
  return { schema: t.schema, name: t.name, hash: r!.hash, rows: Number(r!.rows), ms: Math.round(performance.now() - t0) };
}

/**
 * Hash each table, one after the other, on one session (on the source: the dump's snapshot session, so the
 * hashes describe exactly what the dump holds). The session must have been prepared with prepareFidelitySession.
 * `releaseLocks` (in the snapshot's transaction): a batch's locks are released after it (src/source/lock-batches.ts).
 */
export async function hashTables(db: DbSession, tables: readonly TableRef[], signal?: AbortSignal, opts: { releaseLocks?: boolean } = {}): Promise<TableHash[]> {
  const columns = await columnsOf(db, tables);
  const hash = (t: TableRef) => {
    signal?.throwIfAborted();
    return hashOne(db, t, columns);
  };
  return eachInTurn(db, tables, hash, opts.releaseLocks);
}

/**
 * `hashTables` in the source's snapshot session, releasing locks by batch, where a table whose hash fails on its
 * own (a column's output function, a plan that inlines a SQL function pg_dump's empty search_path cannot resolve:
 * src/source/lock-batches.ts `isPerObjectFailure`) is listed in `failures` and every other table is still hashed.
 */
export async function hashSourceTables(db: DbSession, tables: readonly TableRef[], signal?: AbortSignal): Promise<{ readonly hashes: TableHash[]; readonly failures: TableFailure[] }> {
  const columns = await columnsOf(db, tables);
  const r = await eachReleasingLocks(db, tables, (t) => {
    signal?.throwIfAborted();
    return hashOne(db, t, columns);
  }, LOCK_BATCH, true);
  return { hashes: r.results, failures: r.failures.map(tableFailure) };
}

/**
 * Hash tables over several sessions at once (the restored copy, where nothing else runs). `open` gives a
 * prepared session; each worker takes the next table from a shared queue. Results come back in `tables` order.
 */
export async function hashTablesParallel(
  open: () => Promise<DbSession>, tables: readonly TableRef[], jobs: number, signal?: AbortSignal,
): Promise<TableHash[]> {
  const results = new Map<string, TableHash>();
  let next = 0;
  const worker = async () => {
    const db = await open();
    try {
      const columns = await columnsOf(db, tables);
      while (next < tables.length) {
        signal?.throwIfAborted();
        const t = tables[next++]!;
        results.set(tableLabel(t), await hashOne(db, t, columns));
      }
    } finally {
      await db.close();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, tables.length)) }, worker));
  return tables.map((t) => results.get(tableLabel(t))!);
}
