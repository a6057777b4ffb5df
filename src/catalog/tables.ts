/**
 * The tables whose rows a dump carries, and exact row counts. Counts are `count(*)`, never `reltuples`
 * (an estimate; -1 when never analyzed). On the source they run inside the dump's exported snapshot.
 */
import type { DbSession } from '../pg/client.js';
import { eachInTurn, eachReleasingLocks, LOCK_BATCH } from '../source/lock-batches.js';

/** A table that holds data of its own (leaf partitions included, partitioned parents not). */
export interface TableRef {
  readonly schema: string;
  readonly name: string;
}

/** Exact rows of one table, and what counting cost. */
export interface TableCount extends TableRef {
  readonly rows: number;
  readonly ms: number;
}

export const TABLES_SQL = `
SELECT n.nspname AS schema, c.relname AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg_toast%'
   AND n.nspname NOT LIKE 'pg_temp%' AND c.relpersistence <> 't'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY 1, 2`;

/** List the tables of the connected database. */
export async function listTables(db: DbSession): Promise<TableRef[]> {
  return db.query<TableRef & Record<string, unknown>>(TABLES_SQL);
}

/** Quote an identifier for SQL. */
export function quoteIdent(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

/** `schema.table` for display. */
export function tableLabel(t: TableRef): string {
  return `${t.schema}.${t.name}`;
}

/** One table's exact count. */
async function countTable(db: DbSession, t: TableRef, signal?: AbortSignal): Promise<TableCount> {
  signal?.throwIfAborted();
  const t0 = performance.now();
  const rows = await db.value<string>(`SELECT count(*) FROM ONLY ${quoteIdent(t.schema)}.${quoteIdent(t.name)}`);
  return { schema: t.schema, name: t.name, rows: Number(rows), ms: Math.round(performance.now() - t0) };
}

/**
 * Count each table's rows exactly (`SELECT count(*) FROM ONLY t`: inheritance children are counted on their own).
 * `releaseLocks` (the source's snapshot session, in its transaction): count in batches whose locks are released
 * after each (src/source/lock-batches.ts).
 */
export async function countRows(db: DbSession, tables: readonly TableRef[], signal?: AbortSignal, opts: { releaseLocks?: boolean } = {}): Promise<TableCount[]> {
  return eachInTurn(db, tables, (t) => countTable(db, t, signal), opts.releaseLocks);
}

/** A table whose count (or hash) failed on its own, and why (the server's message, with its SQLSTATE). */
export interface TableFailure extends TableRef {
  readonly error: string;
  readonly sqlstate: string | null;
}

/** Exact counts of the tables that could be counted, and the tables whose count failed on its own. */
export interface SourceCounts {
  readonly counts: TableCount[];
  readonly failures: TableFailure[];
}

/**
 * `countRows` in the source's snapshot session, releasing locks by batch, where a table whose count fails on its
 * own (src/source/lock-batches.ts `isPerObjectFailure`: e.g. its plan inlines a SQL function that pg_dump's empty
 * search_path cannot resolve) is listed in `failures` and the others are still counted: one table must not cost
 * the whole drill (the dump goes on, is summed and restored). Session failures (lock timeouts, interrupts, a lost
 * connection) still propagate.
 */
export async function countSourceRows(db: DbSession, tables: readonly TableRef[], signal?: AbortSignal): Promise<SourceCounts> {
  const r = await eachReleasingLocks(db, tables, (t) => countTable(db, t, signal), LOCK_BATCH, true);
  return { counts: r.results, failures: r.failures.map(tableFailure) };
}

/** A walk's failure as the report names it. */
export function tableFailure(f: { readonly item: TableRef; readonly error: Error & { readonly sqlstate?: string } }): TableFailure {
  return { schema: f.item.schema, name: f.item.name, error: f.error.message, sqlstate: f.error.sqlstate ?? null };
}
