/**
 * `cleanupOrphans` rules that need no running server: what counts as pgdrill's, what is left alone (kept, in use,
 * a marker that points elsewhere, the partial dump of a running drill), --dry-run. (Stopping a real orphaned postmaster: signals.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { scratchDir } from '../helpers/clusters.js';
import { exists } from '../helpers/leftovers.js';
import { deadPid } from '../helpers/safety.js';
import { cleanupOrphans } from '../../src/sandbox/orphans.js';
import { writeMarker } from '../../src/sandbox/marker.js';
import { processStartTicks } from '../../src/drill/drill-lock.js';

async function fakeSandbox(parent: string, name: string, marker: { pgdrillPid: number; kept?: boolean; dataDir?: string }, socketDir: string): Promise<string> {
  const root = join(parent, name);
  await mkdir(join(root, 'data'), { recursive: true });
  await writeFile(join(root, 'data', 'PG_VERSION'), '15\n');
  await writeMarker(root, { kind: 'sandbox', pgdrillPid: marker.pgdrillPid, socketDir, dataDir: marker.dataDir ?? join(root, 'data'), createdAt: '2026-01-01T00:00:00Z', kept: marker.kept });
  return root;
}

test('cleanup removes orphans only: kept, in use and foreign-pointing markers are left; --dry-run removes nothing', async () => {
  await using d = await scratchDir();
  const out = join(d.path, 'drills');
  const tmp = join(d.path, 'tmp');
  await mkdir(join(out, 'db-20260101T000000Z'), { recursive: true });
  await mkdir(tmp);
  const dead = await deadPid();
  const sock = join(tmp, 'pgdrill-sock-orphan');
  await mkdir(sock);
  const orphan = await fakeSandbox(join(out, 'db-20260101T000000Z'), 'sandbox-orphan', { pgdrillPid: dead }, sock);
  const kept = await fakeSandbox(out, 'sandbox-kept', { pgdrillPid: dead, kept: true }, join(tmp, 'pgdrill-sock-kept'));
  const inUse = await fakeSandbox(tmp, 'sandbox-inuse', { pgdrillPid: process.pid }, join(tmp, 'pgdrill-sock-inuse'));
  const liar = await fakeSandbox(tmp, 'sandbox-liar', { pgdrillPid: dead, dataDir: join(d.path, 'elsewhere', 'data') }, join(tmp, 'pgdrill-sock-liar'));
  const unmarked = join(out, 'sandbox-unmarked');
  await mkdir(join(unmarked, 'data'), { recursive: true });
  // A socket directory nobody serves: removed once older than a minute; a fresh one is left (a sandbox may be starting).
  const oldSock = join(tmp, 'pgdrill-sock-old');
  const newSock = join(tmp, 'pgdrill-sock-new');
  await mkdir(oldSock);
  await mkdir(newSock);
  await utimes(oldSock, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
  const lock = join(out, '.pgdrill-db.lock');
  await writeFile(lock, JSON.stringify({ pid: dead, host: hostname(), start_ticks: null, database: 'db', started_at: '2026-01-01T00:00:00Z', token: 't' }));

  const dry = await cleanupOrphans({ outDirs: [out], tmpDir: tmp, dryRun: true });
  assert.equal(dry.removed, 0);
  assert.deepEqual(dry.items.filter((i) => i.action === 'would_remove').map((i) => i.path).sort(), [lock, oldSock, orphan].sort());
  for (const p of [orphan, oldSock, lock]) assert.equal(await exists(p), true);

  const r = await cleanupOrphans({ outDirs: [out], tmpDir: tmp });
  const by = new Map(r.items.map((i) => [i.path, i]));
  assert.equal(by.get(orphan)?.action, 'removed');
  assert.match(by.get(orphan)!.reason, new RegExp(`orphaned: pgdrill pid ${dead} is gone; socket dir ${sock} removed`));
  assert.equal(await exists(orphan), false);
  assert.equal(await exists(sock), false);
  assert.equal(by.get(kept)?.action, 'skipped');
  assert.match(by.get(kept)!.reason, /kept running on purpose/);
  assert.equal(by.get(inUse)?.action, 'skipped');
  assert.match(by.get(inUse)!.reason, new RegExp(`in use: pgdrill pid ${process.pid} is running`));
  assert.equal(by.get(liar)?.action, 'skipped');
  assert.match(by.get(liar)!.reason, /names a data directory outside it/);
  assert.equal(by.has(unmarked), false);
  assert.equal(by.get(oldSock)?.action, 'removed');
  assert.equal(by.get(newSock)?.action, 'skipped');
  assert.equal(by.get(lock)?.action, 'removed');
  for (const p of [kept, inUse, liar, unmarked, newSock]) assert.equal(await exists(p), true, p);

  const all = await cleanupOrphans({ outDirs: [out], tmpDir: tmp, includeKept: true });
  assert.equal(all.items.find((i) => i.path === kept)?.action, 'removed');
});

test('cleanup removes the partial dumps of drills that are gone, never those of a running drill nor anything else', async () => {
  await using d = await scratchDir();
  const out = join(d.path, 'drills');
  const tmp = join(d.path, 'tmp');
  await mkdir(tmp, { recursive: true });
  const dead = await deadPid();
  const lockOf = (db: string, pid: number, ticks: number | null) =>
    writeFile(join(out, `.pgdrill-${db}.lock`), JSON.stringify({ pid, host: hostname(), start_ticks: ticks, database: db, started_at: '2026-01-01T00:00:00Z', token: 't' }));
  const file = async (dir: string, name: string) => {
    await mkdir(join(out, dir), { recursive: true });
    await writeFile(join(out, dir, name), 'SET statement_timeout = 0;\n');
    return join(out, dir, name);
  };
  // Killed drills: one whose stale lock is still there, one whose lock is gone; a directory-format partial too.
  const stale = await file('shop-20260101T000000Z', 'shop-20260101T000000Z.sql.partial');
  await lockOf('shop', dead, null);
  const unlocked = await file('crm-20260102T000000Z-2', 'crm-20260102T000000Z-2.dump.partial');
  const dirFormat = join(out, 'crm-20260103T000000Z', 'crm-20260103T000000Z.dir.partial');
  await mkdir(dirFormat, { recursive: true });
  await writeFile(join(dirFormat, 'toc.dat'), 'x');
  // A running drill (this process holds the lock of "live"), a finished dump, and a file outside any run directory.
  const running = await file('live-20260104T000000Z', 'live-20260104T000000Z.sql.partial');
  await lockOf('live', process.pid, processStartTicks(process.pid));
  const finished = await file('shop-20260105T000000Z', 'shop-20260105T000000Z.sql');
  const foreign = await file('notes', 'draft.partial');

  const dry = await cleanupOrphans({ outDirs: [out], tmpDir: tmp, dryRun: true });
  assert.deepEqual(dry.items.filter((i) => i.kind === 'partial_dump' && i.action === 'would_remove').map((i) => i.path).sort(), [stale, unlocked, dirFormat].sort());
  assert.equal(await exists(stale), true);

  const r = await cleanupOrphans({ outDirs: [out], tmpDir: tmp });
  assert.deepEqual(r.items.filter((i) => i.kind === 'partial_dump' && i.action === 'removed').map((i) => i.path).sort(), [stale, unlocked, dirFormat].sort());
  for (const p of [stale, unlocked, dirFormat]) assert.equal(await exists(p), false, p);
  const skipped = r.items.find((i) => i.path === running);
  assert.equal(skipped?.action, 'skipped');
  assert.match(skipped.reason, new RegExp(`drill pid ${process.pid} .* holds the lock of live`));
  for (const p of [running, finished, foreign]) assert.equal(await exists(p), true, p);
});
