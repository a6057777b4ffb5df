/**
 * Legal but awkward identifiers and values (test/fidelity/odd-names-fixture.ts) through every path: the dump
 * scanner, COPY read-back, catalog and ACL comparison, counts, the round trip and every renderer. A good backup of
 * them PASSes through the CLI (run and verify) with every output well-formed; a changed value in an oddly named
 * table, or a dropped oddly named index, FAILs naming the object.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { runCli } from '../helpers/cli.js';
import { scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { pgDump } from '../helpers/dumps.js';
import { launchOrSkip, openFile } from '../helpers/browser.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { ReportSchema, type Report } from '../../src/report/model.js';
import { check, drill, failed } from './helpers.js';
import { loadOdd, NAME_LONG_CUT, ODD_NAMES, qi, schemaOf } from './odd-names-fixture.js';

const DB = 'odd\n"db" |:x';

/** Prometheus text format 0.0.4 sample lines, parsed strictly: label values escape only `\\`, `\"` and `\n`. */
function parseProm(text: string): Map<string, number> {
  assert.ok(text.endsWith('\n'));
  const samples = new Map<string, number>();
  for (const line of text.split('\n').filter(Boolean)) {
    if (/^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/.test(line)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{database="((?:[^"\\\n]|\\[\\"n])*)"\} (-?[0-9.e+]+)$/.exec(line);
    assert.ok(m, `not a valid sample line: ${JSON.stringify(line)}`);
    const db = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.set(`${m[1]}{${db}}`, Number(m[3]));
  }
  return samples;
}

/** Markdown table rows keep their column count: no raw `|` or line break inside a cell. */
function assertTablesWellFormed(md: string): void {
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^\|.*\|$/.test(lines[i]!) || !/^\|[\s:|-]+\|$/.test(lines[i + 1] ?? '')) continue;
    const cells = (l: string) => l.replace(/\\\\/g, '').replace(/\\\|/g, '').split('|').length;
    const width = cells(lines[i]!);
    for (let j = i + 1; j < lines.length && lines[j]!.startsWith('|'); j++) {
      assert.equal(cells(lines[j]!), width, `table row ${j + 1} has ${cells(lines[j]!)} cells, header ${width}: ${JSON.stringify(lines[j])}`);
    }
  }
  assert.deepEqual(lines.filter((l) => l.includes('\r')), [], 'no bare CR in report.md');
}

describe('odd-but-legal names and values: a good backup PASSes, every output well-formed; mutations name the object', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  let url: string;
  before(async () => {
    dir = await scratchDir();
    source = await startSource({ parentDir: dir.path });
    await loadOdd(source, DB);
    url = urlOf(source, DB);
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  test('pgdrill run --deep: PASS; report.json, .md, .html, JUnit, metrics, webhook and history well-formed', async (t) => {
    const bodies: string[] = [];
    const server: Server = createServer((req, res) => {
      let b = '';
      req.on('data', (c: Buffer) => (b += c.toString('utf8')));
      req.on('end', () => {
        bodies.push(b);
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const config = join(dir.path, 'odd.yaml');
    await writeFile(config, `notify:\n  webhook:\n    url: "http://127.0.0.1:${port}/hook"\n    on: always\n    details: true\n`);
    const out = join(dir.path, 'out');
    const junit = join(dir.path, 'junit.xml');
    const prom = join(dir.path, 'pgdrill.prom');
    let r;
    try {
      r = await runCli(['run', '--source', url, '--deep', '--config', config, '--out', out, '--json', '--junit', junit, '--metrics', prom]);
    } finally {
      server.close();
    }
    const report: Report = ReportSchema.parse(JSON.parse(r.stdout));
    assert.deepEqual(report.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`), [], r.stderr.slice(-3000));
    assert.equal(r.code, 0, r.stderr.slice(-3000));
    assert.equal(report.source.database, DB);
    // Every odd table was counted and hashed, under its own (possibly NAMEDATALEN-cut) name.
    ODD_NAMES.forEach((name, i) => {
      const n = Buffer.byteLength(name) > 63 ? NAME_LONG_CUT : name;
      const row = report.tables.find((x) => x.schema === schemaOf(i) && x.name === n);
      assert.ok(row, `table ${JSON.stringify(`${schemaOf(i)}.${n}`)} in the report`);
      assert.equal(row.restored_rows, i + 1, JSON.stringify(row));
      // Compared with the dump's stream too, a name or schema with a double quote included (its label once lost the quote).
      assert.ok(row.dump_hash && row.dump_hash === row.restored_copy_hash, JSON.stringify(row));
      assert.equal(row.dump_rows, i + 1, JSON.stringify(row));
    });
    // Each odd table's restored rows are the read-back's: none counted a second time.
    assert.equal((check(report, 'fidelity.row_counts').evidence!.counted_by as { read_back: number }).read_back, report.tables.filter((t) => t.restored_copy_hash).length);

    const runDir = report.run.dir;
    const saved = ReportSchema.parse(JSON.parse(await readFile(join(runDir, 'report.json'), 'utf8')));
    assert.equal(saved.source.database, DB);
    const md = await readFile(join(runDir, 'report.md'), 'utf8');
    assertTablesWellFormed(md);
    assert.ok(md.includes('\n# Restore drill — odd␊"db" |:x — PASS\n'), 'the title stays one line');
    // A name's line break never starts a line of its own (it would end a list item or a key: value line).
    assert.deepEqual(md.split('\n').filter((l) => /^(line|ret|end)\b/.test(l)), []);
    for (const c of report.checks) assert.ok(md.includes(`\`${c.name}\` — `), c.name);

    const xml = await readFile(junit, 'utf8');
    assert.equal(XMLValidator.validate(xml), true, 'JUnit is well-formed XML 1.0');
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', htmlEntities: true }).parse(xml) as { testsuites: { testsuite: { name: string } } };
    assert.equal(doc.testsuites.testsuite.name, `pgdrill run ${DB}`, 'the suite name survives attribute normalisation');

    assert.equal(parseProm(await readFile(prom, 'utf8')).get(`pgdrill_last_run_success{${DB}}`), 1);

    assert.equal(bodies.length, 1);
    assert.equal((JSON.parse(bodies[0]!) as { database: string }).database, DB);

    const h = await runCli(['history', '--out', out, '--html']);
    assert.equal(h.code, 0, h.stderr);
    const index = join(out, 'index.html');
    const browser = await launchOrSkip(t);
    if (!browser) return;
    try {
      for (const file of [join(runDir, 'report.html'), index]) {
        const { page, log } = await openFile(browser, file);
        assert.deepEqual(log, { consoleErrors: [], requests: [], dialogs: [] }, file);
        assert.equal(await page.locator('script').count(), 0, `${file}: no script element`);
        const text = await page.locator('body').innerText();
        assert.ok(text.includes('odd'), `${file} shows the database`);
        if (file === index) continue;
        // The names are text on the page, not markup.
        for (const name of ['<script>alert(1)</script>', ']]>', '</table>', 'pi|pe', '🐘 emoji 😀']) assert.ok(text.includes(name), `${file} shows ${name}`);
      }
    } finally {
      await browser.close();
    }
  });

  for (const format of ['custom', 'directory'] as const) {
    test(`pgdrill run --format ${format}: PASS`, async () => {
      const r = await runCli(['run', '--source', url, '--format', format, '--out', join(dir.path, `out-${format}`), '--json']);
      const report = ReportSchema.parse(JSON.parse(r.stdout));
      assert.deepEqual(report.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`), [], r.stderr.slice(-3000));
      assert.equal(r.code, 0);
      assert.ok(report.tables.length > ODD_NAMES.length);
    });
  }

  for (const format of ['custom', 'plain'] as const) test(`pgdrill verify of a ${format}-format dump: PASS`, async () => {
    await mkdir(join(dir.path, 'dumps'), { recursive: true });
    const file = await pgDump(source, DB, format, join(dir.path, 'dumps', `odd-${format}.dump`));
    const r = await runCli(['verify', file, '--out', join(dir.path, `out-verify-${format}`), '--json']);
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    assert.deepEqual(report.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`), [], r.stderr.slice(-3000));
    assert.equal(r.code, 0);
    assert.ok(report.tables.length >= ODD_NAMES.length);
  });

  test('a value changed in an oddly named table FAILs naming that table', async () => {
    const i = ODD_NAMES.indexOf('pi|pe');
    const t = `${qi(schemaOf(i))}.${qi('pi|pe')}`;
    const { report } = await drill(url, dir.path, 'value', `UPDATE ${t} SET ${qi('pi|pe')} = 'changed' WHERE id = 1`, false);
    assert.deepEqual(failed(report), ['fidelity.content_hashes']);
    const c = check(report, 'fidelity.content_hashes');
    assert.deepEqual(c.evidence!.differ, [`${schemaOf(i)}.pi|pe`]);
    assert.ok(c.detail.includes(`${schemaOf(i)}.pi|pe`), c.detail);
    assertTablesWellFormed(await readFile(join(report.run.dir, 'report.md'), 'utf8'));
  });

  test('a dropped oddly named index FAILs naming that index', async () => {
    const name = 'new\nline';
    const i = ODD_NAMES.indexOf(name);
    const { report } = await drill(url, dir.path, 'index', `DROP INDEX ${qi(schemaOf(i))}.${qi(`${name} ix`)}`, false);
    assert.ok(failed(report).includes('fidelity.catalog'), failed(report).join(', '));
    const diffs = report.fidelity!.differences.map((d) => d.object);
    assert.ok(diffs.some((o) => o.includes(`${name} ix`)), JSON.stringify(diffs));
    const md = await readFile(join(report.run.dir, 'report.md'), 'utf8');
    assertTablesWellFormed(md);
    assert.match(md, /\| index [^\n]*new␊line ix/, 'the catalog difference names the index on one row');
  });
});
