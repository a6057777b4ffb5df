/**
 * `fidelity.row_counts`: the exact row count of every table in the restored copy, against the source's count in the
 * dump's snapshot (a drill) or the dump's own COPY row count (verifying a dump without a source). A table the content
 * hashes read back whole with `COPY … TO STDOUT` is counted by that read-back (its lines are its rows: the same scan,
 * not a second one — a full heap scan of every table, ~0.5 s of backend CPU at pgbench scale 50); every other table
 * (no hashed COPY block, a foreign or filtered read-back, a read-back that failed) by `count(*)` on its own session.
 */
import { countRows, quoteIdent, tableLabel, type TableCount, type TableRef } from '../catalog/tables.js';
import type { DbSession } from '../pg/client.js';
import type { ReportBuilder } from '../report/builder.js';
import type { TableRow } from '../report/model.js';
import type { CopyBlock } from '../scan/types.js';
import { parseQualifiedName } from '../verify/artifact-name.js';
import { gatherCopyTargets } from './copy-targets.js';

/** What to count and what to compare with. */
export interface RowCountPlan {
  /** Exact counts from the dump's snapshot (the tables to count), or null without a source. */
  readonly sourceCounts: readonly TableCount[] | null;
  /** The tables to count when there are no source counts (from the dump's COPY blocks / inventory). */
  readonly tablesFromDump: readonly TableRef[];
  /** The plain dump's COPY blocks: their row counts are reported beside (and, without a source, compared with). */
  readonly copyBlocks: readonly CopyBlock[];
  /** The dump's client_encoding (its COPY lines' bytes are in it): the restored copy is read back in it for the stream hashes. Default UTF8. */
  readonly dumpEncoding?: string;
  /** `schema.name` of every table the restored copy has (a missing one is reported, not counted). */
  readonly restoredTables: ReadonlySet<string>;
}

/**
 * Row counts the content hashes' read-back takes anyway (content-hash-check.ts `readBackCounts`). Their verdict needs
 * no more than this: the read-back reads the quiescent copy, and its lines are `COPY … TO STDOUT`'s rows.
 */
export interface ReadBackCounts {
  /** Labels (`schema.name`) of the tables it reads: their count(*) waits for it, and is taken only where it gives none. */
  readonly tables: ReadonlySet<string>;
  /**
   * Label → rows, of each table read whole and without error (`readBackIsWhole`); settles once the read-back has
   * ended: empty when it failed as a whole (every table then counted with count(*)).
   */
  readonly rows: Promise<ReadonlyMap<string, number>>;
}

/** The tables of a dump's COPY blocks, each once, in the dump's order. */
export function tablesOfCopyBlocks(blocks: readonly CopyBlock[]): TableRef[] {
  const seen = new Set<string>();
  const out: TableRef[] = [];
  for (const b of blocks) {
    const t = parseQualifiedName(b.table);
    if (!t || seen.has(tableLabel(t))) continue;
    seen.add(tableLabel(t));
    out.push(t);
  }
  return out;
}

/**
 * Exact counts of the restored targets: `count(*) FROM ONLY t` (catalog/tables.ts), but a partitioned table's rows
 * are its partitions' (ONLY counts none): blocks naming the root (--load-via-partition-root) carried all of them.
 */
async function countTargets(db: DbSession, present: readonly TableRef[], signal?: AbortSignal): Promise<Map<string, number>> {
  if (!present.length) return new Map();
  const roots = new Set((await db.query<TableRef & Record<string, unknown>>(`
SELECT n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'p' AND (n.nspname, c.relname) IN (SELECT * FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[])))`,
  [present.map((t) => t.schema), present.map((t) => t.name)])).map(tableLabel));
  const out = new Map((await countRows(db, present.filter((t) => !roots.has(tableLabel(t))), signal)).map((c) => [tableLabel(c), c.rows]));
  for (const t of present.filter((x) => roots.has(tableLabel(x)))) {
    signal?.throwIfAborted();
    out.set(tableLabel(t), Number(await db.value<string>(`SELECT count(*) FROM ${quoteIdent(t.schema)}.${quoteIdent(t.name)}`)));
  }
  return out;
}

/**
 * Count the restored tables — from `readBack` where it read a table whole, else with count(*) on `db` — fill the
 * report's table rows (`rows`, in place, once every count is taken) and add `fidelity.row_counts`.
 */
export async function checkRowCounts(b: ReportBuilder, db: DbSession, plan: RowCountPlan, rows: TableRow[], signal?: AbortSignal, readBack: ReadBackCounts | null = null): Promise<void> {
  // Without the source's counts (source.witness: none in a run): the tables are those the dump carries data for.
  const listed: TableRef[] = plan.sourceCounts ? [...plan.sourceCounts] : plan.tablesFromDump.length ? [...plan.tablesFromDump] : tablesOfCopyBlocks(plan.copyBlocks);
  // COPY targets the list lacks (a partitioned root that blocks name, a foreign table with --include-foreign-data): the source lists leaf tables only.
  const labels = new Set(listed.map(tableLabel));
  const refs = [...listed, ...tablesOfCopyBlocks(plan.copyBlocks).filter((t) => !labels.has(tableLabel(t)))];
  const present = refs.filter((t) => plan.restoredTables.has(tableLabel(t)));
  // The tables the read-back does not read are counted while it runs; those it could not count, after it.
  const waits = (t: TableRef) => readBack?.tables.has(tableLabel(t)) ?? false;
  const counted = await countTargets(db, present.filter((t) => !waits(t)), signal);
  const fromReadBack = readBack ? await readBack.rows : new Map<string, number>();
  signal?.throwIfAborted();
  const uncounted = present.filter((t) => waits(t) && !fromReadBack.has(tableLabel(t)));
  for (const [k, n] of await countTargets(db, uncounted, signal)) counted.set(k, n);
  let byReadBack = 0;
  for (const t of present.filter((x) => waits(x) && fromReadBack.has(tableLabel(x)))) {
    counted.set(tableLabel(t), fromReadBack.get(tableLabel(t))!);
    byReadBack++;
  }
  // Several blocks may name one table (a --load-via-partition-root dump: one per leaf, each naming the root): their rows add up.
  const dumpRows = new Map([...gatherCopyTargets(plan.copyBlocks)].map(([k, t]) => [k, t.rows]));
  const sourceRows = new Map((plan.sourceCounts ?? []).map((s) => [tableLabel(s), s.rows]));
  for (const t of refs) {
    const src = sourceRows.get(tableLabel(t)) ?? null;
    const restored = counted.get(tableLabel(t)) ?? null;
    const inDump = dumpRows.get(tableLabel(t)) ?? null;
    const expected = src ?? inDump;
    // With both, the dump's COPY rows must equal the source's too: the source witnesses pg_dump itself.
    rows.push({ schema: t.schema, name: t.name, source_rows: src, restored_rows: restored, dump_rows: inDump, match: restored !== null && (expected === null || restored === expected) && (inDump === null || restored === inDump) });
  }
  const mismatched = rows.filter((t) => !t.match);
  const total = rows.reduce((a, t) => a + (t.restored_rows ?? 0), 0);
  const bySource = plan.sourceCounts !== null;
  const byDump = plan.copyBlocks.length > 0;
  const evidence = [...(byDump ? ['dump-stream'] : []), ...(bySource ? ['source-snapshot'] : [])];
  const against = [...(byDump ? ["the dump's COPY rows (counted by pgdrill as it read the dump)"] : []), ...(bySource ? ["the source's count(*) in the dump snapshot (source.witness)"] : [])].join(' and ') || 'nothing (the dump holds no table data)';
  const side = (t: TableRow) => [...(bySource ? [`source ${t.source_rows ?? '?'}`] : []), ...(t.dump_rows !== null && t.dump_rows !== undefined ? [`dump ${t.dump_rows}`] : [])].join(', ');
  const byCount = counted.size - byReadBack;
  const how = `${byReadBack} read back whole by the content hashes' COPY … TO STDOUT (its rows), ${byCount} by count(*)`;
  b.expect('fidelity.row_counts', 'fidelity', mismatched.length === 0,
    `${rows.length} table(s), ${total} rows: every exact row count of the restored copy (${how}) equals ${against}`,
    `${mismatched.length} table(s) differ: ${mismatched.slice(0, 10).map((t) => `${t.schema}.${t.name} ${side(t)} vs restored ${t.restored_rows ?? 'MISSING'}`).join('; ')} (restored rows: ${how})`,
    { tables: rows.length, rows: total, evidence, counted_by: { read_back: byReadBack, count: byCount } });
}
