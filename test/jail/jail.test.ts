/**
 * The jail itself, with no refusal in front of it: SQL run as the sandbox's superuser (what a hostile dump that got
 * past the scanner would run) cannot write outside the sandbox's directories, cannot read another user's files,
 * and cannot open a TCP connection — not even to 127.0.0.1 on the host. Every "cannot" has a control that shows the
 * same payload does work where the jail allows it (inside the sandbox's own directory; without the namespace), so a
 * passing test means the jail blocked it, not that the payload was broken.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readlink, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_SANDBOX_USER, lookupOsUser, resolveSandboxUser } from '../../src/exec/os-user.js';
import { SandboxCluster } from '../../src/sandbox/cluster.js';
import { jailedCommand, probeJail, resolveJail } from '../../src/sandbox/jail.js';
import { runProcess, startProcess } from '../../src/exec/run-process.js';
import { restoreDump } from '../../src/restore/restore-dump.js';
import { bins, scratchDir, silentLogger } from '../helpers/clusters.js';
import { exists } from '../helpers/leftovers.js';
import { hostDir, settle, startListener, type Listener } from './jail-helpers.js';

async function sqlError(c: SandboxCluster, sql: string): Promise<string | null> {
  await using db = await c.open();
  try {
    await db.query(sql);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

const q = (s: string) => s.replace(/'/g, "''");

describe('the jail: what SQL run as the sandbox superuser can reach', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let jailed: SandboxCluster;
  let listener: Listener;
  before(async () => {
    dir = await scratchDir();
    jailed = await SandboxCluster.start({ bins: await bins(), parentDir: dir.path, osUser: await resolveSandboxUser(), logger: silentLogger });
    listener = await startListener();
  });
  after(async () => {
    await jailed?.stop();
    await listener?.[Symbol.asyncDispose]();
    await dir?.[Symbol.asyncDispose]();
  });

  test('as root the server runs as the dedicated user, which has no home and no login shell', async () => {
    assert.equal(process.getuid?.(), 0, 'these tests run as root (the machine the brief describes)');
    assert.equal(jailed.osUser?.name, DEFAULT_SANDBOX_USER);
    const passwd = (await readFile('/etc/passwd', 'utf8')).split('\n').find((l) => l.startsWith(`${DEFAULT_SANDBOX_USER}:`))!;
    const [, , uid, , , home, shell] = passwd.split(':');
    assert.notEqual(Number(uid), 0);
    assert.notEqual(Number(uid), (await lookupOsUser('postgres'))?.uid);
    assert.equal(home, '/nonexistent');
    assert.equal(shell, '/usr/sbin/nologin');
    const pid = Number((await readFile(join(jailed.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    assert.match(status, new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'));
    assert.match(status, /^CapEff:\s+0+$/m, 'the postmaster holds no capability');
    // No supplementary groups: unshare --setgid clears them.
    assert.match(status, /^Groups:\s*$/m);
  });

  test('the server has a network namespace of its own, and is still reached through its Unix socket', async () => {
    assert.equal(jailed.jail.networkNamespace, true, jailed.jail.note ?? '');
    const pid = Number((await readFile(join(jailed.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    const theirs = await readlink(`/proc/${pid}/ns/net`);
    const ours = await readlink('/proc/self/ns/net');
    assert.notEqual(theirs, ours);
    // A connection from the host's namespace through the socket file works (path-bound Unix sockets are not netns-scoped).
    await using db = await jailed.open();
    assert.equal(await db.value<string>('SELECT current_user'), 'pgdrill');
    // Inside, only a loopback that is down: no route anywhere.
    const routes = (await readFile(`/proc/${pid}/net/route`, 'utf8')).trim().split('\n');
    assert.equal(routes.length, 1, `no IPv4 route in the sandbox's namespace: ${routes.join(' | ')}`);
  });

  test('COPY … TO PROGRAM runs, but only where the sandbox user may write', async () => {
    const inside = join(jailed.rootDir, 'program-ran');
    assert.equal(await sqlError(jailed, `COPY (SELECT 1) TO PROGRAM 'touch ${q(inside)}'`), null);
    assert.equal(await exists(inside), true, 'control: the program runs and writes inside the sandbox directory');
    await using host = await hostDir(0o755);
    const outside = join(host.path, 'pwned');
    const err = await sqlError(jailed, `COPY (SELECT 1) TO PROGRAM 'touch ${q(outside)}'`);
    assert.match(err ?? '', /program "touch .*" failed/);
    assert.equal(await exists(outside), false, 'no file in a root-owned 0755 directory');
  });

  test('COPY … FROM PROGRAM cannot write outside nor read another OS user\'s files', async () => {
    await using host = await hostDir(0o755);
    const outside = join(host.path, 'pwned');
    assert.match((await sqlError(jailed, `CREATE TEMP TABLE t(x text); COPY t FROM PROGRAM 'echo hi > ${q(outside)} && echo done'`)) ?? '', /failed/);
    assert.equal(await exists(outside), false);
    // Like a production cluster on the same host: a directory of the postgres user, mode 0700.
    await using prod = await hostDir(0o700, 'postgres');
    const secret = join(prod.path, 'secret');
    await writeFile(secret, 'production data\n');
    await chmod(secret, 0o600);
    assert.match((await sqlError(jailed, `CREATE TEMP TABLE s(x text); COPY s FROM PROGRAM 'cat ${q(secret)}'`)) ?? '', /failed/);
    // Permission denied without a mount namespace; with bwrap the host's directories are not even there.
    assert.match((await sqlError(jailed, `SELECT pg_read_file('${q(secret)}')`)) ?? '', /Permission denied|No such file/);
    assert.match((await sqlError(jailed, `COPY (SELECT 1) TO '${q(join(host.path, 'server-file'))}'`)) ?? '', /Permission denied|No such file/);
    assert.equal(await exists(join(host.path, 'server-file')), false);
  });

  test('COPY … PROGRAM cannot open a TCP connection to a listener on the host\'s 127.0.0.1', async () => {
    const before = listener.connections();
    const tcp = `bash -c "echo hi > /dev/tcp/127.0.0.1/${listener.port}"`;
    assert.match((await sqlError(jailed, `COPY (SELECT 1) TO PROGRAM '${q(tcp)}'`)) ?? '', /failed/);
    assert.match((await sqlError(jailed, `CREATE TEMP TABLE n(x text); COPY n FROM PROGRAM '${q(tcp)} && echo x'`)) ?? '', /failed/);
    await settle();
    assert.equal(listener.connections(), before, 'the listener saw no connection from the jailed server');
  });

  test('control: the same payload connects from a sandbox without the namespace — the namespace is what blocks it', async () => {
    await using plain = await SandboxCluster.start({ bins: await bins(), parentDir: dir.path, osUser: await resolveSandboxUser(), logger: silentLogger, network: false, label: 'no-netns' });
    assert.equal(plain.jail.networkNamespace, false);
    const before = listener.connections();
    assert.equal(await sqlError(plain, `COPY (SELECT 1) TO PROGRAM '${q(`bash -c "echo hi > /dev/tcp/127.0.0.1/${listener.port}"`)}'`), null);
    await settle();
    assert.equal(listener.connections(), before + 1);
  });

  test('psql replaying a dump runs in the jail too: a meta-command that got through cannot connect out', async () => {
    const ran = join(jailed.rootDir, 'psql-ran'); // the sandbox's own directory: the one place it can write
    const script = join(dir.path, 'meta.sql');
    await writeFile(script, `\\! touch ${ran}\n\\! bash -c "echo hi > /dev/tcp/127.0.0.1/${listener.port}"\nSELECT 1;\n`);
    await chmod(script, 0o644);
    await chmod(dir.path, 0o755);
    const before = listener.connections();
    await restoreDump({ sandbox: jailed, bins: await bins(), path: script, format: 'plain', database: 'postgres', logger: silentLogger });
    await settle();
    assert.equal(await exists(ran), true, 'control: psql ran the meta-command (as the sandbox user)');
    assert.equal(listener.connections(), before, 'but its connection attempt went nowhere');
  });

  test('with bwrap, the server sees /usr and its own directories only: no /proc, /root, /home, no run directory', async () => {
    assert.equal(jailed.jail.mode, 'bwrap', jailed.jail.mountNote ?? '');
    assert.equal(jailed.jail.mountNamespace, true);
    await using db = await jailed.open();
    await db.query('CREATE TEMP TABLE ls(x text)');
    await db.query(`COPY ls FROM PROGRAM 'ls -a / /tmp; cat /etc/passwd'`);
    const seen = (await db.query<{ x: string }>('SELECT x FROM ls')).map((r) => r.x);
    for (const absent of ['proc', 'root', 'home', 'var', 'work', 'run']) assert.ok(!seen.includes(absent), `/${absent} is not in the jail: ${seen.join(' ')}`);
    assert.ok(seen.includes('usr'));
    assert.deepEqual(seen.filter((l) => l.includes(':x:')), [`${DEFAULT_SANDBOX_USER}:x:${jailed.osUser!.uid}:${jailed.osUser!.gid}:pgdrill sandbox:/nonexistent:/usr/sbin/nologin`], 'a passwd naming only the sandbox user');
    // The server's process, seen from the host: its own mount and user namespaces, no capability.
    const pid = Number((await readFile(join(jailed.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    assert.notEqual(await readlink(`/proc/${pid}/ns/mnt`), await readlink('/proc/self/ns/mnt'));
    assert.notEqual(await readlink(`/proc/${pid}/ns/user`), await readlink('/proc/self/ns/user'));
  });

  test('two concurrent sandboxes (one OS user) cannot see each other\'s files; each still reaches its own', async () => {
    await using other = await SandboxCluster.start({ bins: await bins(), parentDir: dir.path, osUser: await resolveSandboxUser(), logger: silentLogger, label: 'other-drill' });
    const secret = join(other.rootDir, 'their-secret');
    assert.equal(await sqlError(other, `COPY (SELECT 'customer rows') TO '${q(secret)}'`), null, 'control: a sandbox writes its own directory');
    await using db = await other.open();
    assert.equal(await db.value<string>(`SELECT pg_read_file('${q(secret)}')`), 'customer rows\n', 'control: and reads it back');
    // Same OS user, so without a mount namespace these would succeed: the other drill's files, its data, its log.
    assert.match((await sqlError(jailed, `SELECT pg_read_file('${q(secret)}')`)) ?? '', /No such file/);
    assert.match((await sqlError(jailed, `SELECT pg_read_file('${q(join(other.dataDir, 'PG_VERSION'))}')`)) ?? '', /No such file/);
    assert.match((await sqlError(jailed, `CREATE TEMP TABLE o(x text); COPY o FROM PROGRAM 'cat ${q(other.logFile)}'`)) ?? '', /failed/);
    assert.match((await sqlError(jailed, `COPY (SELECT 1) TO PROGRAM 'touch ${q(join(other.rootDir, 'planted'))}'`)) ?? '', /failed/);
    assert.equal(await exists(join(other.rootDir, 'planted')), false);
    // And the other way round.
    assert.match((await sqlError(other, `SELECT pg_read_file('${q(join(jailed.dataDir, 'PG_VERSION'))}')`)) ?? '', /No such file/);
  });

  test('jailedCommand: as root with bwrap, bwrap is spawned as the user and builds an unprivileged user namespace', async () => {
    const user = await resolveSandboxUser();
    const jail = await resolveJail(user);
    const cmd = jailedCommand(jail, '/usr/bin/id', ['-u'], { rw: ['/tmp/x'] });
    assert.equal(cmd.bin, '/usr/bin/bwrap');
    assert.equal(cmd.uid, user!.uid, 'never root inside: a user namespace made by root would map the program to root outside');
    assert.equal(cmd.gid, user!.gid);
    for (const o of ['--unshare-user', '--disable-userns', '--unshare-net', '--unshare-ipc', '--die-with-parent']) assert.ok(cmd.args.includes(o), o);
    assert.equal(cmd.group, true, 'spawned in a process group of its own, signalled as a group');
    const bind = cmd.args.indexOf('--bind');
    assert.deepEqual(cmd.args.slice(bind, bind + 3), ['--bind', '/tmp/x', '/tmp/x'], 'the view: its own directory, read-write');
    assert.deepEqual(cmd.args.slice(cmd.args.indexOf('--')), ['--', '/usr/bin/id', '-u']);
    const r = await runProcess({ ...jailedCommand(jail, '/usr/bin/id', ['-u']), stdout: 'capture' });
    assert.equal(r.stdout.trim(), String(user!.uid));
  });

  test('a jailed program killed at any moment of its start leaves nothing behind (the overlapped restore kills psql at once on a finding)', async () => {
    const marker = `sleep ${1000 + (process.pid % 1000)}`;
    for (const delay of [0, 1, 2, 3, 5, 8, 13, 21, 34, 55]) {
      const p = startProcess({ ...jailed.jailedCommand('/usr/bin/sleep', [marker.split(' ')[1]!]), stdin: 'pipe', allowFailure: true });
      await new Promise((r) => setTimeout(r, delay));
      p.child.kill('SIGKILL');
      const ended = await Promise.race([p.done.then(() => true), new Promise((r) => setTimeout(() => r(false), 10_000))]);
      assert.equal(ended, true, `killed after ${delay} ms: the process wrapper saw the end (no child holds its pipes)`);
    }
    await settle(500);
    const left = await runProcess({ bin: '/usr/bin/pgrep', args: ['-u', DEFAULT_SANDBOX_USER, '-f', marker], allowFailure: true, stdout: 'capture' });
    assert.equal(left.stdout.trim(), '', 'no bwrap nor program left running');
  });

  test('jailedCommand: as root without bwrap, unshare enters the namespace and then drops to the user', async () => {
    const user = await resolveSandboxUser();
    const jail = await probeJail(user, { bwrap: ['/nonexistent/bwrap'] });
    assert.equal(jail.mode, 'root');
    assert.equal(jail.mountNamespace, false);
    assert.match(jail.mountNote ?? '', /bubblewrap \(bwrap\) is not installed.*concurrent drills/);
    const cmd = jailedCommand(jail, '/usr/bin/id', ['-u']);
    assert.equal(cmd.bin, '/usr/bin/unshare');
    assert.deepEqual(cmd.args, ['--net', `--setgid=${user!.gid}`, `--setuid=${user!.uid}`, '--', '/usr/bin/id', '-u']);
    assert.equal(cmd.uid, undefined, 'unshare itself starts as root (it needs CAP_SYS_ADMIN)');
    const off = jailedCommand(await resolveJail(user, { network: false }), '/usr/bin/id', ['-u']);
    assert.deepEqual(off, { bin: '/usr/bin/id', args: ['-u'], uid: user!.uid, gid: user!.gid });
  });
});
