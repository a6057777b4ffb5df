import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderHtml } from '../../src/report/html.js';
import { ReportSchema } from '../../src/report/model.js';
import { failReport, HOSTILE } from '../helpers/sample-report.js';

test('report.html shows the fidelity evidence, escaped: catalog differences, round trip, amcheck', () => {
  const r = ReportSchema.parse({
    ...failReport(),
    fidelity: {
      deep: true,
      differences: [{ object: `view public.${HOSTILE}`, attribute: 'definition', source: 'SELECT 1', restored: 'SELECT 2' }],
      differences_omitted: 0,
      hashes: { tables: 3, equal: 2, source_ms: 120, restored_ms: 80 },
      catalog: { source_facts: 900, restored_facts: 899, sequences_checked: 13, source_ms: 40, restored_ms: 30 },
      round_trip: { equal: false, source_path: '/x/source.sql', restored_path: '/x/restored.sql', lines_compared: 1200, stripped: [], differences: [{ source_line: 10, restored_line: 10, source: 'SELECT 1', restored: 'SELECT 2' }], section: 'v; Type: VIEW', ms: 50 },
      amcheck: { exit_code: 0, relations_checked: 40, corrupt: 0, relations: [], error: null, ms: 300 },
      extensions_missing: [{ name: 'postgis', version: '3.4' }],
    },
  });
  const page = renderHtml(r);
  assert.match(page, /<h2 id="fidelity">Fidelity<\/h2>/);
  assert.match(page, /2 of 3 tables equal/);
  assert.match(page, /1200 schema lines compared/);
  assert.match(page, /40 relation\(s\) checked, 0 corrupt/);
  assert.match(page, /postgis 3\.4/);
  assert.ok(!page.includes('<script>alert(1)'), 'hostile text is escaped');
  assert.ok(page.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
});

test('report.html and report.md list every differing object of the round trip with its lines, escaped', async () => {
  const { renderFidelity } = await import('../../src/report/fidelity-markdown.js');
  const lines = [{ source_line: 10, restored_line: 10, source: `SELECT ${HOSTILE}`, restored: 'SELECT 2' }];
  const r = ReportSchema.parse({
    ...failReport(),
    fidelity: {
      deep: false, differences: [], differences_omitted: 0, hashes: null, catalog: null, amcheck: null, extensions_missing: [],
      round_trip: {
        equal: false, source_path: '/x/source.sql', restored_path: '/x/restored.sql', lines_compared: 1200, stripped: [], differences: lines,
        section: 'Name: v; Type: VIEW; Schema: public; Owner: postgres', ms: 50, objects_differing: 2, objects_omitted: 0,
        differences_path: '/x/round-trip-differences.txt',
        objects: [
          { section: 'Name: v; Type: VIEW; Schema: public; Owner: postgres', kind: 'differs', lines, lines_omitted: 3 },
          { section: 'Name: TABLE t; Type: COMMENT; Schema: public; Owner: postgres', kind: 'only in the restored copy', lines: [{ source_line: null, restored_line: 40, source: null, restored: "COMMENT ON TABLE public.t IS 'x';" }], lines_omitted: 0 },
        ],
      },
    },
  });
  const page = renderHtml(r);
  assert.match(page, /Round trip: 2 object\(s\) of the schema-only dumps differ; every one, with all its lines, in <code>\/x\/round-trip-differences\.txt<\/code>/);
  assert.match(page, /Name: v; Type: VIEW; Schema: public; Owner: postgres <span class="muted">\(differs; 3 more line\(s\) in the file\)<\/span>/);
  assert.match(page, /Name: TABLE t; Type: COMMENT; Schema: public; Owner: postgres <span class="muted">\(only in the restored copy\)/);
  assert.ok(!page.includes('<script>alert(1)'), 'hostile text is escaped');
  const md = renderFidelity(r.fidelity!);
  assert.match(md, /#### Round trip: 2 object\(s\) differ \(every one, with all its lines: `\/x\/round-trip-differences\.txt`\)/);
  assert.match(md, /\| `Name: v; Type: VIEW; Schema: public; Owner: postgres` \(differs\) \| 10 \|/);
  assert.match(md, /_…3 more line\(s\)_/);
  assert.match(md, /\| `Name: TABLE t; Type: COMMENT; Schema: public; Owner: postgres` \(only in the restored copy\) \| {2}\| _\(absent\)_ \| 40 \|/);
});
