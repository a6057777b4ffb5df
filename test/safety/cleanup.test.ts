/**
 * `cleanupOrphans`: it acts only on sandboxes pgdrill recorded creating (sandbox-records.ts), and everything else —
 * a forged marker, a planted socket directory, a recorded sandbox whose directories were swapped for links, a
 * planted lock or partial dump — is reported as refused and left alone. The attacks are aimed at a real running
 * "victim" cluster that must come out untouched; the controls (a genuine orphan of a SIGKILLed process, kept, in
 * use, --dry-run) still work. (Stopping the orphan of a SIGKILLed `pgdrill run`: signals.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, chown, lstat, mkdir, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { bins, scratchDir, silentLogger } from '../helpers/clusters.js';
import { exists } from '../helpers/leftovers.js';
import { deadPid, waitFor } from '../helpers/safety.js';
import { cleanupOrphans, type CleanupItem } from '../../src/sandbox/orphans.js';
import { writeMarker } from '../../src/sandbox/marker.js';
import { processStartTicks } from '../../src/exec/process-liveness.js';
import { recordSandbox, readSandboxRecords, updateSandboxRecord } from '../../src/sandbox/sandbox-records.js';
import { ensureStateDir } from '../../src/sandbox/state-dir.js';
import { SandboxCluster } from '../../src/sandbox/cluster.js';
import { resolveSandboxUser } from '../../src/exec/os-user.js';
import { isAlive } from '../../src/exec/process-liveness.js';

/** A sandbox-shaped directory with a marker (anyone can make one). */
async function fakeSandbox(parent: string, name: string, marker: { pgdrillPid: number; kept?: boolean; dataDir?: string }, socketDir: string): Promise<string> {
  const root = join(parent, name);
  await mkdir(join(root, 'data'), { recursive: true });
  await writeFile(join(root, 'data', 'PG_VERSION'), '15\n');
  await writeMarker(root, { kind: 'sandbox', pgdrillPid: marker.pgdrillPid, socketDir, dataDir: marker.dataDir ?? join(root, 'data'), createdAt: '2026-01-01T00:00:00Z', kept: marker.kept });
  return root;
}

/** The same, recorded in `state` as pgdrill records what it creates. */
async function recordedSandbox(state: string, parent: string, name: string, o: { pgdrillPid: number; kept?: boolean }, socketDir: string): Promise<string> {
  const root = await fakeSandbox(parent, name, o, socketDir);
  await mkdir(socketDir, { recursive: true });
  const stored = await recordSandbox(state, {
    label: 'sandbox', pgdrill_pid: o.pgdrillPid, pgdrill_start_ticks: processStartTicks(o.pgdrillPid), root_dir: root,
    data_dir: join(root, 'data'), socket_dir: socketDir, server_uid: process.geteuid!(),
  });
  if (o.kept) await updateSandboxRecord(stored, { kept: true });
  return root;
}

const itemsByPath = (items: CleanupItem[]) => new Map(items.map((i) => [i.path, i]));

test('cleanup removes recorded orphans only: kept, in use, unrecorded markers and socket dirs are left; --dry-run removes nothing', async () => {
  await using d = await scratchDir();
  const out = join(d.path, 'drills');
  const tmp = join(d.path, 'tmp');
  const state = join(d.path, 'state');
  await mkdir(join(out, 'db-20260101T000000Z'), { recursive: true });
  await mkdir(tmp);
  const dead = await deadPid();
  const sock = join(tmp, 'pgdrill-sock-orphan');
  const orphan = await recordedSandbox(state, join(out, 'db-20260101T000000Z'), 'sandbox-orphan', { pgdrillPid: dead }, sock);
  const kept = await recordedSandbox(state, out, 'sandbox-kept', { pgdrillPid: dead, kept: true }, join(tmp, 'pgdrill-sock-kept'));
  const inUse = await recordedSandbox(state, tmp, 'sandbox-inuse', { pgdrillPid: process.pid }, join(tmp, 'pgdrill-sock-inuse'));
  // A recorded orphan whose directory now belongs to someone else: not what pgdrill made.
  const handedOver = await recordedSandbox(state, tmp, 'sandbox-handed-over', { pgdrillPid: dead }, join(tmp, 'pgdrill-sock-handed-over'));
  await chown(handedOver, 65534, 65534);
  // Markers pgdrill never recorded: in the temp directory and in an out directory.
  const forgedTmp = await fakeSandbox(tmp, 'sandbox-forged', { pgdrillPid: dead }, join(tmp, 'pgdrill-sock-forged'));
  const forgedOut = await fakeSandbox(join(out, 'db-20260101T000000Z'), 'sandbox-forged', { pgdrillPid: dead }, join(tmp, 'pgdrill-sock-forged'));
  const unmarked = join(out, 'sandbox-unmarked');
  await mkdir(join(unmarked, 'data'), { recursive: true });
  // A socket directory pgdrill has no record of, however old: not pgdrill's.
  const oldSock = join(tmp, 'pgdrill-sock-old');
  await mkdir(oldSock);
  await utimes(oldSock, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
  const lock = join(out, '.pgdrill-db.lock');
  await writeFile(lock, JSON.stringify({ pid: dead, host: hostname(), start_ticks: null, database: 'db', started_at: '2026-01-01T00:00:00Z', token: 't' }));

  const dry = await cleanupOrphans({ outDirs: [out], tmpDir: tmp, stateDir: state, dryRun: true });
  assert.equal(dry.removed, 0);
  assert.deepEqual(dry.items.filter((i) => i.action === 'would_remove').map((i) => i.path).sort(), [lock, orphan].sort());
  assert.equal(dry.items.find((i) => i.path === handedOver)?.action, 'refused');
  for (const p of [orphan, lock]) assert.equal(await exists(p), true);

  const r = await cleanupOrphans({ outDirs: [out], tmpDir: tmp, stateDir: state });
  const by = itemsByPath(r.items);
  assert.equal(by.get(orphan)?.action, 'removed');
  assert.match(by.get(orphan)!.reason, new RegExp(`orphaned: pgdrill pid ${dead} is gone; socket dir ${sock} removed`));
  assert.equal(await exists(orphan), false);
  assert.equal(await exists(sock), false);
  assert.equal(by.get(kept)?.action, 'skipped');
  assert.match(by.get(kept)!.reason, /kept running on purpose/);
  assert.equal(by.get(inUse)?.action, 'skipped');
  assert.match(by.get(inUse)!.reason, new RegExp(`in use: pgdrill pid ${process.pid} is running`));
  for (const forged of [forgedTmp, forgedOut]) {
    assert.equal(by.get(forged)?.action, 'refused', forged);
    assert.match(by.get(forged)!.reason, /pgdrill has no record of creating it/);
  }
  assert.equal(by.has(unmarked), false);
  assert.equal(by.get(handedOver)?.action, 'refused');
  assert.match(by.get(handedOver)!.reason, /sandbox-handed-over is owned by uid 65534; left alone$/);
  assert.equal(by.get(oldSock)?.action, 'refused');
  assert.equal(by.get(lock)?.action, 'removed');
  assert.equal(r.refused, 4);
  for (const p of [kept, inUse, handedOver, forgedTmp, forgedOut, unmarked, oldSock]) assert.equal(await exists(p), true, p);
  // The removed orphan's record is gone with it; the others stay.
  assert.deepEqual((await readSandboxRecords(state)).records.map((s) => s.record.root_dir).sort(), [handedOver, inUse, kept].sort());

  const all = await cleanupOrphans({ outDirs: [out], tmpDir: tmp, stateDir: state, includeKept: true });
  assert.equal(all.items.find((i) => i.path === kept)?.action, 'removed');
  // A kept sandbox removed by hand (as --keep's message says): its record goes without --include-kept.
  const byHand = await recordedSandbox(state, tmp, 'sandbox-by-hand', { pgdrillPid: dead, kept: true }, join(tmp, 'pgdrill-sock-by-hand'));
  await rm(byHand, { recursive: true });
  const after = await cleanupOrphans({ outDirs: [out], tmpDir: tmp, stateDir: state });
  assert.match(after.items.find((i) => i.path === byHand)?.reason ?? '', /nothing was left on disk; its record is dropped/);
});

test('cleanup trusts no record it did not write: a state file of another owner, group-writable or a link is refused', async () => {
  await using d = await scratchDir();
  const state = join(d.path, 'state');
  const tmp = join(d.path, 'tmp');
  await mkdir(tmp);
  const dead = await deadPid();
  const good = await recordedSandbox(state, tmp, 'sandbox-good', { pgdrillPid: dead }, join(tmp, 'pgdrill-sock-good'));
  const victimDir = join(d.path, 'victim');
  await mkdir(victimDir);
  await writeFile(join(victimDir, 'precious'), 'x');
  const record = (root: string) => JSON.stringify({
    version: 1, id: '0123456789abcdef', label: 'sandbox', host: hostname(), pgdrill_pid: dead, pgdrill_start_ticks: null, root_dir: root,
    data_dir: join(root, 'data'), socket_dir: join(tmp, 'pgdrill-sock-x'), server_uid: 0, postmaster_pid: null, postmaster_start_ticks: null,
    created_at: '2026-01-01T00:00:00Z', kept: false,
  });
  const records = join(state, 'sandboxes');
  // Owned by nobody (uid 65534); group-writable; a symbolic link to a file elsewhere; all naming the victim.
  const foreign = join(records, '0123456789abcdef.json');
  await writeFile(foreign, record(victimDir), { mode: 0o600 });
  await chown(foreign, 65534, 65534);
  const writable = join(records, '1123456789abcdef.json');
  await writeFile(writable, record(victimDir).replace('0123456789abcdef', '1123456789abcdef'));
  await chmod(writable, 0o620);
  const elsewhere = join(d.path, 'elsewhere.json');
  await writeFile(elsewhere, record(victimDir).replace('0123456789abcdef', '2123456789abcdef'), { mode: 0o600 });
  const linked = join(records, '2123456789abcdef.json');
  await symlink(elsewhere, linked);

  const r = await cleanupOrphans({ outDirs: [join(d.path, 'drills')], tmpDir: tmp, stateDir: state });
  const by = itemsByPath(r.items);
  assert.match(by.get(foreign)?.reason ?? '', /refused: .*owned by uid 65534/);
  assert.match(by.get(writable)?.reason ?? '', /refused: .*writable by others/);
  assert.match(by.get(linked)?.reason ?? '', /refused: .*symbolic link/);
  assert.equal(by.get(good)?.action, 'removed');
  assert.equal(await exists(join(victimDir, 'precious')), true);
  assert.equal(by.has(victimDir), false);

  // A state directory others can write is not trusted at all, and pgdrill will not record a sandbox in it.
  await chmod(state, 0o770);
  const r2 = await cleanupOrphans({ outDirs: [], tmpDir: tmp, stateDir: state });
  assert.ok(r2.items.some((i) => i.kind === 'state_file' && i.path === state && /not private \(.*mode 770/.test(i.reason)), JSON.stringify(r2.items));
  await assert.rejects(ensureStateDir(state), /state directory .* is not private/);
  // Nor one below a directory every user can write without the sticky bit.
  const open = join(d.path, 'open');
  await mkdir(open);
  await chmod(open, 0o777);
  await assert.rejects(ensureStateDir(join(open, 'state')), /open is writable by every user/);
  // One that cannot be made: exit 4 (EnvironmentError) saying what to set.
  await assert.rejects(ensureStateDir('/proc/pgdrill-state'), (e: Error & { exitCode?: number }) => e.exitCode === 4 && /cannot create pgdrill's state directory \/proc\/pgdrill-state .*PGDRILL_STATE_DIR/.test(e.message));
});

test('cleanup refuses planted drill locks and partial dumps: links, foreign owners; never follows them out', async () => {
  await using d = await scratchDir();
  const out = join(d.path, 'drills');
  const tmp = join(d.path, 'tmp');
  await mkdir(tmp, { recursive: true });
  const dead = await deadPid();
  const canaryDir = join(d.path, 'canary');
  await mkdir(canaryDir);
  await writeFile(join(canaryDir, 'file'), 'precious');
  const run = join(out, 'shop-20260101T000000Z');
  await mkdir(run, { recursive: true });
  // Partial "dumps" that are links to the canary (file and directory), and one owned by another user.
  const linkFile = join(run, 'a.sql.partial');
  await symlink(join(canaryDir, 'file'), linkFile);
  const linkDir = join(run, 'b.dir.partial');
  await symlink(canaryDir, linkDir);
  const foreign = join(run, 'c.sql.partial');
  await writeFile(foreign, 'x');
  await chown(foreign, 65534, 65534);
  // A lock that is a link to a file, and a lock owned by another user, both "stale".
  const stale = JSON.stringify({ pid: dead, host: hostname(), start_ticks: null, database: 'x', started_at: '2026-01-01T00:00:00Z', token: 't' });
  await writeFile(join(canaryDir, 'lock'), stale);
  const linkLock = join(out, '.pgdrill-x.lock');
  await symlink(join(canaryDir, 'lock'), linkLock);
  const foreignLock = join(out, '.pgdrill-y.lock');
  await writeFile(foreignLock, stale);
  await chown(foreignLock, 65534, 65534);
  // A run directory that is a link to the canary, with a "partial" in it.
  await writeFile(join(canaryDir, 'd.sql.partial'), 'precious');
  await symlink(canaryDir, join(out, 'crm-20260101T000000Z'));

  const r = await cleanupOrphans({ outDirs: [out], tmpDir: tmp, stateDir: join(d.path, 'state') });
  const by = itemsByPath(r.items);
  assert.match(by.get(linkFile)?.reason ?? '', /^refused: it is a symbolic link/);
  assert.match(by.get(linkDir)?.reason ?? '', /^refused: it is a symbolic link/);
  assert.match(by.get(foreign)?.reason ?? '', /^refused: it is owned by uid 65534/);
  assert.match(by.get(linkLock)?.reason ?? '', /^refused: .*symbolic link/);
  assert.match(by.get(foreignLock)?.reason ?? '', /^refused: .*owned by uid 65534/);
  assert.equal(r.removed, 0, JSON.stringify(r.items));
  for (const p of [linkFile, linkDir, foreign, linkLock, foreignLock]) assert.ok(await lstat(p), p);
  for (const f of ['file', 'lock', 'd.sql.partial']) assert.equal(await exists(join(canaryDir, f)), true, f);
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

  const dry = await cleanupOrphans({ outDirs: [out], tmpDir: tmp, stateDir: join(d.path, 'state'), dryRun: true });
  assert.deepEqual(dry.items.filter((i) => i.kind === 'partial_dump' && i.action === 'would_remove').map((i) => i.path).sort(), [stale, unlocked, dirFormat].sort());
  assert.equal(await exists(stale), true);

  const r = await cleanupOrphans({ outDirs: [out], tmpDir: tmp, stateDir: join(d.path, 'state') });
  assert.deepEqual(r.items.filter((i) => i.kind === 'partial_dump' && i.action === 'removed').map((i) => i.path).sort(), [stale, unlocked, dirFormat].sort());
  for (const p of [stale, unlocked, dirFormat]) assert.equal(await exists(p), false, p);
  const skipped = r.items.find((i) => i.path === running);
  assert.equal(skipped?.action, 'skipped');
  assert.match(skipped.reason, new RegExp(`drill pid ${process.pid} .* holds the lock of live`));
  for (const p of [running, finished, foreign]) assert.equal(await exists(p), true, p);
});

test('cleanup removes the checked WAL copy of a physical drill that is gone; a planted or foreign one is refused, a running drill\'s kept', async () => {
  // (A real drill SIGKILLed while it makes the copy: test/physical/leftovers.test.ts.)
  await using d = await scratchDir();
  const out = join(d.path, 'drills');
  const tmp = join(d.path, 'tmp');
  await mkdir(tmp, { recursive: true });
  const dead = await deadPid();
  const canaryDir = join(d.path, 'canary');
  await mkdir(canaryDir);
  await writeFile(join(canaryDir, '000000010000000000000003'), 'precious');
  /** `<out>/<run>/wal-checked` as a physical drill leaves it: a directory of segments, mode 0700. */
  const walCopy = async (run: string) => {
    const dir = join(out, run, 'wal-checked');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(join(dir, '000000010000000000000002'), Buffer.alloc(1024));
    await writeFile(join(dir, '00000002.history'), '1\t0/3000000\tno recovery target specified\n');
    return dir;
  };
  const lockOf = (db: string, pid: number, ticks: number | null) =>
    writeFile(join(out, `.pgdrill-${db}.lock`), JSON.stringify({ pid, host: hostname(), start_ticks: ticks, database: db, started_at: '2026-01-01T00:00:00Z', token: 't' }));
  // Killed drills: one whose stale lock is still there, one whose lock is gone.
  const stale = await walCopy('shop-20260101T000000Z');
  await lockOf('shop', dead, null);
  const unlocked = await walCopy('crm-20260102T000000Z-2');
  // A drill running now (this process holds the lock of "live").
  const running = await walCopy('live-20260104T000000Z');
  await lockOf('live', process.pid, processStartTicks(process.pid));
  // Planted: a link to the canary; a directory of another user; a file of that name; one in another user's run directory.
  await mkdir(join(out, 'a-20260105T000000Z'), { recursive: true });
  const link = join(out, 'a-20260105T000000Z', 'wal-checked');
  await symlink(canaryDir, link);
  const foreign = await walCopy('b-20260105T000000Z');
  await chown(foreign, 65534, 65534);
  await mkdir(join(out, 'c-20260105T000000Z'), { recursive: true });
  const file = join(out, 'c-20260105T000000Z', 'wal-checked');
  await writeFile(file, 'x');
  const inForeignRun = await walCopy('d-20260105T000000Z');
  await chown(join(out, 'd-20260105T000000Z'), 65534, 65534);
  // Not a run directory at all: never looked at.
  const notARun = join(out, 'notes', 'wal-checked');
  await mkdir(notARun, { recursive: true });

  const dry = await cleanupOrphans({ outDirs: [out], tmpDir: tmp, stateDir: join(d.path, 'state'), dryRun: true });
  assert.deepEqual(dry.items.filter((i) => i.kind === 'wal_copy' && i.action === 'would_remove').map((i) => i.path).sort(), [stale, unlocked].sort());
  assert.equal(await exists(stale), true);

  const r = await cleanupOrphans({ outDirs: [out], tmpDir: tmp, stateDir: join(d.path, 'state') });
  const by = itemsByPath(r.items);
  for (const p of [stale, unlocked]) {
    assert.equal(by.get(p)?.action, 'removed', by.get(p)?.reason);
    assert.match(by.get(p)?.reason ?? '', /left by a drill that is gone .*: a copy of WAL the continuity check made for recovery/);
    assert.equal(await exists(p), false, p);
  }
  assert.equal(by.get(running)?.action, 'skipped');
  assert.match(by.get(running)?.reason ?? '', new RegExp(`drill pid ${process.pid} .* holds the lock of live`));
  assert.match(by.get(link)?.reason ?? '', /^refused: it is a symbolic link/);
  assert.match(by.get(foreign)?.reason ?? '', /^refused: it is owned by uid 65534/);
  assert.match(by.get(file)?.reason ?? '', /^refused: it is not a directory/);
  assert.match(by.get(inForeignRun)?.reason ?? '', /^refused: its run directory is owned by uid 65534/);
  for (const p of [link, foreign, file, inForeignRun]) assert.equal(by.get(p)?.kind, 'wal_copy');
  assert.equal(by.has(notARun), false);
  for (const p of [running, foreign, file, inForeignRun, notARun, join(canaryDir, '000000010000000000000003')]) assert.equal(await exists(p), true, p);
  assert.equal((await lstat(link)).isSymbolicLink(), true);
  assert.equal(r.refused, 4);
});

test('a repository drill killed mid-restore: cleanup removes its recorded staging directory; an unrecorded look-alike is refused', async () => {
  await using d = await scratchDir();
  const tmp = join(d.path, 'tmp');
  const state = join(d.path, 'state');
  await mkdir(tmp, { recursive: true });
  const child = spawn(process.execPath, ['--import', 'tsx', resolve(import.meta.dirname, '../helpers/orphan-staging.ts'), state], {
    env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((res, rej) => {
    let buf = '';
    child.stdout.on('data', (b) => {
      buf += b;
      if (buf.includes('\n')) res(buf.split('\n')[0]!);
    });
    child.on('exit', (code) => rej(new Error(`orphan-staging exited with ${code}`)));
  });
  const { dir } = JSON.parse(line) as { dir: string };
  const running = await cleanupOrphans({ outDirs: [join(d.path, 'drills')], tmpDir: tmp, stateDir: state });
  assert.equal(running.items.find((i) => i.path === dir)?.action, 'skipped', 'its drill still runs');
  child.kill('SIGKILL');
  await new Promise((res) => child.once('exit', res));
  // Named like one, but never recorded: anyone can make it in the temp directory.
  const planted = join(tmp, 'pgdrill-repository-planted');
  await mkdir(join(planted, 'data'), { recursive: true });

  const r = await cleanupOrphans({ outDirs: [join(d.path, 'drills')], tmpDir: tmp, stateDir: state });
  const by = itemsByPath(r.items);
  assert.equal(by.get(dir)?.action, 'removed', by.get(dir)?.reason);
  assert.equal(await exists(dir), false);
  assert.match(by.get(planted)?.reason ?? '', /^refused: named like a repository drill's staging directory, but pgdrill has no record/);
  assert.equal(await exists(join(planted, 'data')), true);
  assert.equal((await readSandboxRecords(state)).records.length, 0, 'its record is dropped');
});

/** Start a process that creates a recorded sandbox (test/helpers/orphan-sandbox.ts) and SIGKILL it: a genuine orphan. */
async function killedSandboxOwner(parentDir: string, state: string): Promise<{ pid: number; rootDir: string; dataDir: string; socketDir: string; postmaster: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', resolve(import.meta.dirname, '../helpers/orphan-sandbox.ts'), parentDir], {
    env: { ...process.env, PGDRILL_STATE_DIR: state }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((res, rej) => {
    let buf = '';
    child.stdout.on('data', (b) => {
      buf += b;
      if (buf.includes('\n')) res(buf.split('\n')[0]!);
    });
    child.on('exit', (code) => rej(new Error(`orphan-sandbox exited with ${code}`)));
  });
  const info = JSON.parse(line) as { pid: number; rootDir: string; dataDir: string; socketDir: string };
  const closed = new Promise((r) => child.on('close', r));
  child.kill('SIGKILL');
  await closed;
  const postmaster = Number((await readFile(join(info.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  assert.ok(isAlive(postmaster), 'the orphan postmaster runs on');
  return { ...info, postmaster };
}

test('a forged marker, a planted socket dir or a swapped data dir never aims cleanup at a running cluster; a real orphan is still cleaned', async () => {
  await using d = await scratchDir();
  const out = join(d.path, 'drills');
  const tmp = join(d.path, 'tmp');
  const state = join(d.path, 'state');
  await mkdir(join(out, 'db-20260101T000000Z'), { recursive: true });
  await mkdir(tmp);
  await chmod(tmp, 0o1777); // the temp directory: everyone plants there
  const dead = await deadPid();
  const user = await resolveSandboxUser();
  // The victim: a running cluster pgdrill's cleanup has no record of (as production), run by the sandbox's OS
  // user — the hardest case, where the uid alone cannot tell it from a sandbox.
  const victim = await SandboxCluster.start({ bins: await bins(), parentDir: d.path, osUser: user, logger: silentLogger, label: 'victim', stateDir: join(d.path, 'victim-state') });
  const victimPid = Number((await readFile(join(victim.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  // The genuine orphan, made before the attacks so that cleanup meets both at once.
  const orphan = await killedSandboxOwner(d.path, state);
  try {
    // 1. Forged markers whose `data` is a symbolic link to the victim's data directory (temp dir and out dir).
    const forged: string[] = [];
    for (const parent of [tmp, join(out, 'db-20260101T000000Z')]) {
      const root = join(parent, 'sandbox-evil');
      await mkdir(root);
      await symlink(victim.dataDir, join(root, 'data'));
      await writeMarker(root, { kind: 'sandbox', pgdrillPid: dead, socketDir: join(tmp, 'pgdrill-sock-evil'), dataDir: join(root, 'data'), createdAt: '2026-01-01T00:00:00Z' });
      if (user) await chown(root, user.uid, user.gid);
      forged.push(root);
    }
    // 2. A planted socket directory whose lock file names the victim's postmaster.
    const evilSock = join(tmp, 'pgdrill-sock-evil');
    await mkdir(evilSock);
    await writeFile(join(evilSock, '.s.PGSQL.5432.lock'), `${victimPid}\n${victim.dataDir}\n`);
    // 3. A sandbox pgdrill did record, whose OS user replaced its data directory by a link to the victim's.
    const swapped = join(tmp, 'sandbox-swapped');
    await mkdir(swapped);
    await symlink(victim.dataDir, join(swapped, 'data'));
    if (user) await chown(swapped, user.uid, user.gid);
    await recordSandbox(state, {
      label: 'sandbox', pgdrill_pid: dead, pgdrill_start_ticks: processStartTicks(process.pid), root_dir: swapped,
      data_dir: join(swapped, 'data'), socket_dir: join(tmp, 'pgdrill-sock-swapped'), server_uid: user?.uid ?? process.geteuid!(),
    });
    // 4. A recorded sandbox whose real data directory's postmaster.pid (the sandbox user's file) names the victim.
    const pidForged = join(tmp, 'sandbox-pidfile');
    await mkdir(join(pidForged, 'data'), { recursive: true });
    await writeFile(join(pidForged, 'data', 'postmaster.pid'), `${victimPid}\n`);
    if (user) await chown(pidForged, user.uid, user.gid);
    await recordSandbox(state, {
      label: 'sandbox', pgdrill_pid: dead, pgdrill_start_ticks: processStartTicks(process.pid), root_dir: pidForged,
      data_dir: join(pidForged, 'data'), socket_dir: join(tmp, 'pgdrill-sock-pidfile'), server_uid: user?.uid ?? process.geteuid!(),
    });
    // 5. A recorded orphan whose postmaster is gone and whose pid is now the victim's (another start time): the
    //    sandbox's files go, the process under that pid is not signalled.
    const reused = join(tmp, 'sandbox-reused');
    await mkdir(join(reused, 'data'), { recursive: true });
    const reusedRecord = await recordSandbox(state, {
      label: 'sandbox', pgdrill_pid: dead, pgdrill_start_ticks: null, root_dir: reused,
      data_dir: join(reused, 'data'), socket_dir: join(tmp, 'pgdrill-sock-reused'), server_uid: user?.uid ?? process.geteuid!(),
    });
    await updateSandboxRecord(reusedRecord, { postmaster_pid: victimPid, postmaster_start_ticks: processStartTicks(victimPid)! - 1 });

    const r = await cleanupOrphans({ outDirs: [out], tmpDir: tmp, stateDir: state, stopTimeoutMs: 10_000 });
    const by = itemsByPath(r.items);
    // The victim is untouched: same postmaster, answering, its files in place.
    assert.ok(isAlive(victimPid), 'the victim postmaster runs');
    {
      await using db = await victim.open();
      assert.equal(await db.value('SELECT 1'), 1);
    }
    assert.equal(await exists(join(victim.dataDir, 'PG_VERSION')), true);
    // Cleanup names each thing it refused.
    for (const f of forged) assert.match(by.get(f)?.reason ?? JSON.stringify(r.items), /^refused: .*no record of creating it/, f);
    assert.match(by.get(evilSock)?.reason ?? '', new RegExp(`^refused: pgdrill has no record of this socket directory; its lock file names pid ${victimPid}`));
    assert.equal(by.get(swapped)?.action, 'refused');
    assert.match(by.get(swapped)!.reason, /data is now a symbolic link/);
    assert.equal(by.get(pidForged)?.action, 'refused');
    assert.match(by.get(pidForged)!.reason, new RegExp(`postmaster.pid names pid ${victimPid}, which is not this sandbox's postmaster \\(its data directory is `));
    for (const p of [...forged, evilSock, swapped, pidForged]) assert.ok(await lstat(p), p);
    assert.equal(by.get(reused)?.action, 'removed');
    assert.equal(by.get(reused)!.postmaster_pid, null);
    assert.doesNotMatch(by.get(reused)!.reason, /stopped/);
    assert.equal(await exists(reused), false);
    // The control: the SIGKILLed process's sandbox is stopped and removed, and its record dropped.
    const o = by.get(orphan.rootDir);
    assert.equal(o?.action, 'removed', JSON.stringify(r.items));
    assert.match(o.reason, new RegExp(`orphaned: pgdrill pid ${orphan.pid} is gone; postmaster ${orphan.postmaster} stopped; socket dir ${orphan.socketDir} removed`));
    await waitFor('the orphan postmaster to exit', async () => !isAlive(orphan.postmaster), 15_000);
    assert.equal(await exists(orphan.rootDir), false);
    assert.equal(await exists(orphan.socketDir), false);
    const left = (await readSandboxRecords(state)).records.map((s) => s.record.root_dir).sort();
    assert.deepEqual(left, [pidForged, swapped].sort(), 'refused sandboxes keep their record, to be reported again');
  } finally {
    await victim.stop();
    if (isAlive(orphan.postmaster)) process.kill(orphan.postmaster, 'SIGKILL');
  }
});

test('a sandbox is recorded while it exists (its postmaster with its start time), marked kept by --keep, forgotten at teardown', async () => {
  await using d = await scratchDir();
  const state = join(d.path, 'state');
  const user = await resolveSandboxUser();
  const sb = await SandboxCluster.start({ bins: await bins(), parentDir: d.path, osUser: user, logger: silentLogger, stateDir: state });
  try {
    const postmaster = Number((await readFile(join(sb.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    const [rec, ...more] = (await readSandboxRecords(state)).records.map((s) => s.record);
    assert.equal(more.length, 0);
    assert.deepEqual(
      { pid: rec!.pgdrill_pid, root: rec!.root_dir, data: rec!.data_dir, sock: rec!.socket_dir, uid: rec!.server_uid, pm: rec!.postmaster_pid, ticks: rec!.postmaster_start_ticks, kept: rec!.kept },
      { pid: process.pid, root: sb.rootDir, data: sb.dataDir, sock: sb.socketDir, uid: user?.uid ?? process.geteuid!(), pm: postmaster, ticks: processStartTicks(postmaster), kept: false },
    );
    assert.equal((await lstat(join(state, 'sandboxes'))).mode & 0o777, 0o700);
    // The sandbox user replaces its marker by a link to a file of root's: --keep must not write through it.
    const canary = join(d.path, 'root-only');
    const precious = JSON.stringify({ kind: 'sandbox', pgdrillPid: 1, socketDir: '/x', dataDir: '/x/data', createdAt: 'x' }); // reads as a marker
    await writeFile(canary, precious, { mode: 0o600 });
    await rm(join(sb.rootDir, 'pgdrill-sandbox.json'));
    await symlink(canary, join(sb.rootDir, 'pgdrill-sandbox.json'));
    await sb.markKept();
    assert.equal(await readFile(canary, 'utf8'), precious);
    assert.equal((await readSandboxRecords(state)).records[0]?.record.kept, true);
  } finally {
    const t = await sb.stop();
    assert.equal(t.confirmed, true, t.detail);
  }
  assert.deepEqual((await readSandboxRecords(state)).records, []);
});

test('run leftovers under a directory another user can write: refused (the run directory could be swapped for a link before rm); with the sticky bit, removed', async () => {
  await using d = await scratchDir();
  const tmp = join(d.path, 'tmp');
  await mkdir(tmp, { recursive: true });
  // A shared parent, writable by every user (another user could rename the run directory and put a link in its place).
  const shared = join(d.path, 'shared');
  await mkdir(shared);
  await chmod(shared, 0o777);
  const out = join(shared, 'drills');
  const run = join(out, 'shop-20260101T000000Z');
  await mkdir(run, { recursive: true, mode: 0o700 });
  await mkdir(join(run, 'wal-checked'), { mode: 0o700 });
  await writeFile(join(run, 'shop.dump.partial'), 'x');
  const r = await cleanupOrphans({ outDirs: [out], tmpDir: tmp, stateDir: join(d.path, 'state') });
  const by = itemsByPath(r.items);
  for (const p of [join(run, 'wal-checked'), join(run, 'shop.dump.partial')]) {
    assert.equal(by.get(p)?.action, 'refused', p);
    assert.match(by.get(p)?.reason ?? '', new RegExp(`^refused: ${shared} is writable by every user: another user could swap the run directory for a link`));
    assert.equal(await exists(p), true, p);
  }
  // Legitimate but odd: a shared parent with the sticky bit (like /tmp): no one else can rename what is not theirs.
  await chmod(shared, 0o1777);
  const sticky = await cleanupOrphans({ outDirs: [out], tmpDir: tmp, stateDir: join(d.path, 'state') });
  assert.equal(sticky.removed, 2, JSON.stringify(sticky.items));
  assert.equal(await exists(join(run, 'wal-checked')), false);
});
