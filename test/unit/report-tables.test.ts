/**
 * report.md and report.html show, per table, the evidence each comparison rests on: a column for the source's counts
 * only when a witness took them (a null source count never reads as 0 or as the dump's), the dump stream's rows and
 * hashes, the restored copy's. And the fidelity section of a verify (no source) claims no time on the source.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderHtml } from '../../src/report/html.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { ReportSchema, type Report, type TableRow } from '../../src/report/model.js';
import { passReport } from '../helpers/sample-report.js';

const H = 'c2:7147234897a109b6';
const stream = (name: string, rows: number, extra: Partial<TableRow> = {}): TableRow =>
  ({ schema: 'public', name, source_rows: null, restored_rows: rows, dump_rows: rows, match: true, dump_hash: H, restored_copy_hash: H, ...extra });

/** A verify of a dump without a source: rows and hashes from the dump's stream only. */
function verifyReport(tables: TableRow[]): Report {
  const base = passReport();
  return ReportSchema.parse({
    ...base, kind: 'verify', tables,
    fidelity: {
      deep: false, differences: [], differences_omitted: 0, catalog: null, round_trip: null, extensions_missing: [], normalisations: [],
      hashes: { tables: tables.length, equal: tables.filter((t) => t.dump_hash === t.restored_copy_hash).length, source_ms: 0, restored_ms: 562, large_objects: 0, large_objects_differ: 0, evidence: ['dump-stream'] },
      amcheck: { exit_code: 0, relations_checked: 364, corrupt: 0, relations: [], error: null, ms: 1018 },
    },
  });
}

const tablesMd = (md: string) => md.slice(md.indexOf('### Tables'), md.indexOf('### Fidelity'));

test('verify without a source: dump rows and stream hashes, no source column, no source time', () => {
  const r = verifyReport([stream('actor', 200), stream('film', 1000)]);
  const md = renderMarkdown(r);
  const t = tablesMd(md);
  assert.match(t, /\| table \| dump rows \| restored rows \| content hash vs the dump stream \| match \|/);
  assert.match(t, new RegExp(`\\| public\\.actor \\| 200 \\| 200 \\| equal \`${H}\` \\| yes \\|`));
  assert.doesNotMatch(t, /source rows/);
  assert.match(md, /content_hashes: 2\/2 tables equal \(restored 562 ms\); evidence: the dump's own COPY lines \(no source read\)/);
  assert.doesNotMatch(md, /source 0 ms/);
  assert.match(md, /catalog: not compared \(see check fidelity\.catalog\)/);
  assert.match(md, /round_trip: not run \(see check fidelity\.round_trip\)/);
  const page = renderHtml(r);
  assert.match(page, /<th scope="col" class="num">Dump rows<\/th><th scope="col" class="num">Restored rows<\/th><th scope="col">Content hash vs the dump stream<\/th>/);
  assert.doesNotMatch(page, /Source rows/);
  assert.match(page, /2 of 2 tables equal \(restored [^)]*\); compared with the dump&#39;s own COPY lines \(no source read\)/);
  assert.doesNotMatch(page, /\) \(/, 'no two brackets in a row');
  assert.doesNotMatch(page, /not computed \(run --deep\)/);
});

test('a table whose restored hash differs, one the copy could not read, one the dump has no COPY block for', () => {
  const r = verifyReport([
    stream('actor', 200, { restored_copy_hash: 'c2:0000000000000001', match: false }),
    stream('film', 1000, { restored_copy_hash: null }),
    stream('empty_view_like', 0, { dump_hash: null, dump_rows: null }),
  ]);
  const t = tablesMd(renderMarkdown(r));
  assert.match(t, new RegExp(`\\| public\\.actor \\| 200 \\| 200 \\| \\*\\*DIFFERENT\\*\\* in the dump \`${H}\`, restored \`c2:0000000000000001\` \\| \\*\\*NO\\*\\* \\|`));
  assert.match(t, /\| public\.film \| 1000 \| 1000 \| \*\*not read\*\* in the copy \| yes \|/);
  assert.match(t, /\| public\.empty_view_like \| — \| 0 \| — \(none in the dump\) \| yes \|/);
  const page = renderHtml(r);
  assert.match(page, /title="dump c2:7147234897a109b6 \/ restored c2:0000000000000001">.*DIFFERENT/);
  assert.match(page, /not read in the copy/);
});

test('run with source.witness counts: the source column holds the witness, a table it did not count shows —, never 0', () => {
  const base = passReport();
  const r = ReportSchema.parse({ ...base, tables: [stream('actor', 200, { source_rows: 200 }), stream('late', 5, { source_rows: null })] });
  const t = tablesMd(renderMarkdown(r) + '### Fidelity');
  assert.match(t, /\| table \| source rows \(dump snapshot\) \| dump rows \| restored rows \|/);
  assert.match(t, /\| public\.late \| — \| 5 \| 5 \|/);
  assert.match(renderHtml(r), /<th scope="row"><code>public\.late<\/code><\/th><td class="num">—<\/td><td class="num">5<\/td>/);
});

test('a physical backup\'s tables: restored rows only, no empty source or dump column, no match claimed, no fidelity section', () => {
  const base = passReport();
  const r = ReportSchema.parse({ ...base, kind: 'verify', fidelity: undefined, tables: [{ schema: 'app/public', name: 'orders', source_rows: null, restored_rows: 830, match: true }] });
  const md = renderMarkdown(r);
  assert.match(md, /### Tables \(exact row counts, recorded for the baseline and history: this drill has nothing to compare them with\)\n\n\| table \| restored rows \|\n\|---\|---:\|\n\| app\/public\.orders \| 830 \|\n/);
  assert.doesNotMatch(md, /### Fidelity/);
  const page = renderHtml(r);
  assert.match(page, /Exact row counts \(count\(\*\), in rows\) in the restored copy\. Rows recorded for the baseline and history: this drill has nothing to compare them with\./);
  assert.doesNotMatch(page, /Match<\/th>|tables differ/);
  assert.doesNotMatch(page, /id="fidelity"/);
});

test('older reports (source counts and hashes on the source, no stream evidence) keep their columns and times', () => {
  const r = passReport();
  const md = renderMarkdown(r);
  assert.match(tablesMd(md + '### Fidelity'), /\| table \| source rows \(dump snapshot\) \| restored rows \| content hash vs the source \(ms: source \/ restored\) \| match \|/);
  assert.match(md, /\| public\.actor \| 200 \| 200 \| equal `md5:1f3870be274f6c49b3e31a0c6728957f` \(4 \/ —\) \| yes \|/);
});
