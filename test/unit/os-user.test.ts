/** The dedicated sandbox user: created on demand (also by two drills at once), no home, no login shell, own group. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createSandboxUser, lookupOsUser, resolveSandboxUser } from '../../src/exec/os-user.js';
import { EnvironmentError } from '../../src/errors.js';
import { runProcess } from '../../src/exec/run-process.js';

test('as root: created on first use — concurrently too — with no home, no login shell and a group of its own', { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
  const name = `pgdrill-t${process.pid}`;
  try {
    assert.equal(await lookupOsUser(name), null);
    const [a, b] = await Promise.all([createSandboxUser(name), createSandboxUser(name)]);
    assert.deepEqual(a, b);
    assert.ok(a.uid > 0 && a.uid < 1000, `a system uid: ${a.uid}`);
    const entry = (await readFile('/etc/passwd', 'utf8')).split('\n').find((l) => l.startsWith(`${name}:`))!;
    assert.match(entry, /:\/nonexistent:\/usr\/sbin\/nologin$/);
    const group = (await readFile('/etc/group', 'utf8')).split('\n').find((l) => l.startsWith(`${name}:`))!;
    assert.equal(Number(group.split(':')[2]), a.gid, 'its own group');
  } finally {
    if (await lookupOsUser(name)) await runProcess({ bin: '/usr/sbin/userdel', args: [name] });
  }
});

test('as root: an explicit sandbox.os_user must exist (it is never created) and must not be root', { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
  await assert.rejects(resolveSandboxUser('pgdrill-no-such-user'), (e) => e instanceof EnvironmentError && /does not exist/.test(e.message));
  assert.equal(await lookupOsUser('pgdrill-no-such-user'), null);
  await assert.rejects(resolveSandboxUser('root'), /is root \(uid 0\)/);
  assert.equal((await resolveSandboxUser('postgres'))?.name, 'postgres');
  assert.equal((await resolveSandboxUser())?.name, 'pgdrill-sandbox');
});
