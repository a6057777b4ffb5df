/**
 * The restore sandbox runs with the settings src/pipeline/restore/restore-stage.ts gives it — read from the running server,
 * at the moment the checks begin, by the afterRestore hook: WAL minimal (the one-transaction replay writes no WAL
 * for its tables), no JIT for the checks' scans, no autovacuum rewriting the restored tables beside them.
 * And a kept sandbox (--keep) is left as the dump made it: amcheck's extension, installed for pg_amcheck beside
 * the catalog read and the round trip, is gone again; what the report says to connect with and to stop it works.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { pathExists } from '../../src/exec/path-exists.js';
import { removeTree } from '../../src/exec/remove-tree.js';
import { runProcess } from '../../src/exec/run-process.js';
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

test('--keep: the sandbox is left running, reachable as the report says, without the amcheck extension pgdrill installed', async () => {
  await using dir = await scratchDir();
  const source = await startSource({ parentDir: dir.path });
  let pid: number | null = null;
  let rootDir: string | null = null;
  try {
    await psql(source, 'postgres', { sql: 'CREATE DATABASE app' });
    await psql(source, 'app', { sql: 'CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 100);' });
    const { report } = await runDrill({ source: urlOf(source, 'app'), outDir: join(dir.path, 'out'), keep: true });
    assert.equal(report.status, 'PASS', JSON.stringify(report.checks.filter((c) => c.status === 'fail')));
    assert.equal(report.checks.find((c) => c.name === 'fidelity.amcheck')?.status, 'pass');
    assert.equal(report.restore?.kept, true);
    const m = /^psql "([^"]+)" +\(stop it with: (.*pg_ctl -D (\S+) stop); then rm -rf (\S+)\)$/.exec(report.restore?.connect ?? '');
    assert.ok(m, report.restore?.connect ?? '(no connect string)');
    rootDir = m[4]!;
    pid = Number((await readFile(join(m[3]!, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    const c = new pg.Client({ connectionString: m[1] });
    await c.connect();
    try {
      assert.equal((await c.query('SELECT count(*)::int AS n FROM items')).rows[0].n, 100);
      assert.deepEqual((await c.query("SELECT extname FROM pg_extension WHERE extname = 'amcheck'")).rows, [], 'the kept copy has no amcheck extension');
    } finally {
      await c.end();
    }
    // The stop command the report prints works as printed (as root: pg_ctl run as the sandbox's OS user).
    const stopped = await runProcess({ bin: '/bin/sh', args: ['-c', m[2]!], allowFailure: true });
    assert.equal(stopped.exitCode, 0, stopped.stderrTail);
    // (The postmaster is this test's child, so it lingers as a zombie: its pid file says it has shut down.)
    assert.equal(await pathExists(join(m[3]!, 'postmaster.pid')), false, 'the server has shut down after the printed stop command');
  } finally {
    if (pid) {
      try {
        process.kill(pid, 'SIGQUIT');
      } catch {
        /* gone */
      }
      for (let i = 0; i < 300; i++) {
        try {
          process.kill(pid, 0);
        } catch {
          break;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    if (rootDir && (await pathExists(rootDir))) await removeTree(rootDir);
    await source.stop();
  }
});
