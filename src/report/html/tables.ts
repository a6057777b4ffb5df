/**
 * report.html: per table, the rows each side holds and each content hash comparison — a column for every kind of
 * evidence the drill has (the source's exact count in the dump snapshot with `source.witness`, the dump's own COPY
 * rows and hash as pgdrill read the stream, the restored copy). A column no table has is left out: a missing source
 * count never reads as 0. Renders the model; computes nothing.
 */
import type { Report, TableRow } from '../model.js';
import { html, type Html } from './escape.js';
import { num, verdict } from './format.js';
import { TABLES_RECORDED_ONLY, tablesCompared } from '../fidelity-evidence.js';
import { showControls } from '../markdown-cell.js';

function rows(n: number | null | undefined, missing = '—'): string {
  return n === null || n === undefined ? missing : `${num(n)}`;
}

/** One hash comparison: equal/DIFFERENT with both hashes in a tooltip, or why there is none. */
function hashCell(expected: string | null | undefined, restored: string | null | undefined, side: string, ms?: number): Html {
  if (expected === null || expected === undefined) return html`<td class="muted">—</td>`;
  if (restored === null || restored === undefined) return html`<td class="is-fail">not read in the copy</td>`;
  return html`<td title="${side} ${expected} / restored ${restored}${ms === undefined ? '' : ` / hashed in ${ms} ms`}">${verdict(expected === restored, 'equal', 'DIFFERENT')} <code>${restored}</code></td>`;
}

const has = (tables: readonly TableRow[], pick: (t: TableRow) => unknown) => tables.some((t) => pick(t) !== undefined && pick(t) !== null);

/** Exact row counts and content hashes of each table, with what each compares. */
export function tablesSection(r: Report): Html {
  if (!r.tables.length) return html`<section aria-labelledby="tables"><h2 id="tables">Tables</h2><p class="muted">No table was compared.</p></section>`;
  const dump = has(r.tables, (t) => t.dump_rows);
  const source = has(r.tables, (t) => t.source_rows);
  const dumpHashes = has(r.tables, (t) => t.dump_hash);
  const sourceHashes = has(r.tables, (t) => t.source_hash);
  const compared = tablesCompared(r.tables);
  const where = [source ? "on the source in the dump's snapshot" : '', dump ? "in the dump's COPY data as pgdrill read it" : '', 'in the restored copy'].filter(Boolean);
  return html`<section aria-labelledby="tables"><h2 id="tables">Tables</h2>
<table>
<caption>Exact row counts (count(*), in rows) ${where.slice(0, -1).join(', ')}${where.length > 1 ? ' and ' : ''}${where.at(-1)}${dumpHashes || sourceHashes ? ', and content hashes of each table compared' : ''}. ${compared ? `${r.tables.filter((t) => !t.match).length} of ${r.tables.length} tables differ.` : `Rows ${TABLES_RECORDED_ONLY}.`}</caption>
<thead><tr><th scope="col">Table</th>${source ? html`<th scope="col" class="num">Source rows</th>` : ''}${dump ? html`<th scope="col" class="num">Dump rows</th>` : ''}<th scope="col" class="num">Restored rows</th>${dumpHashes ? html`<th scope="col">Content hash vs the dump stream</th>` : ''}${sourceHashes ? html`<th scope="col">Content hash vs the source</th>` : ''}${compared ? html`<th scope="col">Match</th>` : ''}</tr></thead>
<tbody>
${r.tables.map((t) => html`<tr${t.match ? '' : html` class="is-fail"`}><th scope="row"><code>${showControls(`${t.schema}.${t.name}`)}</code></th>${source ? html`<td class="num">${rows(t.source_rows)}</td>` : ''}${dump ? html`<td class="num">${rows(t.dump_rows)}</td>` : ''}<td class="num">${rows(t.restored_rows, 'missing')}</td>${dumpHashes ? hashCell(t.dump_hash, t.restored_copy_hash, 'dump') : ''}${sourceHashes ? hashCell(t.source_hash, t.restored_hash, 'source', t.hash_ms) : ''}${compared ? html`<td>${verdict(t.match, 'yes', 'NO')}</td>` : ''}</tr>`)}
</tbody>
</table>
</section>`;
}
