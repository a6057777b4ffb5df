import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { pgDump } from '../helpers/dumps.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { ReportSchema, type Report } from '../../src/report/model.js';

const check = (r: Report, name: string) => r.checks.find((c) => c.name === name);

/** The orders table's rows are generated, so deleted ones can be put back exactly. */
const ORDERS = "SELECT g, repeat('x', 200) FROM generate_series(1, 3000) g";
const REFILL = `DELETE FROM orders; INSERT INTO orders ${ORDERS};`;

/**
 * The baseline: each drill compares itself with the previous PASS of the same database in the same out
 * directory, and the thresholds turn a shrunken dump, a table that lost most of its rows or dropped objects into a FAIL.
 */
describe('baseline: the previous PASS of the same database, and the thresholds', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  /** A nightly dump of `shop` as cron would write it: same name every night, in its own directory. */
  async function nightly(night: string, format: 'plain' | 'custom' = 'plain'): Promise<string> {
    const d = join(dir.path, 'nightly', night);
    await mkdir(d, { recursive: true });
    return pgDump(source, 'shop', format, join(d, format === 'plain' ? 'shop.sql' : 'shop.dump'));
  }
  async function verify(path: string, out: string, extra: string[] = []): Promise<{ code: number | null; report: Report }> {
    const r = await runCli(['verify', path, '--out', out, '--json', ...extra]);
    assert.ok(r.code === 0 || r.code === 1, r.stderr);
    return { code: r.code, report: ReportSchema.parse(JSON.parse(r.stdout)) };
  }
  before(async () => {
    dir = await scratchDir();
    source = await startSource({ parentDir: dir.path });
    await psql(source, 'postgres', { sql: 'CREATE DATABASE shop' });
    await psql(source, 'shop', {
      sql: `CREATE TABLE orders (id int PRIMARY KEY, note text);
            INSERT INTO orders ${ORDERS};
            CREATE TABLE tiny (id int); INSERT INTO tiny VALUES (1), (2), (3);
            CREATE VIEW v_a AS SELECT 1 AS a; CREATE VIEW v_b AS SELECT 2 AS b; CREATE VIEW v_c AS SELECT 3 AS c;`,
    });
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  test('first PASS has no baseline; the next PASS compares with it', async () => {
    const out = join(dir.path, 'out-steady');
    const first = await verify(await nightly('d1'), out);
    assert.equal(first.code, 0);
    assert.equal(first.report.baseline ?? null, null);
    assert.equal(check(first.report, 'baseline.previous_pass')?.status, 'skip');
    await psql(source, 'shop', { sql: 'DELETE FROM tiny WHERE id = 3' }); // a small table may change freely
    const second = await verify(await nightly('d2'), out);
    await psql(source, 'shop', { sql: 'INSERT INTO tiny VALUES (3)' });
    assert.equal(second.code, 0, JSON.stringify(second.report.checks.filter((c) => c.status === 'fail')));
    assert.equal(second.report.baseline?.run_id, first.report.run.id);
    assert.deepEqual(second.report.baseline?.tables, [{ table: 'public.tiny', previous: 3, current: 2, change_pct: -33.33 }]);
    for (const n of ['baseline.size', 'baseline.objects', 'baseline.table_rows']) assert.equal(check(second.report, n)?.status, 'pass', n);
  });

  test('a table that lost most of its rows and a shrunken dump FAIL; objects dropped FAIL', async () => {
    const out = join(dir.path, 'out-shrink');
    assert.equal((await verify(await nightly('s1'), out)).code, 0);
    await psql(source, 'shop', { sql: 'DELETE FROM orders WHERE id > 600; DROP VIEW v_c;' });
    try {
      const bad = await verify(await nightly('s2'), out);
      assert.equal(bad.code, 1);
      assert.equal(bad.report.status, 'FAIL');
      // Everything else about the dump is fine: only the comparison shows it.
      assert.deepEqual(bad.report.checks.filter((c) => c.status === 'fail').map((c) => c.name).sort(), ['baseline.objects', 'baseline.size', 'baseline.table_rows']);
      assert.match(check(bad.report, 'baseline.table_rows')!.detail, /1 table\(s\) lost more than 50% of their rows since the previous PASS shop-\d{8}T\d{6}Z: public\.orders 3000 → 600 \(-80%\)/);
      assert.match(check(bad.report, 'baseline.size')!.detail, /the dump shrank by more than 20%/);
      assert.match(check(bad.report, 'baseline.objects')!.detail, /view 3 → 2 \(-33\.33%\)/);

      // Thresholds are configurable: disabled, the same dump passes.
      const cfg = join(dir.path, 'lenient.yaml');
      await writeFile(cfg, 'thresholds:\n  max_size_shrink_pct: null\n  max_table_rows_drop_pct: 90\n  max_objects_drop_pct: 50\n');
      const lenient = await verify(await nightly('s2'), out, ['--config', cfg]);
      assert.equal(lenient.code, 0, JSON.stringify(lenient.report.checks.filter((c) => c.status === 'fail')));
      assert.equal(check(lenient.report, 'baseline.size')?.status, 'skip');
      assert.equal(check(lenient.report, 'baseline.table_rows')?.status, 'pass');
    } finally {
      await psql(source, 'shop', { sql: `${REFILL} CREATE VIEW v_c AS SELECT 3 AS c;` });
    }
  });

  test('sizes of different formats are not compared', async () => {
    const out = join(dir.path, 'out-formats');
    assert.equal((await verify(await nightly('f1'), out)).code, 0);
    const custom = await verify(await nightly('f2', 'custom'), out, ['--database', 'shop']);
    assert.equal(custom.code, 0);
    assert.match(check(custom.report, 'baseline.size')!.detail, /previous PASS .* was plain, this drill is custom: sizes of different formats are not comparable/);
  });

  test('run compares with the previous PASS too (a verify of the same database counts)', async () => {
    const out = join(dir.path, 'out-run');
    assert.equal((await verify(await nightly('r1'), out)).code, 0);
    await psql(source, 'shop', { sql: 'DELETE FROM orders WHERE id > 100;' });
    try {
      const r = await runCli(['run', '--source', urlOf(source, 'shop'), '--out', out, '--json']);
      assert.equal(r.code, 1, r.stderr);
      const report = ReportSchema.parse(JSON.parse(r.stdout));
      assert.equal(report.kind, 'run');
      assert.equal(report.baseline?.kind, 'verify');
      assert.equal(check(report, 'baseline.table_rows')?.status, 'fail');
      assert.equal(report.production_untouched, true);
    } finally {
      await psql(source, 'shop', { sql: REFILL });
    }
  });
});
