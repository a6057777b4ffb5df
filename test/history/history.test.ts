import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listRuns, readHistory } from '../../src/history/read-history.js';
import { renderHistoryHtml } from '../../src/report/history-html.js';
import { renderHtml } from '../../src/report/html.js';
import type { Report } from '../../src/report/model.js';
import type { Logger } from '../../src/logger.js';
import { failReport, HOSTILE, passReport } from '../helpers/sample-report.js';
import { ARTIFACTS, launchOrSkip, openFile } from '../helpers/browser.js';
import { runCli } from '../helpers/cli.js';

/** An out directory with seven drills of three databases, four directories that are not readable drills and two sandboxes. */
async function makeOutDir(): Promise<string> {
  const out = await mkdtemp(join(tmpdir(), 'pgdrill-history-'));
  const put = async (name: string, r: Report | string, html = true) => {
    const dir = join(out, name);
    await mkdir(dir);
    await writeFile(join(dir, 'report.json'), typeof r === 'string' ? r : JSON.stringify(r));
    if (html && typeof r !== 'string') await writeFile(join(dir, 'report.html'), renderHtml(r));
  };
  const day = (d: number) => `2026-11-${String(d).padStart(2, '0')}T03:00:00.000Z`;
  await put('pagila-20261120T030000Z', passReport({ startedAt: day(20), durationMs: 90_000, sizeBytes: 600_000_000 }));
  await put('pagila-20261121T030000Z', passReport({ startedAt: day(21), durationMs: 95_000, sizeBytes: 640_000_000 }));
  await put('pagila-20261122T030000Z', { ...failReport({ database: 'pagila', startedAt: day(22), durationMs: 70_000, sizeBytes: 650_000_000 }), interrupted: true });
  await put('pagila-20261123T030000Z', passReport({ startedAt: day(23), durationMs: 101_000, sizeBytes: 667_414_820 }), false);
  await put('northwind-20261121T030000Z', passReport({ database: 'northwind', startedAt: day(21), durationMs: 20_000, sizeBytes: 9_000_000 }));
  await put('northwind-20261124T030000Z', failReport({ startedAt: day(24) }));
  await put('odd name #1', passReport({ database: HOSTILE, startedAt: day(19), durationMs: 5_000, sizeBytes: 1_000 }));
  await put('broken-json', '{ "schema_version": 1, ');
  await put('not-a-report', JSON.stringify({ hello: 'world' }));
  await mkdir(join(out, 'still-running-20261125T030000Z'));
  // Sandboxes pgdrill placed in the out directory (the demo's source, a drill's sandbox): not drills, no warning.
  for (const sandbox of ['demo-source-Ab12Cd', 'sandbox-Xy34Zw']) {
    await mkdir(join(out, sandbox));
    await writeFile(join(out, sandbox, 'pgdrill-sandbox.json'), '{}');
  }
  await writeFile(join(out, 'stray-file.txt'), 'not a directory');
  return out;
}

function capture(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, debug() {}, info() {}, error() {}, warn: (m) => void warnings.push(m) };
}

test('listRuns reads every report.json, newest first, and skips unreadable directories with a note', async () => {
  const out = await makeOutDir();
  try {
    const logger = capture();
    const runs = await listRuns(out, { logger });
    assert.deepEqual(runs.map((r) => `${r.database.slice(0, 9)} ${r.startedAt.slice(0, 10)} ${r.status}`), [
      'northwind 2026-11-24 FAIL',
      'pagila 2026-11-23 PASS',
      'pagila 2026-11-22 FAIL',
      'pagila 2026-11-21 PASS',
      'northwind 2026-11-21 PASS',
      'pagila 2026-11-20 PASS',
      '<script>a 2026-11-19 PASS',
    ]);
    assert.equal(logger.warnings.length, 3);
    const { skipped } = await readHistory(out);
    assert.deepEqual(skipped.map((s) => s.runDir.split('/').pop()).sort(), ['broken-json', 'not-a-report', 'still-running-20261125T030000Z']);
    assert.match(skipped.find((s) => s.runDir.endsWith('broken-json'))!.reason, /not valid JSON/);
    assert.match(skipped.find((s) => s.runDir.endsWith('still-running-20261125T030000Z'))!.reason, /no report\.json/);

    const e = runs.find((r) => r.runDir.endsWith('pagila-20261122T030000Z'))!;
    assert.equal(e.reportPath, join(out, 'pagila-20261122T030000Z', 'report.json'));
    assert.equal(e.htmlPath, join(out, 'pagila-20261122T030000Z', 'report.html'));
    assert.equal(e.kind, 'run');
    assert.equal(e.interrupted, true);
    assert.equal(e.sizeBytes, 650_000_000);
    assert.equal(e.durationMs, 70_000);
    assert.equal(e.sha256, 'ad614a71813d21902343049021fb413c4c058826e99bc5e4948fc3d6ab0a67cd');
    assert.deepEqual(e.failedChecks, ['restore.errors', 'fidelity.row_counts']);
    assert.equal(runs.find((r) => r.runDir.endsWith('pagila-20261123T030000Z'))!.htmlPath, null);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test('listRuns of a directory that does not exist is empty', async () => {
  assert.deepEqual(await listRuns(join(tmpdir(), 'pgdrill-no-such-dir-' + process.pid)), []);
});

test('index.html links each report by a relative, encoded path and escapes every name', async () => {
  const out = await makeOutDir();
  try {
    const { entries, skipped } = await readHistory(out);
    const page = renderHistoryHtml(entries, out, skipped);
    assert.match(page, /href="pagila-20261122T030000Z\/report\.html"/);
    assert.match(page, /href="pagila-20261123T030000Z\/report\.json"/, 'a run without report.html links its report.json');
    assert.match(page, /href="odd%20name%20%231\/report\.html"/);
    assert.doesNotMatch(page, /<script|<img/i);
    assert.match(page, /measured recovery time/i);
    assert.equal((page.match(/<table[\s>]/g) ?? []).length, (page.match(/<caption>/g) ?? []).length);
    assert.match(page, /Skipped directories/);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test('index.html in headless Chromium: drills and charts visible, links resolve, no script, no request', async (t) => {
  const browser = await launchOrSkip(t);
  if (!browser) return;
  const out = await makeOutDir();
  try {
    const { entries, skipped } = await readHistory(out);
    const file = join(out, 'index.html');
    await writeFile(file, renderHistoryHtml(entries, out, skipped));
    const { page, log } = await openFile(browser, file);
    assert.equal(await page.locator('#drills + .scroll table tbody tr').count(), entries.length);
    assert.equal(await page.locator('figure svg[role="img"]').count(), 6, 'duration and size charts for three databases');
    assert.ok(await page.locator('figcaption strong', { hasText: 'Measured recovery time' }).first().isVisible());
    const hrefs = await page.locator('#drills + .scroll table a').evaluateAll((as) => as.map((a) => (a as HTMLAnchorElement).href));
    assert.equal(hrefs.length, entries.length);
    for (const h of hrefs) assert.ok(existsSync(fileURLToPath(h)), h);
    assert.deepEqual(await page.evaluate(() => document.querySelectorAll('script, img').length), 0);
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'history-index.png'), fullPage: true });
    assert.deepEqual(log.consoleErrors, []);
    assert.deepEqual(log.requests, []);
    assert.deepEqual(log.dialogs, []);
  } finally {
    await browser.close();
    await rm(out, { recursive: true, force: true });
  }
});

test('pgdrill history: text table, --json and --html', async () => {
  const out = await makeOutDir();
  try {
    const table = await runCli(['history', '--out', out]);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trim().split('\n');
    assert.match(lines[0]!, /^STARTED \(UTC\)\s+DATABASE\s+KIND\s+STATUS\s+SIZE\s+DURATION\s+SHA256$/);
    assert.match(lines[1]!, /^2026-11-24 03:00:00Z\s+northwind\s+run\s+FAIL\s+9\.0 MiB\s+58\.0 s\s+ad614a71/);
    assert.equal(lines.length, 8);
    assert.match(table.stderr, /skipped .*broken-json/);

    const json = await runCli(['history', '--out', out, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const arr = JSON.parse(json.stdout) as { database: string; startedAt: string }[];
    assert.equal(arr.length, 7);
    assert.equal(arr[0]!.startedAt, '2026-11-24T03:00:00.000Z');

    const html = await runCli(['history', '--out', out, '--html']);
    assert.equal(html.code, 0, html.stderr);
    assert.equal(html.stdout.trim(), join(resolve(out), 'index.html'));
    assert.match(await readFile(html.stdout.trim(), 'utf8'), /^<!DOCTYPE html>/);

    const missing = await runCli(['history', '--out', join(out, 'nope'), '--html']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /does not exist/);
    assert.ok(existsSync(dirname(html.stdout.trim())));
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
