/**
 * The restore sandbox runs with the settings src/drill/restore-stage.ts gives it — read from the running server,
 * at the moment the checks begin, by the afterRestore hook: WAL minimal (the one-transaction replay writes no WAL
 * for its tables), no JIT for the checks' scans, no autovacuum rewriting the restored tables beside them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import pg from 'pg';
import { runDrill } from '../../src/drill/run-drill.js';
import { psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';

test('the restore sandbox: wal_level minimal, jit off, autovacuum off — as the running server reports them', async () => {
  await using dir = await scratchDir();
  const source = await startSource({ parentDir: dir.path });
  try {
    await psql(source, 'postgres', { sql: 'CREATE DATABASE app' });
    await psql(source, 'app', { sql: 'CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 100);' });
    let seen: Record<string, string> | null = null;
    const { report } = await runDrill({
      source: urlOf(source, 'app'), outDir: join(dir.path, 'out'),
      afterRestore: async (copy) => {
        const c = new pg.Client({ host: copy.env.PGHOST, port: Number(copy.env.PGPORT), user: copy.env.PGUSER, database: copy.database });
        await c.connect();
        try {
          const r = await c.query<{ name: string; setting: string }>("SELECT name, setting FROM pg_settings WHERE name IN ('wal_level', 'jit', 'autovacuum')");
          seen = Object.fromEntries(r.rows.map((x) => [x.name, x.setting]));
        } finally {
          await c.end();
        }
      },
    });
    assert.equal(report.status, 'PASS', JSON.stringify(report.checks.filter((c) => c.status === 'fail')));
    assert.deepEqual(seen, { autovacuum: 'off', jit: 'off', wal_level: 'minimal' });
  } finally {
    await source.stop();
  }
});
