/**
 * report.md's table of tables (§4): per table, the rows each side holds and each content hash comparison, a column
 * for every kind of evidence the drill has — the source's exact count in the dump snapshot (`source.witness`), the
 * dump's own COPY rows and hash (pgdrill read the stream), the restored copy. A column none of the tables has is
 * left out (a physical backup's tables have only restored rows), so that a missing source count never reads as 0
 * or as the dump's. Renders the model; computes nothing.
 */
import type { TableRow } from './model.js';
import { mdCell } from './markdown-cell.js';
import { TABLES_RECORDED_ONLY, tablesCompared } from './fidelity-evidence.js';

/** `equal <hash>`, `DIFFERENT …`, or why there is nothing to compare. */
function hashCell(expected: string | null | undefined, restored: string | null | undefined, expectedSide: string): string {
  if (expected === undefined) return '—';
  if (expected === null) return `— (none ${expectedSide})`;
  if (restored === null || restored === undefined) return '**not read** in the copy';
  return expected === restored ? `equal \`${restored}\`` : `**DIFFERENT** ${expectedSide} \`${expected}\`, restored \`${restored}\``;
}

const has = (tables: readonly TableRow[], pick: (t: TableRow) => unknown) => tables.some((t) => pick(t) !== undefined && pick(t) !== null);

/** One column of the table: its header, its alignment, its cell. */
interface Column {
  readonly head: string;
  readonly align: string;
  readonly cell: (t: TableRow) => string;
}

/** The columns the tables' evidence calls for. */
function columnsOf(tables: readonly TableRow[]): Column[] {
  const dumpRows = has(tables, (t) => t.dump_rows);
  const cols: Column[] = [{ head: 'table', align: '---', cell: (t) => mdCell(`${t.schema}.${t.name}`) }];
  // Source counts exist only with source.witness (run, demo) or in older reports; a physical backup has neither column.
  if (has(tables, (t) => t.source_rows)) cols.push({ head: 'source rows (dump snapshot)', align: '---:', cell: (t) => `${t.source_rows ?? '—'}` });
  if (dumpRows) cols.push({ head: 'dump rows', align: '---:', cell: (t) => `${t.dump_rows ?? '—'}` });
  cols.push({ head: 'restored rows', align: '---:', cell: (t) => `${t.restored_rows ?? 'MISSING'}` });
  if (tables.some((t) => t.dump_hash !== undefined)) cols.push({ head: 'content hash vs the dump stream', align: '---', cell: (t) => hashCell(t.dump_hash, t.restored_copy_hash, 'in the dump') });
  if (tables.some((t) => t.source_hash !== undefined)) {
    cols.push({ head: 'content hash vs the source (ms: source / restored)', align: '---', cell: (t) => `${hashCell(t.source_hash, t.restored_hash, 'on the source')} (${t.hash_ms ?? '—'} / ${t.restored_hash_ms ?? '—'})` });
  }
  if (tablesCompared(tables)) cols.push({ head: 'match', align: '---', cell: (t) => (t.match ? 'yes' : '**NO**') });
  return cols;
}

/** §4's table of exact row counts and content hashes. */
export function renderTables(tables: readonly TableRow[]): string {
  const cols = columnsOf(tables);
  const hashes = tables.some((t) => t.dump_hash !== undefined || t.source_hash !== undefined);
  const row = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return `### Tables (exact row counts${hashes ? ' and content hashes' : ''}${tablesCompared(tables) ? '' : `, ${TABLES_RECORDED_ONLY}`})\n\n${row(cols.map((c) => c.head))}\n|${cols.map((c) => c.align).join('|')}|\n${tables
    .map((t) => row(cols.map((c) => c.cell(t))))
    .join('\n')}\n`;
}
