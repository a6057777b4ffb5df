import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderSummary } from '../../src/cli/summary.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { failReport, passReport } from '../helpers/sample-report.js';

test('the one-screen summary names the verdict, the failing checks and ends with the report paths (incl. report.html)', () => {
  const pass = renderSummary(passReport(), '/drills/pagila-x');
  assert.match(pass, /^\nPASS — restore drill of pagila/);
  assert.match(pass, /html +\/drills\/pagila-x\/report\.html\n$/);
  const fail = failReport();
  const text = renderSummary(fail, '/drills/x');
  assert.match(text, /^\nFAIL/);
  for (const c of fail.checks.filter((c) => c.status === 'fail')) assert.ok(text.includes(`FAIL ${c.name}`), c.name);
});

test('report.md carries front matter and the record sections; a FAIL lists its failing checks first', () => {
  const md = renderMarkdown(failReport());
  assert.match(md, /^---\nstatus: FAIL\n/);
  for (const s of ['§1 — Method & Provenance', '§2 — Fresh Backup', '§3 — Backup Content Check', '§4 — Isolated Restore Test', '§5 — Teardown', '§6 — Production-Untouched Confirmation', '§7 — Summary']) {
    assert.ok(md.includes(s), s);
  }
  assert.match(md, /^versions: source 15\.18 · pg_dump 15\.18 · sandbox 15\.18 \(the source's major\)$/m);
  assert.match(md, /^programs: pg_dump 15\.18 \(dump\) \/usr\/lib\/postgresql\/15\/bin\/pg_dump; postgres 15\.18 \(server\)/m);
  const firstFail = failReport().checks.find((c) => c.status === 'fail')!;
  assert.ok(md.indexOf(firstFail.name) < md.indexOf('§1'), 'failing checks come before the sections');
});
