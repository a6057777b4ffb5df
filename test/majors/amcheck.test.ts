/**
 * pg_amcheck on a PostgreSQL 13 server (the server store's), whose amcheck (1.2) has no verify_heapam: checking heap
 * tables fails on every one, exit 2, which fidelity.amcheck would read as corruption; B-tree indexes only (with
 * --heapallindexed) check clean. On 14 the heap checks work.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { amcheckChecksHeaps, ensureAmcheck, runAmcheck } from '../../src/fidelity/amcheck.js';
import { psql, scratchDir } from '../helpers/clusters.js';
import { requireMajor, startSourceOfMajor } from '../helpers/majors.js';

for (const major of [13, 14]) {
  test(`amcheck on a ${major} server: ${major < 14 ? 'B-tree indexes only, clean (heap checks would fail every table)' : 'heap tables and indexes'}`, async (t) => {
    const b = await requireMajor(t, major);
    if (!b) return;
    await using scratch = await scratchDir('pgdrill-amcheck-');
    const c = (await startSourceOfMajor(major, { parentDir: scratch.path }))!;
    try {
      await psql(c, 'postgres', { sql: 'CREATE TABLE t AS SELECT i, md5(i::text) AS h FROM generate_series(1, 2000) i; CREATE INDEX ON t (h)' });
      await using db = await c.open('postgres');
      assert.equal(await ensureAmcheck(db), 'created');
      const heaps = await amcheckChecksHeaps(db);
      assert.equal(heaps, major >= 14);
      const run = (h: boolean) => runAmcheck({ bins: b, env: c.env('postgres'), database: 'postgres', heapallindexed: true, heaps: h });
      const r = await run(heaps);
      assert.equal(r.exitCode, 0, r.error ?? JSON.stringify(r.relations.filter((x) => x.status !== 'ok').slice(0, 3)));
      assert.ok(r.relations.some((x) => x.relation === 'public.t_h_idx' && x.kind === 'btree index'));
      assert.equal(r.relations.some((x) => x.kind === 'heap table'), heaps);
      if (!heaps) {
        // What pgdrill did before: heap checks on 13 fail for every table, as if all were corrupt.
        const old = await run(true);
        assert.equal(old.exitCode, 2);
        assert.ok(old.relations.some((x) => x.relation === 'public.t' && x.status === 'corrupt' && x.messages.join(' ').includes('verify_heapam')), JSON.stringify(old.relations.find((x) => x.relation === 'public.t')));
      }
    } finally {
      await c.stop();
    }
  });
}
