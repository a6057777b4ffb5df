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
