/**
 * pgdrill not run as root: the sandbox runs as the caller (there is no other user to switch to), and the network
 * namespace comes from an unprivileged user namespace where the kernel allows one — otherwise the report says so.
 * The test runs pgdrill as the unprivileged `postgres` OS user.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chown, cp, mkdir } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { lookupOsUser, type OsUser } from '../../src/exec/os-user.js';
import { runProcess } from '../../src/exec/run-process.js';
import { ReportSchema } from '../../src/report/model.js';
import { CLI } from '../helpers/cli.js';
import { scratchDir } from '../helpers/clusters.js';
import { spawnOutput, type ProcessOutput } from '../helpers/spawn-output.js';
import { settle, startListener, type Listener } from './jail-helpers.js';

/**
 * The built CLI where `user` can read it. The checkout may sit below a directory the user cannot traverse (CI
 * clones into a 0700 temp dir), so the runtime (dist, package.json, production node_modules) is copied next to
 * the test's home, which is world-traversable.
 */
async function cliFor(dir: string): Promise<string> {
  const root = resolve(CLI, '../..');
  const app = join(dir, 'app');
  await cp(join(root, 'dist'), join(app, 'dist'), { recursive: true });
  await cp(join(root, 'package.json'), join(app, 'package.json'));
  const r = await runProcess({ bin: process.execPath, args: [join(dirname(process.execPath), '../lib/node_modules/npm/bin/npm-cli.js'), 'ls', '--omit=dev', '--parseable', '--all'], cwd: root, stdout: 'capture', allowFailure: true });
  for (const p of r.stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith(join(root, 'node_modules') + '/'))) {
    await cp(p, join(app, relative(root, p)), { recursive: true, dereference: true });
  }
  await runProcess({ bin: '/bin/chmod', args: ['-R', 'a+rX', app] });
  return join(app, 'dist/pgdrill.mjs');
}

function runAs(user: OsUser, args: string[], cwd: string): Promise<ProcessOutput> {
  return spawnOutput(process.execPath, args, {
    uid: user.uid, gid: user.gid, cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd, ...(process.env.PG_BINDIR ? { PG_BINDIR: process.env.PG_BINDIR } : {}) },
  });
}

describe('not root: the sandbox runs as the caller, in a user + network namespace where the kernel allows it', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let home: string;
  let user: OsUser;
  let listener: Listener;
  let userns: boolean;
  let cli: string;
  before(async () => {
    dir = await scratchDir();
    user = (await lookupOsUser('postgres'))!;
    assert.ok(user, 'the machine has an unprivileged postgres OS user (hazards.md)');
    home = join(dir.path, 'home');
    await mkdir(home);
    await chown(home, user.uid, user.gid);
    await runProcess({ bin: '/bin/chmod', args: ['0755', dir.path] });
    cli = await cliFor(dir.path);
    listener = await startListener();
    // What this kernel allows an unprivileged user: the answer the report must give.
    userns = (await runProcess({ bin: '/usr/bin/unshare', args: ['--user', '--map-current-user', '--net', '--', '/bin/true'], uid: user.uid, gid: user.gid, allowFailure: true })).exitCode === 0;
  });
  after(async () => {
    await listener?.[Symbol.asyncDispose]();
    await dir?.[Symbol.asyncDispose]();
  });

  test('pgdrill demo as a non-root user: PASS, the jail section names the caller and the namespace (or why there is none)', async () => {
    const r = await runAs(user, [cli, 'demo', '--out', join(home, 'drills'), '--json'], home);
    assert.equal(r.code, 0, r.stderr + r.stdout.slice(0, 2000));
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    assert.equal(report.jail!.os_user, null);
    assert.equal(report.jail!.os_user_source, 'caller');
    assert.equal(report.restore!.os_user, null);
    assert.equal(report.jail!.network_namespace, userns);
    // bubblewrap where installed (scripts/setup installs it), else unshare's user namespace.
    if (userns) assert.ok(['bwrap', 'userns'].includes(report.jail!.namespace_mode), report.jail!.namespace_mode);
    else assert.match(report.notes.find((n) => n.id === 'no-network-namespace')?.text ?? '', /not root, and unprivileged user namespaces are unavailable/);
    assert.match(report.notes.find((n) => n.id === 'sandbox-os-user')?.text ?? '', /runs as the caller \(postgres, uid \d+\)/);
  });

  test('the unprivileged jail blocks COPY … TO PROGRAM from reaching 127.0.0.1 on the host', async (t) => {
    if (!userns) return t.skip('this kernel gives unprivileged users no user namespace (the report says so; see the test above)');
    const script = join(dir.path, 'unprivileged-sandbox.mjs');
    await cp(resolve(import.meta.dirname, 'fixtures/unprivileged-sandbox.mjs'), script);
    await runProcess({ bin: '/bin/chmod', args: ['a+r', script] });
    const before = listener.connections();
    const r = await runAs(user, [script, home, String(listener.port), resolve(cli, '..')], home);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.equal(out.uid, user.uid);
    assert.equal(out.osUser, null);
    assert.ok(['bwrap', 'userns'].includes(out.jail.mode), out.jail.mode);
    assert.equal(out.ownNetns, true);
    assert.match(out.copyError ?? '', /program "bash -c .*" failed/);
    await settle();
    assert.equal(listener.connections(), before);
  });
});
