/**
 * The other majors on this machine (scripts/pg-majors) run as pgdrill's own throwaway clusters: initdb, start in
 * the jail as the sandbox user, amcheck loads — the ground the per-major drills stand on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runProcess } from '../../src/exec/run-process.js';
import { psql, scratchDir } from '../helpers/clusters.js';
import { availableMajors, requireMajor, startSourceOfMajor } from '../helpers/majors.js';

const EXPECTED = [13, 14, 15, 16, 17, 18];

test('majors 13-18 are on the machine', async (t) => {
  const have = await availableMajors();
  const missing = EXPECTED.filter((m) => !have.includes(m));
  if (missing.length && !process.env.CI) return t.skip(`missing majors ${missing.join(', ')}: run bash scripts/pg-majors`);
  assert.deepEqual(missing, [], `majors ${missing.join(', ')} are missing (have ${have.join(', ')})`);
});

for (const major of EXPECTED) {
  test(`a throwaway cluster of major ${major} starts and loads amcheck`, async (t) => {
    if (!(await requireMajor(t, major))) return;
    await using dir = await scratchDir();
    const cluster = await startSourceOfMajor(major, { parentDir: dir.path });
    assert.ok(cluster);
    try {
      const num = Number((await psql(cluster, 'postgres', { sql: 'SHOW server_version_num' })).trim());
      assert.equal(Math.floor(num / 10000), major);
      await psql(cluster, 'postgres', { sql: 'CREATE EXTENSION amcheck; CREATE TABLE t AS SELECT g FROM generate_series(1, 100) g; CREATE INDEX ON t (g)' });
      assert.equal((await psql(cluster, 'postgres', { sql: "SELECT bt_index_check('t_g_idx', true)" })).trim(), '');
    } finally {
      await cluster.stop();
    }
  });
}

for (const major of [17, 18]) {
  test(`the client programs of ${major} dump and restore a cluster of ${major}`, async (t) => {
    const bins = await requireMajor(t, major, { client: true });
    if (!bins) return;
    await using dir = await scratchDir();
    const cluster = await startSourceOfMajor(major, { parentDir: dir.path });
    assert.ok(cluster);
    try {
      await psql(cluster, 'postgres', { sql: 'CREATE TABLE t AS SELECT g FROM generate_series(1, 100) g' });
      await psql(cluster, 'postgres', { sql: 'CREATE DATABASE copy' });
      const dump = join(dir.path, 'dump');
      const env = cluster.env('postgres');
      const v = await runProcess({ bin: bins.path('pg_dump'), args: ['--version'], stdout: 'capture' });
      assert.match(v.stdout, new RegExp(`\\(PostgreSQL\\) ${major}\\.`));
      await runProcess({ bin: bins.path('pg_dump'), args: ['-Fc', '--no-sync', '-f', dump], env });
      await runProcess({ bin: bins.path('pg_restore'), args: ['--exit-on-error', '-d', 'copy', dump], env });
      assert.equal((await psql(cluster, 'copy', { sql: 'SELECT count(*) FROM t' })).trim(), '100');
    } finally {
      await cluster.stop();
    }
  });
}
