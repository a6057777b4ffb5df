/**
 * The initdb template (src/sandbox/initdb-template.ts): the first sandbox runs initdb and caches its pristine
 * output where only root can reach it; later ones start from a copy owned by the sandbox user; a template that is
 * broken is dropped and replaced by a fresh initdb; without root or with the cache off, initdb every time; the
 * cache keeps only the templates in use.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { resolveSandboxUser } from '../../src/exec/os-user.js';
import { processStartTicks } from '../../src/exec/process-liveness.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import { SandboxCluster } from '../../src/sandbox/cluster.js';
import { pruneTemplates, templateCacheDir, templatePath } from '../../src/sandbox/initdb-template.js';
import { sweepOrphanCopies } from '../../src/sandbox/template-spare.js';
import { spawnSync } from 'node:child_process';
import { bins, scratchDir } from '../helpers/clusters.js';

const isRoot = process.getuid?.() === 0;

describe('initdb template', { skip: isRoot ? false : 'the template is used only as root, with a dedicated sandbox user' }, () => {
  test('initdb once, then copies: owned by the sandbox user, the cache root-only, each copy a working cluster', async () => {
    await using dir = await scratchDir();
    const cache = join(dir.path, 'cache');
    const user = await resolveSandboxUser();
    const b = await bins();
    const start = () => SandboxCluster.start({ bins: b, parentDir: dir.path, osUser: user, logger: silentLogger, templateCache: cache });
    await using first = await start();
    assert.equal(first.dataDirFrom, 'initdb');
    const cacheDir = templateCacheDir(user, cache)!;
    const template = templatePath(cacheDir, await bins(), 'pgdrill');
    const t = await stat(template);
    assert.equal(t.uid, 0, 'the template is root\'s');
    assert.equal((await stat(cacheDir)).mode & 0o077, 0, 'the cache is 0700');
    assert.ok(!(await readdir(template)).includes('postmaster.pid'), 'copied before the server started');

    await using second = await start();
    assert.equal(second.dataDirFrom, 'template');
    assert.equal((await stat(second.dataDir)).uid, user!.uid);
    assert.equal((await stat(join(second.dataDir, 'global', 'pg_control'))).uid, user!.uid);
    await using db = await second.open();
    assert.equal(await db.value<number>('SELECT 1 AS one'), 1);
    // Settings are appended to the copy, never to the template.
    assert.match(await readFile(join(second.dataDir, 'postgresql.conf'), 'utf8'), /# pgdrill sandbox/);
    assert.doesNotMatch(await readFile(join(template, 'postgresql.conf'), 'utf8'), /# pgdrill sandbox/);
  });

  test('a broken template is dropped: the sandbox starts from initdb, and a new template is saved', async () => {
    await using dir = await scratchDir();
    const cache = join(dir.path, 'cache');
    const user = await resolveSandboxUser();
    const b = await bins();
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (m) => void warnings.push(m) };
    const start = () => SandboxCluster.start({ bins: b, parentDir: dir.path, osUser: user, logger, templateCache: cache });
    {
      await using first = await start();
      assert.equal(first.dataDirFrom, 'initdb');
    }
    const template = templatePath(templateCacheDir(user, cache)!, await bins(), 'pgdrill');
    await truncate(join(template, 'global', 'pg_control'), 100); // the server will not start from this
    await using second = await start();
    assert.equal(second.dataDirFrom, 'initdb');
    assert.ok(warnings.some((w) => /would not start from the initdb template/.test(w)), warnings.join('\n'));
    await using db = await second.open();
    assert.equal(await db.value<number>('SELECT 1 AS one'), 1);
    await using third = await start();
    assert.equal(third.dataDirFrom, 'initdb', 'the retry does not save a template');
    await using fourth = await start();
    assert.equal(fourth.dataDirFrom, 'template', 'the template was saved again');
  });

  test('a restore sandbox takes the spare copy and makes the next one beside it; teardown ends a copy under way', async () => {
    await using dir = await scratchDir();
    const cache = join(dir.path, 'cache');
    const user = await resolveSandboxUser();
    const b = await bins();
    const start = () => SandboxCluster.start({ bins: b, parentDir: dir.path, osUser: user, logger: silentLogger, templateCache: cache, spare: true });
    const template = templatePath(templateCacheDir(user, cache)!, b, 'pgdrill');
    const cacheEntries = async () => (await readdir(join(template, '..'))).sort();
    const spareMade = async () => {
      for (let i = 0; i < 600 && !(await cacheEntries()).includes(`${basename(template)}.spare`); i++) await new Promise((r) => setTimeout(r, 100));
      return (await cacheEntries()).includes(`${basename(template)}.spare`);
    };
    {
      await using first = await start();
      assert.equal(first.dataDirFrom, 'initdb');
      assert.ok(await spareMade(), 'the first sandbox made a spare of the template it saved');
    }
    // Templates of other builds, unused for hours: making a spare prunes the cache as saving a template does.
    const old = ['pg15-old1', 'pg15-old2', 'pg15-old3', 'pg15-old4', 'pg15-old5'];
    for (const [i, name] of old.entries()) {
      await mkdir(join(template, '..', name));
      const t = new Date(Date.now() - (2 + i) * 3_600_000);
      await utimes(join(template, '..', name), t, t);
    }
    // The temporary copy of a drill killed outright, 5 minutes old (too young for pruning): the next refill sweeps it.
    const orphan = `${template}.spare.tmp-${spawnSync('true').pid}-1`;
    await mkdir(orphan);
    await utimes(orphan, new Date(Date.now() - 300_000), new Date(Date.now() - 300_000));
    {
      await using second = await start();
      assert.equal(second.dataDirFrom, 'spare');
      assert.equal((await stat(second.dataDir)).uid, user!.uid, 'the spare is handed to the sandbox user');
      assert.equal((await stat(join(second.dataDir, 'global', 'pg_control'))).uid, user!.uid);
      await using db = await second.open();
      assert.equal(await db.value<number>('SELECT 1 AS one'), 1);
      assert.ok(await spareMade(), 'the next spare is made while the sandbox runs');
      assert.doesNotMatch((await readFile(join(template + '.spare', 'postgresql.conf'), 'utf8')), /# pgdrill sandbox/, 'a pristine copy');
    }
    assert.deepEqual(await cacheEntries(), [basename(template), `${basename(template)}.spare`, 'pg15-old1', 'pg15-old2', 'pg15-old3'].sort(), 'the 4 most recently used templates stay, the orphaned copy is gone');
    {
      await using third = await start();
      assert.equal(third.dataDirFrom, 'spare');
      const td = await third.stop(); // at once: the copy of the next spare is still under way
      assert.ok(td.confirmed, td.detail);
      assert.deepEqual((await cacheEntries()).filter((e) => e.includes('.tmp-')), [], 'no half-made spare is left behind');
    }
    // A spare that will not start is dropped with its template: the sandbox runs initdb instead.
    {
      await using _fourth = await start(); // held for the block: disposed at its end
      assert.ok(await spareMade());
    }
    await truncate(join(template + '.spare', 'global', 'pg_control'), 100);
    const warnings: string[] = [];
    await using fifth = await SandboxCluster.start({ bins: b, parentDir: dir.path, osUser: user, logger: { ...silentLogger, warn: (m) => void warnings.push(m) }, templateCache: cache, spare: true });
    assert.equal(fifth.dataDirFrom, 'initdb');
    assert.ok(warnings.some((w) => /would not start from the initdb template/.test(w)), warnings.join('\n'));
  });

  test('cache off (null, or PGDRILL_CACHE_DIR=off): initdb every time', async () => {
    await using dir = await scratchDir();
    const user = await resolveSandboxUser();
    assert.equal(templateCacheDir(user, null), null);
    const saved = process.env.PGDRILL_CACHE_DIR;
    process.env.PGDRILL_CACHE_DIR = 'off';
    try {
      assert.equal(templateCacheDir(user), null);
      await using a = await SandboxCluster.start({ bins: await bins(), parentDir: dir.path, osUser: user, logger: silentLogger });
      await using b = await SandboxCluster.start({ bins: await bins(), parentDir: dir.path, osUser: user, logger: silentLogger });
      assert.deepEqual([a.dataDirFrom, b.dataDirFrom], ['initdb', 'initdb']);
    } finally {
      if (saved === undefined) delete process.env.PGDRILL_CACHE_DIR;
      else process.env.PGDRILL_CACHE_DIR = saved;
    }
    assert.equal(templateCacheDir(null, '/x'), null, 'no dedicated OS user (pgdrill runs as its caller): no template');
  });
});

describe('initdb template cache size', () => {
  test('pruneTemplates keeps the most recently used and any used within the hour; old leftovers go', async () => {
    await using dir = await scratchDir();
    const now = Date.now();
    const h = 60 * 60 * 1000;
    const m = 60 * 1000;
    const ages: Record<string, number> = {
      // five used within the hour: all kept, one more than KEEP (a drill may be copying any of them)
      'pg15-a': 10 * m, 'pg15-b': 20 * m, 'pg15-c': 30 * m, 'pg15-d': 40 * m, 'pg15-e': 50 * m,
      'pg15-f': 2 * h, 'pg15-g': 3 * h, // beyond the 4 most recent and older than an hour: removed
      'pg15-x.tmp-123-456': 2 * h, 'pg15-y.drop-123-456': 2 * h, 'pg15-z.tmp-9-9': m, // the last is fresh: an ongoing save
      // spares go with their template, whatever their age; an old half-made spare is a leftover
      'pg15-a.spare': 5 * h, 'pg15-g.spare': m, 'pg15-q.spare': m, 'pg15-a.spare.tmp-7-8': 2 * h, 'pg15-b.spare.tmp-7-8-9': 2 * h,
    };
    for (const [name, age] of Object.entries(ages)) {
      await mkdir(join(dir.path, name));
      await writeFile(join(dir.path, name, 'PG_VERSION'), '15\n');
      const t = new Date(now - age);
      await utimes(join(dir.path, name), t, t);
    }
    const removed = await pruneTemplates(dir.path, 4, now);
    assert.deepEqual(removed.sort(), ['pg15-a.spare.tmp-7-8', 'pg15-b.spare.tmp-7-8-9', 'pg15-f', 'pg15-g', 'pg15-g.spare', 'pg15-q.spare', 'pg15-x.tmp-123-456', 'pg15-y.drop-123-456']);
    assert.deepEqual((await readdir(dir.path)).sort(), ['pg15-a', 'pg15-a.spare', 'pg15-b', 'pg15-c', 'pg15-d', 'pg15-e', 'pg15-z.tmp-9-9']);
    // Two hours later, only the 4 most recently used stay, and the stale leftover goes.
    assert.deepEqual(await pruneTemplates(dir.path, 4, now + 2 * h), ['pg15-e', 'pg15-z.tmp-9-9']);
  });

  test('sweepOrphanCopies removes the temporary spare copies of drills killed outright, nothing else', async () => {
    await using dir = await scratchDir();
    const now = Date.now();
    const dead = spawnSync('true').pid; // a process that has exited
    const ages: Record<string, number> = {
      [`pg15-a.spare.tmp-${dead}-1`]: 5 * 60_000, // its drill is gone, unchanged for 5 minutes: an orphan
      [`pg15-a.spare.tmp-${dead}-2`]: 10_000, // its drill is gone, but changed 10 s ago: its cp may still write
      [`pg15-a.spare.tmp-${process.pid}-3`]: 5 * 60_000, // its drill runs
      [`pg15-a.spare.tmp-${process.pid}-5-${processStartTicks(process.pid)}`]: 5 * 60_000, // its drill runs (start time recorded)
      [`pg15-a.spare.tmp-${process.pid}-6-${processStartTicks(process.pid)! - 1}`]: 5 * 60_000, // its pid was reused: an orphan
      [`pg15-b.spare.tmp-${dead}-4`]: 5 * 60_000, // another template's
      'pg15-a.spare': 5 * 60_000,
      'pg15-a': 5 * 60_000,
    };
    for (const [name, age] of Object.entries(ages)) {
      await mkdir(join(dir.path, name));
      const t = new Date(now - age);
      await utimes(join(dir.path, name), t, t);
    }
    assert.deepEqual((await sweepOrphanCopies(join(dir.path, 'pg15-a'), now)).sort(), [`pg15-a.spare.tmp-${dead}-1`, `pg15-a.spare.tmp-${process.pid}-6-${processStartTicks(process.pid)! - 1}`].sort());
    assert.equal((await readdir(dir.path)).length, Object.keys(ages).length - 2);
  });
});
