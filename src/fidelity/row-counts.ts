/**
 * `fidelity.row_counts`: an exact `count(*)` of every table in the restored copy, against the source's count in the
 * dump's snapshot (a drill) or the dump's own COPY row count (verifying a dump without a source). Runs in the
 * fidelity stage, beside the catalog comparison and amcheck (its own session): counting a large table is a full
 * scan, and on a machine with cores to spare it need not wait for the others.
 */
import { countRows, tableLabel, type TableCount, type TableRef } from '../catalog/tables.js';
import type { DbSession } from '../pg/client.js';
import type { ReportBuilder } from '../report/builder.js';
import type { TableRow } from '../report/model.js';
import type { CopyBlock } from '../scan/types.js';

/** What to count and what to compare with. */
export interface RowCountPlan {
  /** Exact counts from the dump's snapshot (the tables to count), or null without a source. */
  readonly sourceCounts: readonly TableCount[] | null;
  /** The tables to count when there are no source counts (from the dump's COPY blocks / inventory). */
  readonly tablesFromDump: readonly TableRef[];
  /** The plain dump's COPY blocks: their row counts are reported beside (and, without a source, compared with). */
  readonly copyBlocks: readonly CopyBlock[];
  /** `schema.name` of every table the restored copy has (a missing one is reported, not counted). */
  readonly restoredTables: ReadonlySet<string>;
}

/** Count the restored tables, fill the report's table rows (`rows`, in place) and add `fidelity.row_counts`. */
export async function checkRowCounts(b: ReportBuilder, db: DbSession, plan: RowCountPlan, rows: TableRow[], signal?: AbortSignal): Promise<void> {
  const refs: TableRef[] = plan.sourceCounts ? [...plan.sourceCounts] : [...plan.tablesFromDump];
  const present = refs.filter((t) => plan.restoredTables.has(tableLabel(t)));
  const counted = new Map((await countRows(db, present, signal)).map((c) => [tableLabel(c), c.rows]));
  const dumpRows = new Map(plan.copyBlocks.map((c) => [c.table.replace(/"/g, ''), c.rows]));
  const sourceRows = new Map((plan.sourceCounts ?? []).map((s) => [tableLabel(s), s.rows]));
  for (const t of refs) {
    const src = sourceRows.get(tableLabel(t)) ?? null;
    const restored = counted.get(tableLabel(t)) ?? null;
    const inDump = dumpRows.get(tableLabel(t)) ?? null;
    const expected = src ?? inDump;
    rows.push({ schema: t.schema, name: t.name, source_rows: src, restored_rows: restored, dump_rows: inDump, match: restored !== null && (expected === null || restored === expected) });
  }
  const mismatched = rows.filter((t) => !t.match);
  const total = rows.reduce((a, t) => a + (t.restored_rows ?? 0), 0);
  const bySource = plan.sourceCounts !== null;
  b.expect('fidelity.row_counts', 'fidelity', mismatched.length === 0,
    `${rows.length} table(s), ${total} rows: every exact count(*) equals the ${bySource ? "source's in the dump snapshot" : "dump's COPY rows"}`,
    `${mismatched.length} table(s) differ: ${mismatched.slice(0, 10).map((t) => `${t.schema}.${t.name} ${bySource ? 'source' : 'dump'} ${t.source_rows ?? t.dump_rows} vs restored ${t.restored_rows ?? 'MISSING'}`).join('; ')}`,
    { tables: rows.length, rows: total });
}
