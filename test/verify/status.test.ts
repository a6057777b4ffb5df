import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { psql, scratchDir, startSource } from '../helpers/clusters.js';
import { pgDump } from '../helpers/dumps.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { judgeFreshness, formatAge } from '../../src/history/freshness.js';
import type { HistoryEntry } from '../../src/history/read-history.js';

/** A history entry as listRuns returns it; only what freshness reads matters. */
function entry(database: string, status: 'PASS' | 'FAIL', finishedAt: string, extra: Partial<HistoryEntry> = {}): HistoryEntry {
  return {
    runDir: `/d/${database}-${finishedAt}`, reportPath: '', htmlPath: null, runId: `${database}-x`, startedAt: new Date(Date.parse(finishedAt) - 60_000).toISOString(),
    finishedAt, database, kind: 'verify', status, interrupted: false, sizeBytes: 1, durationMs: 60_000, restoreMs: null, sha256: null,
    format: 'plain', productionUntouched: null, failedChecks: status === 'FAIL' ? ['backup.trailer'] : [], pgdrillVersion: '0.1.0', ...extra,
  };
}

describe('freshness (pure)', () => {
  const now = new Date('2026-11-28T12:00:00Z');
  const H = 3_600_000;
  test('fresh, stale, failed, never — and ok only when all are fresh', () => {
    const r = judgeFreshness([
      entry('fresh', 'PASS', '2026-11-28T02:00:00Z'),
      entry('fresh', 'FAIL', '2026-11-27T02:00:00Z'),
      entry('stale', 'PASS', '2026-11-26T02:00:00Z'),
      entry('failed', 'PASS', '2026-11-28T01:00:00Z'),
      entry('failed', 'FAIL', '2026-11-28T02:00:00Z'),
      entry('never', 'FAIL', '2026-11-28T02:00:00Z'),
      entry('interrupted', 'PASS', '2026-11-28T01:00:00Z'),
      entry('interrupted', 'FAIL', '2026-11-28T03:00:00Z', { interrupted: true, failedChecks: [] }),
    ], 26 * H, now);
    const by = Object.fromEntries(r.databases.map((d) => [d.database, d]));
    assert.equal(by.fresh!.state, 'fresh');
    assert.equal(by.fresh!.reason, 'last verified 10 h 0 min ago (verify PASS)');
    assert.equal(by.stale!.state, 'stale');
    assert.match(by.stale!.reason, /last verified 2 d 10 h ago: older than the allowed 26 h 0 min/);
    assert.equal(by.failed!.state, 'failed');
    assert.match(by.failed!.reason, /last verified 11 h 0 min ago; the newest drill \(verify, 10 h 0 min ago\) FAILED: backup\.trailer/);
    assert.equal(by.never!.state, 'never');
    assert.equal(by.interrupted!.state, 'failed');
    assert.match(by.interrupted!.reason, /was interrupted/);
    assert.equal(r.ok, false);
    assert.equal(judgeFreshness([entry('fresh', 'PASS', '2026-11-28T02:00:00Z')], 26 * H, now).ok, true);
    assert.equal(judgeFreshness([], 26 * H, now).ok, false, 'no drills at all is not OK');
    assert.equal(formatAge(90_000), '1 min');
  });
});

describe('pgdrill status: per database, exit 1 when the newest drill failed or the newest PASS is too old', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  let dump: string;
  before(async () => {
    dir = await scratchDir();
    source = await startSource({ parentDir: dir.path });
    await psql(source, 'postgres', { sql: 'CREATE DATABASE shop' });
    await psql(source, 'shop', { sql: 'CREATE TABLE item (id int PRIMARY KEY); INSERT INTO item SELECT generate_series(1, 10);' });
    await mkdir(join(dir.path, 'dumps'));
    dump = await pgDump(source, 'shop', 'plain', join(dir.path, 'dumps', 'shop.sql'));
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  test('no drills: exit 1; a bad --max-age: exit 2', async () => {
    const empty = await runCli(['status', '--out', join(dir.path, 'nothing-here')]);
    assert.equal(empty.code, 1, empty.stderr);
    assert.match(empty.stdout, /no drills in .*nothing-here: nothing was ever verified/);
    const bad = await runCli(['status', '--out', dir.path, '--max-age', 'soon']);
    assert.equal(bad.code, 2, bad.stderr);
  });

  test('fresh, then stale by max-age, then failed', async () => {
    const out = join(dir.path, 'out');
    const v = await runCli(['verify', dump, '--out', out]);
    assert.equal(v.code, 0, v.stderr + v.stdout);

    const fresh = await runCli(['status', '--out', out]);
    assert.equal(fresh.code, 0, fresh.stderr + fresh.stdout);
    assert.match(fresh.stdout, /^OK +shop +last verified \d+ s ago \(verify PASS\)$/m);
    assert.match(fresh.stdout, /^status: OK \(1 database verified within 26 h 0 min\)$/m);

    const stale = await runCli(['status', '--out', out, '--max-age', '1ms', '--json']);
    assert.equal(stale.code, 1, stale.stderr);
    const sj = JSON.parse(stale.stdout);
    assert.equal(sj.ok, false);
    assert.equal(sj.databases[0].database, 'shop');
    assert.equal(sj.databases[0].state, 'stale');
    assert.equal(sj.databases[0].last_pass.kind, 'verify');

    // The next night's dump of shop is cut short: the newest drill fails.
    const cut = join(dir.path, 'dumps', 'night2');
    await mkdir(cut);
    const text = await readFile(dump);
    await writeFile(join(cut, 'shop.sql'), text.subarray(0, text.indexOf('COPY public.item')));
    const f = await runCli(['verify', join(cut, 'shop.sql'), '--out', out]);
    assert.equal(f.code, 1, f.stderr);

    const failed = await runCli(['status', '--out', out]);
    assert.equal(failed.code, 1);
    assert.match(failed.stdout, /^FAILED shop +last verified .* ago; the newest drill \(verify, .* ago\) FAILED: backup\.trailer/m);
    assert.match(failed.stdout, /status: NOT OK/);
    // --database narrows to one database.
    assert.equal((await runCli(['status', '--out', out, '--database', 'other'])).code, 1);
  });
});
