/**
 * pgdrill's one lock file (src/exec/lock-file.ts) and its one liveness rule (src/exec/process-liveness.ts): a lock is
 * stale only when its holder's pid is gone or now runs a process with another start time; a link is never
 * followed; another user's file is neither honoured nor removed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chown, lstat, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { acquireLockFile, readLockFile, withLockFile } from '../../src/exec/lock-file.js';
import { isAlive, ownStamp, processAlive, processStartTicks, stampAlive } from '../../src/exec/process-liveness.js';
import { EnvironmentError } from '../../src/errors.js';
import { scratchDir } from '../helpers/clusters.js';

async function deadPid(): Promise<number> {
  const child = spawn('/bin/true');
  await new Promise((r) => child.on('close', r));
  return child.pid!;
}

const holder = (pid: number, start_ticks: number | null, extra: object = {}, host = hostname()) =>
  JSON.stringify({ pid, host, start_ticks, started_at: '2026-01-01T00:00:00Z', token: 'theirs', ...extra });

test('liveness: a dead pid is gone; a live pid with another start time is a reused pid, gone too', async () => {
  const dead = await deadPid();
  assert.equal(isAlive(dead), false);
  assert.equal(processAlive(dead, null), false);
  const mine = processStartTicks(process.pid)!;
  assert.ok(mine > 0);
  assert.equal(processAlive(process.pid, mine), true);
  assert.equal(processAlive(process.pid, mine - 1), false, 'same pid, another start time: reused');
  assert.equal(processAlive(process.pid, null), true, 'no start time recorded: the pid is all there is');
  assert.equal(stampAlive(ownStamp()), true);
  assert.equal(stampAlive({ pid: dead, host: 'another-host.example', start_ticks: 1 }), true, 'another host is never judged');
});

test('a stale lock (its holder\'s pid is dead) is taken over', async () => {
  await using d = await scratchDir();
  const path = join(d.path, 'x.lock');
  await writeFile(path, holder(await deadPid(), null));
  const lock = await acquireLockFile(path, { extra: { what: 'test' } });
  const state = await readLockFile<{ what: string }>(path);
  assert.ok('holder' in state);
  assert.equal(state.holder.pid, process.pid);
  assert.equal(state.holder.what, 'test');
  assert.equal(state.holder.start_ticks, processStartTicks(process.pid));
  assert.equal(((await lstat(path)).mode & 0o777).toString(8), '600');
  await lock.release();
  assert.ok('absent' in (await readLockFile(path)));
});

test('a lock whose pid was reused (alive, another start time) is stale and taken over', async () => {
  await using d = await scratchDir();
  const path = join(d.path, 'x.lock');
  await writeFile(path, holder(process.pid, processStartTicks(process.pid)! - 1));
  await using _lock = await acquireLockFile(path);
  const state = await readLockFile(path);
  assert.ok('holder' in state && state.holder.token !== 'theirs');
});

test('a live holder is honoured: refused at once, or waited for until it lets go', async () => {
  await using d = await scratchDir();
  const path = join(d.path, 'x.lock');
  await writeFile(path, holder(process.pid, processStartTicks(process.pid)));
  await assert.rejects(acquireLockFile(path), (e) => e instanceof EnvironmentError && new RegExp(`held by pgdrill pid ${process.pid}`).test(e.message));
  await assert.rejects(acquireLockFile(path, { busy: (h) => new Error(`busy ${h.token}`) }), /busy theirs/);
  assert.equal(JSON.parse(await readFile(path, 'utf8')).token, 'theirs', 'a live lock is never removed');
  // Another host's holder is never judged stale, whatever its pid.
  await writeFile(path, holder(await deadPid(), 1, {}, 'another-host.example'));
  await assert.rejects(acquireLockFile(path), /held by pgdrill pid \d+ on another-host\.example/);
  // Two holders in turn: the second waits for the first.
  await rm(path);
  const order: string[] = [];
  await Promise.all([
    withLockFile(path, async () => (order.push('a+'), await new Promise((r) => setTimeout(r, 200)), order.push('a-'))),
    new Promise((r) => setTimeout(r, 20)).then(() => withLockFile(path, async () => void order.push('b'), { waitMs: 5000 })),
  ]);
  assert.deepEqual(order, ['a+', 'a-', 'b']);
});

test('a lock file that is a symbolic link is never followed: not honoured, the link replaced, its target untouched', async () => {
  await using d = await scratchDir();
  const path = join(d.path, 'x.lock');
  const target = join(d.path, 'elsewhere');
  const text = holder(process.pid, processStartTicks(process.pid)); // followed, it would read as a live holder
  await writeFile(target, text);
  await symlink(target, path);
  const state = await readLockFile(path);
  assert.ok('problem' in state && state.garbage, JSON.stringify(state));
  assert.match((state as { problem: string }).problem, /symbolic link/);
  await using _lock = await acquireLockFile(path);
  assert.equal((await lstat(path)).isFile(), true);
  assert.equal(await readFile(target, 'utf8'), text);
  // A dangling link: the exclusive create never follows it to create its target.
  await _lock.release();
  await symlink(join(d.path, 'created-through-link'), path);
  await using _again = await acquireLockFile(path);
  await assert.rejects(lstat(join(d.path, 'created-through-link')), { code: 'ENOENT' });
});

test("another user's lock file is refused: neither honoured nor removed", { skip: process.getuid?.() !== 0 && 'needs root (chown)' }, async () => {
  await using d = await scratchDir();
  const path = join(d.path, 'x.lock');
  await writeFile(path, holder(await deadPid(), null));
  await chown(path, 65534, 65534);
  const state = await readLockFile(path);
  assert.ok('problem' in state && !state.garbage);
  await assert.rejects(acquireLockFile(path), (e) => e instanceof EnvironmentError && /owned by uid 65534.*neither honoured nor removed/.test(e.message));
  assert.equal((await lstat(path)).uid, 65534, 'left alone');
});

test('a directory in the lock\'s place is refused, never removed', async () => {
  await using d = await scratchDir();
  const path = join(d.path, 'x.lock');
  await mkdir(join(path, 'inside'), { recursive: true });
  await assert.rejects(acquireLockFile(path), (e) => e instanceof EnvironmentError && /a directory.*neither honoured nor removed/.test(e.message));
  assert.ok((await lstat(join(path, 'inside'))).isDirectory());
});

test('garbage (not a lock pgdrill wrote) is removed after a moment, then the lock is taken', async () => {
  await using d = await scratchDir();
  const path = join(d.path, 'x.lock');
  await writeFile(path, '1234\n'); // what older pgdrill wrote into its metrics and useradd locks
  await using _lock = await acquireLockFile(path);
  const state = await readLockFile(path);
  assert.ok('holder' in state && state.holder.pid === process.pid);
});

test('release never removes a lock another process took over', async () => {
  await using d = await scratchDir();
  const path = join(d.path, 'x.lock');
  const lock = await acquireLockFile(path);
  await writeFile(path, holder(process.pid, processStartTicks(process.pid)));
  await lock.release();
  assert.equal(JSON.parse(await readFile(path, 'utf8')).token, 'theirs');
});
