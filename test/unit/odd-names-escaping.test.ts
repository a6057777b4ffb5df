/**
 * Every renderer keeps its format with legal-but-awkward names in it (line breaks, tabs, CR, `|`, `\`, `<script>`,
 * `]]>`, quotes, control characters, 4-byte UTF-8): report.md's tables keep their cells under both common table
 * readers, its title and lists their lines; JUnit reads back the very text; Prometheus labels read back the very text;
 * report.html escapes. The integration side is test/fidelity/odd-names.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { mdCell, mdCodeCell, mdLine, mdPre } from '../../src/report/markdown-cell.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { renderHtml } from '../../src/report/html.js';
import { renderJunit, suiteName, xmlEscape } from '../../src/outputs/junit.js';
import { drillSamples, parseMetrics, renderMetrics } from '../../src/outputs/metrics.js';
import { ReportSchema, type Report, type TableRow } from '../../src/report/model.js';
import { passReport } from '../helpers/sample-report.js';
import { renderSummary } from '../../src/cli/summary.js';

const ODD = [
  'new\nline', 'tab\there', 'cr\rret', 'crlf\r\nend', 'dq"uote', "sq'uote", 'back\\slash', 'end\\', 'x\\|y', 'x\\\\|y', '\\.', 'pi|pe', '|',
  '||', 'semi;colon', 'c/*om', 'om*/c', 'dollar$$q', ":'x'", ':foo', '%s', '${x}', '<script>alert(1)</script>', ']]>', '</table>', ' lead',
  'trail ', 'a.b', 'T', '🐘 😀', 'a\u0001\u001b[31mb\u007f', '&amp;', '`tick`', '# h', 'x{database="y"}',
];

/** Cells of a table row as markdown-it reads it: a pipe after an even run of backslashes separates. */
function cellsMarkdownIt(row: string): number {
  let n = 0;
  let bs = 0;
  for (const c of row) {
    if (c === '|' && bs % 2 === 0) n++;
    bs = c === '\\' ? bs + 1 : 0;
  }
  return n - 1;
}

/** Cells as cmark-gfm (GitHub) reads them: `\|` is an escaped pipe whatever precedes it. */
function cellsGfm(row: string): number {
  return row.replace(/\\\|/g, '').split('|').length - 2;
}

test('mdCell and mdCodeCell: one cell per name under both table readers, no line break, no HTML', () => {
  for (const name of ODD) {
    for (const row of [`| ${mdCell(name)} | x |`, `| \`${mdCodeCell(name)}\` | x |`]) {
      assert.equal(cellsMarkdownIt(row), 2, `markdown-it: ${JSON.stringify(name)} → ${row}`);
      assert.equal(cellsGfm(row), 2, `cmark-gfm: ${JSON.stringify(name)} → ${row}`);
      // eslint-disable-next-line no-control-regex -- none may remain
      assert.doesNotMatch(row, /[\u0000-\u001F\u007F]/, JSON.stringify(name));
    }
    assert.doesNotMatch(mdCell(name), /(^|[^\\])</, 'every < escaped');
  }
  assert.equal(mdCell('new\nline\r\t'), 'new␊line␍␉');
  assert.equal(mdCell('a\\b|c<d'), 'a\\\\b\\|c\\<d');
  assert.equal(mdCodeCell('x\\|y`'), "x\\\\\\|y'");
  assert.equal(mdCodeCell('a\\b'), 'a\\b', 'a backslash not before a pipe stays as it is in a code span');
  assert.equal(mdPre('a\nb'), 'a␊b');
  assert.equal(mdLine('<b>\n\\'), '\\<b>␊\\\\');
});

function oddReport(): Report {
  const base = passReport({ database: 'odd\n"db" |:x' });
  const tables: TableRow[] = ODD.map((name, i) => ({ schema: i % 2 ? 'sch\nema|1' : 'select', name, source_rows: i, restored_rows: i, dump_rows: i, match: true }));
  return ReportSchema.parse({
    ...base, tables,
    checks: [...base.checks, { name: 'restore.roles', stage: 'restore', status: 'pass', detail: `all roles exist: ${ODD.map((n) => `r ${n}`).join(', ')}` }],
  });
}

test('report.md with odd names: every table row keeps its cells; the title and each check stay one line', () => {
  const r = oddReport();
  const md = renderMarkdown(r);
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^\|[\s:|-]+\|$/.test(lines[i + 1] ?? '') || !lines[i]!.startsWith('|')) continue;
    const width = cellsGfm(lines[i]!);
    for (let j = i + 1; j < lines.length && lines[j]!.startsWith('|'); j++) {
      assert.equal(cellsGfm(lines[j]!), width, lines[j]);
      assert.equal(cellsMarkdownIt(lines[j]!), width, lines[j]);
    }
  }
  assert.doesNotMatch(md, /\r/);
  assert.ok(md.includes('\n# Restore drill — odd␊"db" |:x — PASS\n'));
  assert.ok(lines.some((l) => l.startsWith('- **PASS** `restore.roles` — all roles exist: r new␊line, r tab␉here, r cr␍ret')));
  assert.doesNotMatch(md, /(^|[^\\])<script>/m, 'no raw HTML from a name');
  for (const name of ODD.filter((n) => !/[\n\r]/.test(n))) assert.ok(md.includes(mdCell(name)), JSON.stringify(name));
});

test('JUnit with odd names reads back the very text; metrics labels too', () => {
  const r = oddReport();
  const withChecks = ReportSchema.parse({ ...r, checks: [...r.checks, { name: 'fidelity.catalog', stage: 'fidelity', status: 'fail', detail: ODD.join(' ') }] });
  const xml = renderJunit(withChecks);
  assert.equal(XMLValidator.validate(xml), true);
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', htmlEntities: true, isArray: (n) => n === 'testcase' }).parse(xml) as {
    testsuites: { testsuite: { name: string; testcase: { failure?: { message: string } }[] } };
  };
  assert.equal(doc.testsuites.testsuite.name, suiteName(withChecks));
  assert.equal(doc.testsuites.testsuite.name, 'pgdrill run odd\n"db" |:x');
  const failure = doc.testsuites.testsuite.testcase.find((c) => c.failure)!.failure!;
  // eslint-disable-next-line no-control-regex -- XML 1.0 cannot carry them (DEL it can)
  assert.equal(failure.message, ODD.join(' ').replace(/[\u0001\u001b\u007f]/g, (c) => (c === '\u007f' ? c : '\uFFFD')));
  assert.equal(xmlEscape('a\tb\nc\rd'), 'a&#9;b&#10;c&#13;d');

  const text = renderMetrics(drillSamples({ database: r.source.database!, report: r }, null));
  for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) {
    assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*\{database="(?:[^"\\\n]|\\[\\"n])*"\} -?[0-9.e+]+$/, line);
  }
  const back = parseMetrics(text)!;
  assert.ok(back.length > 0 && back.every((s) => s.labels.database === 'odd\n"db" |:x'));
});

test('report.html with odd names: escaped, no element from a name', () => {
  const page = renderHtml(oddReport());
  assert.doesNotMatch(page, /<script/i);
  assert.doesNotMatch(page, /<\/table>\s*<\/td>|<td>[^<]*<\/table>/);
  assert.ok(page.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.ok(page.includes(']]&gt;'));
  // Line breaks and controls in names are shown, not collapsed into a space (another name's look).
  assert.ok(page.includes('<code>select.new␊line</code>'));
  assert.ok(page.includes('<h1>Restore drill of odd␊&quot;db&quot; |:x</h1>'));
});

test('the CLI summary shows control characters, never sends them to the terminal', () => {
  const r = oddReport();
  const failing = ReportSchema.parse({ ...r, status: 'FAIL', checks: [...r.checks, { name: 'fidelity.catalog', stage: 'fidelity', status: 'fail', detail: 'table "x\u001b]0;owned\u0007\u009b31m" differs\nFAIL fake' }] });
  const out = renderSummary(failing, '/tmp/run');
  // eslint-disable-next-line no-control-regex -- none may remain but the lines' own LF
  assert.doesNotMatch(out, /[\u0000-\u0009\u000B-\u001F\u007F-\u009F]/);
  assert.ok(out.includes('FAIL fidelity.catalog: table "x␛]0;owned␇\uFFFD31m" differs␊FAIL fake\n'));
  assert.ok(out.includes('restore drill of odd␊"db" |:x'));
});
