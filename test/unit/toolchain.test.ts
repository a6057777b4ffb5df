/**
 * The choice of PostgreSQL programs per role and major, over fake installations (scripts that print a version):
 * the packaged layouts (Debian, RHEL, Homebrew), PATH, PG_BINDIR, the config and the server store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, EnvironmentError } from '../../src/errors.js';
import { versionReadCount, type PgVersion } from '../../src/exec/binaries.js';
import type { DiscoverOptions } from '../../src/toolchain/discover.js';
import { resolveToolchain, resolveDumpReader, type Toolchain, type ToolchainRequest } from '../../src/toolchain/toolchain.js';
import { scratchDir } from '../helpers/clusters.js';
import { CLIENT_PROGRAMS, fakeProgramDir, SERVER_PROGRAMS } from '../helpers/fake-bindir.js';

const ALL = [...SERVER_PROGRAMS, ...CLIENT_PROGRAMS];
const v = (text: string): PgVersion => ({ major: Number(text.split('.')[0]), minor: Number(text.split('.')[1] ?? 0), text });
const run = (source: string, extra: Partial<ToolchainRequest> = {}): ToolchainRequest => ({ source: v(source), dumpSource: true, archive: false, ...extra });

/** A machine in a scratch directory: nothing outside it is searched (no PATH, no pg_config, no store unless given). */
async function machine(): Promise<{ root: string; opts: (o?: Partial<DiscoverOptions>) => DiscoverOptions } & AsyncDisposable> {
  const dir = await scratchDir('pgdrill-toolchain-');
  return {
    root: dir.path,
    opts: (o = {}) => ({ sysroot: dir.path, path: '', pgBindir: '', store: async () => [], ...o }),
    [Symbol.asyncDispose]: () => dir[Symbol.asyncDispose](),
  };
}
const debian = (root: string, major: number) => join(root, `usr/lib/postgresql/${major}/bin`);
const dirOf = (t: Toolchain, tool: Parameters<Toolchain['path']>[0], role?: Parameters<Toolchain['path']>[1]) => t.path(tool, role).replace(/\/[^/]+$/, '');

async function rejectsWith(p: Promise<unknown>, cls: typeof EnvironmentError | typeof ConfigError, ...texts: string[]): Promise<string> {
  const err = await p.then(() => null, (e: Error) => e);
  assert.ok(err instanceof cls, `expected ${cls.name}, got ${err}`);
  for (const t of texts) assert.ok(err.message.includes(t), `"${t}" not in: ${err.message}`);
  return err.message;
}

test('several majors installed: every role takes the source\'s own major', async () => {
  await using m = await machine();
  for (const major of [15, 16, 17]) await fakeProgramDir(debian(m.root, major), `${major}.2`, ALL);
  const t = await resolveToolchain(run('16.4'), m.opts());
  for (const tool of ['pg_dump', 'pg_dumpall', 'psql', 'pg_restore', 'pg_amcheck', 'initdb'] as const) assert.equal(dirOf(t, tool), debian(m.root, 16), tool);
  assert.equal(t.server.version.major, 16);
  assert.equal(t.server.reason, "the source's major");
  assert.deepEqual(t.notes, []);
  assert.deepEqual(new Set(t.programs.map((p) => p.origin)), new Set(['debian']));
  assert.equal(t.version('pg_dump').text, '16.2');
});

test('no pg_dump of the source\'s major: the closest newer one, never an older one', async () => {
  await using m = await machine();
  await fakeProgramDir(debian(m.root, 15), '15.8', ALL);
  await fakeProgramDir(debian(m.root, 17), '17.6', CLIENT_PROGRAMS);
  await fakeProgramDir(debian(m.root, 18), '18.1', CLIENT_PROGRAMS);
  const store = async () => [{ major: 17, bindir: await fakeProgramDir(join(m.root, 'store/17/bin'), '17.9', SERVER_PROGRAMS) }];
  const t = await resolveToolchain(run('16.4'), m.opts({ store }));
  assert.equal(t.version('pg_dump').major, 17);
  // pg_dump 17's output is only guaranteed to load into 17 or newer: the store's 17, not the system's 15.
  assert.equal(t.server.version.text, '17.9');
  assert.equal(t.server.origin, 'store');
  assert.match(t.server.reason, /pg_dump's major/);
  assert.match(t.notes[0]!, /not the source's 16/);
  assert.equal(t.version('psql').major, 17);
  assert.equal(t.version('pg_restore').major, 17);
});

test('an older source with its own server: the sandbox runs the source\'s major, saying pg_dump is newer', async () => {
  await using m = await machine();
  await fakeProgramDir(debian(m.root, 15), '15.8', ALL);
  const store = async () => [{ major: 13, bindir: await fakeProgramDir(join(m.root, 'store/13/bin'), '13.22', SERVER_PROGRAMS) }];
  const t = await resolveToolchain(run('13.20'), m.opts({ store }));
  assert.equal(t.version('pg_dump').major, 15);
  assert.equal(t.server.version.text, '13.22');
  assert.match(t.server.reason, /emergency.*guarantees its output only for 15 or newer.*--sandbox-major 15/);
  // Without a 13 server: pg_dump's major, never an older one than the source.
  const t2 = await resolveToolchain(run('13.20'), m.opts());
  assert.equal(t2.server.version.major, 15);
});

test('client programs only (a newer major) beside a full older installation: the source\'s major where it exists', async () => {
  await using m = await machine();
  await fakeProgramDir(debian(m.root, 15), '15.8', ALL);
  await fakeProgramDir(debian(m.root, 17), '17.6', CLIENT_PROGRAMS);
  const t = await resolveToolchain(run('15.3'), m.opts());
  assert.equal(dirOf(t, 'pg_dump'), debian(m.root, 15));
  assert.equal(dirOf(t, 'psql'), debian(m.root, 15));
  assert.equal(t.server.version.major, 15);
  // A 16 source: pg_dump 17, and no server of 17 or newer: exit 4 naming the server to install.
  await rejectsWith(resolveToolchain(run('16.4'), m.opts()), EnvironmentError, 'PostgreSQL 17', 'pgdrill server install 17', 'apt-get install postgresql-17', 'Nothing was written');
});

test('a server only (the store), no client of the source\'s major: exit 4 naming the source\'s version and the client packages', async () => {
  await using m = await machine();
  await fakeProgramDir(debian(m.root, 15), '15.8', ALL);
  const store = async () => [{ major: 16, bindir: await fakeProgramDir(join(m.root, 'store/16/bin'), '16.14', SERVER_PROGRAMS) }];
  const msg = await rejectsWith(resolveToolchain(run('16.4'), m.opts({ store })), EnvironmentError,
    'PostgreSQL 16.4', 'postgresql-client-16', 'dnf install postgresql16', 'brew install postgresql@16', 'pg_dump 15.8', 'Nothing was written');
  assert.doesNotMatch(msg, /server install/);
});

test('RHEL layout (/usr/pgsql-N/bin)', async () => {
  await using m = await machine();
  await fakeProgramDir(join(m.root, 'usr/pgsql-14/bin'), '14.11', ALL);
  await fakeProgramDir(join(m.root, 'usr/pgsql-16/bin'), '16.2', ALL);
  const t = await resolveToolchain(run('14.5'), m.opts());
  assert.equal(dirOf(t, 'pg_dump'), join(m.root, 'usr/pgsql-14/bin'));
  assert.equal(t.server.bindir, join(m.root, 'usr/pgsql-14/bin'));
  assert.equal(t.programs[0]!.origin, 'rhel');
});

test('Homebrew layouts (postgresql@N in /opt/homebrew/opt and /usr/local/opt)', async () => {
  await using m = await machine();
  await fakeProgramDir(join(m.root, 'opt/homebrew/opt/postgresql@16/bin'), '16.3', ALL);
  await fakeProgramDir(join(m.root, 'usr/local/opt/postgresql@17/bin'), '17.1', ALL);
  const t16 = await resolveToolchain(run('16.1'), m.opts());
  assert.equal(t16.server.bindir, join(m.root, 'opt/homebrew/opt/postgresql@16/bin'));
  const t17 = await resolveToolchain(run('17.0'), m.opts());
  assert.equal(dirOf(t17, 'pg_dump'), join(m.root, 'usr/local/opt/postgresql@17/bin'));
  assert.ok(t17.programs.every((p) => p.origin === 'homebrew'));
});

test('PATH only; Debian\'s pg_wrapper and a second path to the same file are skipped', async () => {
  await using m = await machine();
  const bin = await fakeProgramDir(join(m.root, 'somewhere/bin'), '15.6', ALL);
  const wrapperDir = join(m.root, 'usr/share/postgresql-common');
  await fakeProgramDir(wrapperDir, '99.0', ['pg_wrapper']);
  const usrBin = join(m.root, 'usrbin');
  await mkdir(usrBin);
  await symlink(join(wrapperDir, 'pg_wrapper'), join(usrBin, 'psql'));
  await symlink(join(bin, 'pg_dump'), join(usrBin, 'pg_dump'));
  const t = await resolveToolchain(run('15.2'), m.opts({ path: `${usrBin}:${bin}` }));
  assert.equal(t.path('psql'), join(bin, 'psql'));
  assert.equal(t.path('pg_dump'), join(usrBin, 'pg_dump')); // the first path to it, once
  assert.equal(t.server.bindir, bin);
  assert.ok(t.programs.every((p) => p.origin === 'PATH'));
});

test('pg_config --bindir is searched', async () => {
  await using m = await machine();
  const bin = await fakeProgramDir(join(m.root, 'pg/bin'), '16.1', ALL);
  const cfgDir = join(m.root, 'cfg');
  await mkdir(cfgDir);
  await writeFile(join(cfgDir, 'pg_config'), `#!/bin/sh\n[ "$1" = --bindir ] && echo ${bin}\n`, { mode: 0o755 });
  const t = await resolveToolchain(run('16.0'), m.opts({ path: cfgDir }));
  assert.equal(t.server.bindir, bin);
  assert.equal(t.programs[0]!.origin, 'pg_config');
});

test('PG_BINDIR wins for what it holds, when it can serve; what it lacks comes from elsewhere', async () => {
  await using m = await machine();
  await fakeProgramDir(debian(m.root, 15), '15.8', ALL);
  const mine = await fakeProgramDir(join(m.root, 'mine'), '17.2', ['pg_dump', 'pg_dumpall', 'initdb', 'pg_ctl', 'postgres']);
  const t = await resolveToolchain(run('15.3'), m.opts({ pgBindir: mine }));
  assert.equal(dirOf(t, 'pg_dump'), mine);
  assert.equal(t.server.bindir, mine);
  assert.match(t.server.reason, /PG_BINDIR/);
  assert.equal(dirOf(t, 'psql'), debian(m.root, 15)); // not in PG_BINDIR
  assert.match(t.notes.join('\n'), /psql 15\.8 drives a PostgreSQL 17 sandbox/);
  // A PG_BINDIR pg_dump older than the source cannot serve: another is used, and the report says so.
  const old = await fakeProgramDir(join(m.root, 'old'), '14.1', ALL);
  const t2 = await resolveToolchain(run('15.3'), m.opts({ pgBindir: old }));
  assert.equal(dirOf(t2, 'pg_dump'), debian(m.root, 15));
  assert.equal(t2.server.bindir, debian(m.root, 15));
  assert.match(t2.notes.join('\n'), /pg_dump 14\.1 in PG_BINDIR .* could not serve/);
});

test('the config: binaries.majors (checked against the programs\' own versions) and binaries.search_path', async () => {
  await using m = await machine();
  await fakeProgramDir(debian(m.root, 15), '15.8', ALL);
  const opt16 = await fakeProgramDir(join(m.root, 'opt/pg16'), '16.5', ALL);
  const t = await resolveToolchain(run('16.5'), m.opts({ config: { majors: { 16: opt16 } } }));
  assert.equal(dirOf(t, 'pg_dump'), opt16);
  assert.equal(t.programs[0]!.origin, 'config');
  await rejectsWith(resolveToolchain(run('16.5'), m.opts({ config: { majors: { 17: opt16 } } })), EnvironmentError, 'binaries.majors', 'PostgreSQL 17', '16.5');
  const t2 = await resolveToolchain(run('16.5'), m.opts({ config: { search_path: [opt16] } }));
  assert.equal(t2.server.bindir, opt16);
});

test('the server store: a sandbox of the source\'s major when the system has none; the system first when both have it', async () => {
  await using m = await machine();
  await fakeProgramDir(debian(m.root, 15), '15.8', ALL);
  await fakeProgramDir(debian(m.root, 14), '14.9', CLIENT_PROGRAMS);
  const s14 = await fakeProgramDir(join(m.root, 'store/14/bin'), '14.20', SERVER_PROGRAMS);
  const s15 = await fakeProgramDir(join(m.root, 'store/15/bin'), '15.99', SERVER_PROGRAMS);
  const store = async () => [{ major: 15, bindir: s15 }, { major: 14, bindir: s14 }];
  const t14 = await resolveToolchain(run('14.2'), m.opts({ store }));
  assert.equal(t14.server.bindir, s14);
  assert.equal(t14.server.reason, "the source's major");
  assert.equal(dirOf(t14, 'psql'), debian(m.root, 14));
  const t15 = await resolveToolchain(run('15.1'), m.opts({ store }));
  assert.equal(t15.server.bindir, debian(m.root, 15));
});

test('--sandbox-major / --target-major: that major or exit 4; never older than the source\'s major (exit 2)', async () => {
  await using m = await machine();
  await fakeProgramDir(debian(m.root, 15), '15.8', ALL);
  await fakeProgramDir(debian(m.root, 17), '17.6', CLIENT_PROGRAMS);
  const s17 = await fakeProgramDir(join(m.root, 'store/17/bin'), '17.9', SERVER_PROGRAMS);
  const store = async () => [{ major: 17, bindir: s17 }];
  const t = await resolveToolchain(run('15.3', { sandboxMajor: 17 }), m.opts({ store }));
  assert.equal(t.server.bindir, s17);
  assert.equal(t.version('pg_dump').major, 15); // the dump is still the source's major
  assert.equal(t.version('psql').major, 17); // the client drives the sandbox
  assert.equal(t.version('pg_dump', 'sandbox-dump').major, 17); // the round trip dumps a 17 server
  assert.match(t.notes[0]!, /as asked/);
  await rejectsWith(resolveToolchain(run('15.3', { sandboxMajor: 18 }), m.opts({ store })), EnvironmentError, 'PostgreSQL 18', 'pgdrill server install 18');
  await rejectsWith(resolveToolchain(run('15.3', { sandboxMajor: 14 }), m.opts({ store })), ConfigError, 'pg_dump 15');
});

test('verify: pg_restore at least as new as the archive\'s pg_dump; a plain dump needs no such pg_restore', async () => {
  await using m = await machine();
  await fakeProgramDir(debian(m.root, 15), '15.8', ALL);
  const s17 = await fakeProgramDir(join(m.root, 'store/17/bin'), '17.9', SERVER_PROGRAMS);
  const store = async () => [{ major: 17, bindir: s17 }];
  const verify = (archive: boolean): ToolchainRequest => ({ source: v('15.4'), dumpedBy: v('17.2'), archiveMinMajor: archive ? 17 : undefined, dumpSource: false, archive });
  await rejectsWith(resolveToolchain(verify(true), m.opts({ store })), EnvironmentError, 'pg_restore of major 17', 'pg_dump 17', 'postgresql-client-17', 'pg_restore 15.8');
  const plain = await resolveToolchain(verify(false), m.opts({ store }));
  // The source's major, the restore an emergency would do; the reason says pg_dump 17 only guarantees 17 or newer.
  assert.equal(plain.server.version.major, 15);
  assert.match(plain.server.reason, /guarantees its output only for 17 or newer/);
  assert.equal(plain.version('psql').major, 15);
  assert.equal(plain.has('pg_dump', 'sandbox-dump'), true); // the 15 sandbox is dumped by pg_dump 15 for the round trip
  await rejectsWith(resolveDumpReader(17, m.opts()), EnvironmentError, 'pg_restore of major 17', 'postgresql-client-17');
  assert.equal((await resolveDumpReader(15, m.opts())).version('pg_restore').text, '15.8');
});

test('each program\'s version is read once per process, only for the roles considered', async () => {
  await using m = await machine();
  await fakeProgramDir(debian(m.root, 15), '15.8', ALL);
  await fakeProgramDir(debian(m.root, 16), '16.2', ALL);
  const before = versionReadCount();
  await resolveToolchain(run('15.3'), m.opts());
  const first = versionReadCount() - before;
  // Every program once, but initdb and pg_ctl only of the server chosen.
  assert.equal(first, 2 * ALL.length - 2, `${first} version reads`);
  await resolveToolchain(run('16.1'), m.opts());
  assert.equal(versionReadCount() - before, first + 2, 'the second choice read only the other server\'s initdb and pg_ctl');
  await resolveToolchain(run('16.1'), m.opts());
  assert.equal(versionReadCount() - before, first + 2, 'the third read nothing again');
});

test('a program that does not report a version is not a candidate', async () => {
  await using m = await machine();
  await fakeProgramDir(debian(m.root, 15), '15.8', ALL);
  await writeFile(join(debian(m.root, 15), 'pg_dump'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
  await rejectsWith(resolveToolchain(run('15.3'), m.opts()), EnvironmentError, 'no pg_dump of major 15', 'no pg_dump was found at all');
});

test('a pg_dump that writes \\restrict gets a psql that knows it; an older minor is passed over, or named when it is all there is', async () => {
  await using m = await machine();
  const old = await fakeProgramDir(join(m.root, 'old'), '15.13', ['psql']);
  await fakeProgramDir(debian(m.root, 15), '15.18', ALL);
  const t = await resolveToolchain(run('15.2'), m.opts({ config: { search_path: [old] } }));
  assert.equal(dirOf(t, 'psql'), debian(m.root, 15));
  // verify of a dump by pg_dump 15.13 (no \restrict): the first psql found serves.
  const v13 = await resolveToolchain({ source: v('15.2'), dumpedBy: v('15.13'), dumpSource: false, archive: false }, m.opts({ config: { search_path: [old] } }));
  assert.equal(dirOf(v13, 'psql'), old);
  await using m2 = await machine();
  await fakeProgramDir(debian(m2.root, 15), '15.13', ALL);
  const lone = await resolveToolchain({ source: v('15.2'), dumpedBy: v('15.18'), dumpSource: false, archive: false }, m2.opts());
  assert.match(lone.notes.join('\n'), /pg_dump 15\.18 brackets plain dumps with \\restrict, which no psql found knows/);
});

test('a server directory whose programs disagree on the major is refused, naming them', async () => {
  await using m = await machine();
  await fakeProgramDir(debian(m.root, 15), '15.8', ALL);
  await fakeProgramDir(debian(m.root, 15), '14.3', ['initdb']);
  await rejectsWith(resolveToolchain(run('15.2'), m.opts()), EnvironmentError, 'does not hold one server', 'initdb is 14.3');
});
