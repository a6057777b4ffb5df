/**
 * Databases whose names make the same file-system-safe string (`a b` and `a_b`) never share a drill lock or a run
 * directory: two drills of them into one --out run side by side, and history/status name each exactly (from the
 * report, not from the directory's name).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliRun } from '../helpers/cli.js';
import { scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { createAppDatabase, holdLock, pgdrillSessions, waitFor, waitForNoPgdrillSessions } from '../helpers/safety.js';
import { databaseKey, runDirKey, runDirLabel, safeName } from '../../src/out-dir/run-dir.js';
import { acquireDrillLock, drillLockPath } from '../../src/out-dir/drill-lock.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';

test('databaseKey: plain names keep their key; names safeName changes get a hash of the exact name, never a plain key', () => {
  assert.equal(databaseKey('shop'), 'shop');
  assert.equal(databaseKey('my.app-2'), 'my.app-2');
  const names = ['a b', 'a_b', 'a/b', 'a  b', 'A B', 'a\tb', '', 'db', 'é', 'o"q', 'x'.repeat(61), 'x'.repeat(60), 'x'.repeat(60) + 'y'];
  const keys = names.map(databaseKey);
  assert.equal(new Set(keys).size, names.length, keys.join(' '));
  for (const [i, n] of names.entries()) {
    const k = keys[i]!;
    assert.ok(k === n || k.startsWith(`${safeName(n)}~`), k);
    assert.match(k, /^[A-Za-z0-9_.~-]+$/);
    // What history reads back from the run directory's name.
    assert.equal(runDirKey(`${k}-20260101T000000Z-2`), k);
    assert.equal(runDirLabel(`${k}-20260101T000000Z`), safeName(n));
  }
  assert.notEqual(drillLockPath('/o', 'a b'), drillLockPath('/o', 'a_b'));
});

test('a drill lock that is a symbolic link is never followed: not honoured, replaced, its target untouched', async () => {
  await using d = await scratchDir();
  const out = join(d.path, 'out');
  await mkdir(out);
  // What the link points at reads as a lock held by a live drill (this process): followed, it would refuse the drill.
  const target = join(d.path, 'elsewhere.json');
  const text = JSON.stringify({ pid: process.pid, host: hostname(), start_ticks: null, database: 'shop', started_at: '2026-01-01T00:00:00Z', token: 't' });
  await writeFile(target, text);
  await symlink(target, drillLockPath(out, 'shop'));
  const lock = await acquireDrillLock(out, 'shop');
  try {
    assert.equal((await lstat(lock.path)).isFile(), true, 'the link was replaced by a real lock');
    assert.equal(await readFile(target, 'utf8'), text);
  } finally {
    await lock.release();
  }
  // A real lock of a live drill is still honoured.
  await writeFile(drillLockPath(out, 'shop'), text);
  await assert.rejects(acquireDrillLock(out, 'shop'), /another drill of database "shop"/);
});

describe('drills of databases whose safe names collide', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  before(async () => {
    dir = await scratchDir();
    source = await startSource({ parentDir: dir.path });
    await createAppDatabase(source, 'a b');
    await createAppDatabase(source, 'a_b');
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  test('`a b` and `a_b` drill side by side into one --out; history and status name both exactly', { timeout: 300_000 }, async () => {
    const out = join(dir.path, 'out');
    const cfg = join(dir.path, 'slow-lock.yaml');
    await writeFile(cfg, 'backup:\n  lock_wait_timeout: 120s\n  globals: false\n');
    // Each drill is held inside its backup (waiting for a lock) until both are there: they surely overlap.
    const holders = [await holdLock(source, 'a b', 'public.customers'), await holdLock(source, 'a_b', 'public.customers')];
    const results: (CliRun | null)[] = [null, null];
    const runs = ['a b', 'a_b'].map((db, i) =>
      runCli(['run', '--source', urlOf(source, db), '--config', cfg, '--out', out, '--json']).then((r) => (results[i] = r)));
    try {
      await waitFor('both drills waiting in their backup (or one ended)', async () =>
        results.some((r) => r !== null) || (await pgdrillSessions(source)).filter((s) => s.waiting).length >= 2, 120_000);
    } finally {
      for (const h of holders) await h.release();
    }
    const [ab, a_b] = await Promise.all(runs);
    for (const r of [ab!, a_b!]) {
      assert.doesNotMatch(r.stderr, /another drill of database/);
      assert.equal(r.code, 0, r.stderr.slice(-3000));
    }
    const runDirs = (await readdir(out)).filter((f) => !f.startsWith('.')).sort();
    assert.equal(runDirs.length, 2, runDirs.join(' '));
    assert.deepEqual(runDirs.map((d) => runDirKey(d)).sort(), [databaseKey('a b'), databaseKey('a_b')].sort());
    assert.deepEqual((await readdir(out)).filter((f) => f.endsWith('.lock')), [], 'locks released');

    const history = JSON.parse((await runCli(['history', '--out', out, '--json'])).stdout) as unknown;
    const entries = (Array.isArray(history) ? history : (history as { entries: unknown[] }).entries) as { database: string; status: string }[];
    assert.deepEqual(entries.map((e) => `${e.database}:${e.status}`).sort(), ['a b:PASS', 'a_b:PASS']);
    const status = await runCli(['status', '--out', out, '--json']);
    assert.equal(status.code, 0, status.stderr + status.stdout);
    const dbs = (JSON.parse(status.stdout) as { databases: { database: string }[] }).databases.map((d) => d.database).sort();
    assert.deepEqual(dbs, ['a b', 'a_b']);
    await waitForNoPgdrillSessions(source);
  });
});
