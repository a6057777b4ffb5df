/**
 * Barman: a local Barman home for a PG15 source (`backup_method = postgres`, WAL shipped by `archive_command` into
 * the server's incoming directory), Barman run as the cluster's OS user as a DBA would. The adapter verifies the
 * backup's manifest and recovers it: the copy starts from the WAL Barman copied, the archive that WAL forms is
 * continuous, and barman_home is byte-identical afterwards. A file deleted from the backup fails verify-backup.
 */
import { strict as assert } from 'node:assert';
import { access, chmod, readdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { resolveSandboxUser, type OsUser } from '../../src/exec/os-user.js';
import { runProcess } from '../../src/exec/run-process.js';
import { restoreFromBarman } from '../../src/physical/barman.js';
import { checkWalContinuity } from '../../src/physical/wal-archive.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { bins, psql, scratchDir, startSource } from '../helpers/clusters.js';
import { ownedDir, startRecovered, treeDigest } from './archive-fixture.js';
import { runCli } from '../helpers/cli.js';
import type { Report } from '../../src/report/model.js';

const BARMAN = '/usr/bin/barman';

describe('Barman', { timeout: 600_000 }, () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster | undefined;
  let user: OsUser | null;
  let conf: string;
  let home: string;
  let pgBindir: string;
  let missing = false;

  async function present(t: TestContext): Promise<boolean> {
    if (!missing) return true;
    if (process.env.CI) throw new Error('barman is not installed; CI must install it (scripts/setup --with-pgbackrest)');
    t.skip('barman is not installed (bash scripts/setup --with-pgbackrest)');
    return false;
  }

  before(async () => {
    if (!(await access(BARMAN).then(() => true, () => false))) return void (missing = true);
    scratch = await scratchDir('pgdrill-barman-');
    await chmod(scratch.path, 0o755);
    user = await resolveSandboxUser();
    pgBindir = (await bins()).server.bindir;
    home = await ownedDir(join(scratch.path, 'home'), user);
    const incoming = await ownedDir(join(await ownedDir(join(home, 'demo'), user), 'incoming'), user);
    const etc = await ownedDir(join(scratch.path, 'etc'), user);
    await chmod(etc, 0o755);
    source = await startSource({
      parentDir: scratch.path, shared: [incoming],
      settings: { archive_mode: 'on', archive_command: `'cp %p ${incoming}/%f'`, wal_level: 'replica', full_page_writes: 'on' },
    });
    conf = join(etc, 'barman.conf');
    const conninfo = `host=${source.socketDir} port=${source.port} user=postgres dbname=postgres`;
    await writeFile(conf, `[barman]\nbarman_user = ${user?.name ?? 'root'}\nbarman_home = ${home}\nlog_file = ${join(etc, 'barman.log')}\n\n` +
      `[demo]\nconninfo = ${conninfo}\nstreaming_conninfo = ${conninfo}\nbackup_method = postgres\narchiver = on\n`, { mode: 0o644 });
    const barman = (...args: string[]) => runProcess({ bin: BARMAN, args: ['-c', conf, ...args], uid: user?.uid, gid: user?.gid, env: { PATH: `${pgBindir}:/usr/bin:/bin` }, stdout: 'capture' });
    await psql(source, 'postgres', { sql: 'CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g' });
    await barman('switch-wal', '--force', '--archive', '--archive-timeout', '120', 'demo');
    await barman('backup', '--wait', 'demo');
    await source.stop();
    source = undefined;
  });
  after(async () => {
    await source?.stop();
    await scratch?.[Symbol.asyncDispose]();
  });

  it('PASS: the latest backup verified and recovered; its WAL continuous; the copy starts; barman_home unchanged', async (t) => {
    if (!(await present(t))) return;
    const before = await treeDigest(home);
    const root = await ownedDir(join(scratch.path, 'r1'), user);
    const r = await restoreFromBarman({ artifact: { server: 'demo', backupId: null }, configFile: conf, dataDir: join(root, 'data'), osUser: user, target: { kind: 'latest' }, pgBindir });
    assert.equal(r.error, null);
    assert.equal(r.integrity[0]?.name, 'backup.barman_verify');
    assert.equal(r.integrity[0]?.status, 'pass', r.integrity[0]?.detail);
    const wal = await checkWalContinuity({ walDir: r.walDir, start: { timeline: r.backup.timeline, lsn: r.backup.startLsn }, untilLsn: r.backup.stopLsn });
    assert.equal(wal.ok, true, wal.detail);
    await using copy = await startRecovered(r.dataDir!, root, user, { port: 5495, sock: await ownedDir(join(root, 'sock'), user) });
    assert.equal((await copy.sql('SELECT count(*) FROM t')).trim(), '1000');
    await copy.stop();
    assert.deepEqual(await treeDigest(home), before);
  });

  it('PASS: `pgdrill verify barman:demo` drills the latest backup through the physical drill', async (t) => {
    if (!(await present(t))) return;
    const r = await runCli(['verify', 'barman:demo', '--barman-config', conf, '--out', join(scratch.path, 'out-cli'), '--json']);
    assert.ok(r.stdout.trim().startsWith('{'), `no JSON report (exit ${r.code}): ${r.stderr.slice(-2000)}`);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(r.code, 0, report.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`).join('\n'));
    assert.equal(report.checks.find((c) => c.name === 'backup.barman_verify')?.status, 'pass');
    assert.match(report.backup.path ?? '', /^barman:demo@\d{8}T\d{6}$/);
  });

  it('FAIL: a file deleted from the backup fails backup.barman_verify, naming it', async (t) => {
    if (!(await present(t))) return;
    const [id] = await readdir(join(home, 'demo', 'base'));
    const dir = join(home, 'demo', 'base', id!, 'data', 'base', '5');
    const victim = (await readdir(dir)).find((f) => /^\d+$/.test(f))!;
    await unlink(join(dir, victim));
    const root = await ownedDir(join(scratch.path, 'r2'), user);
    const r = await restoreFromBarman({ artifact: { server: 'demo', backupId: id! }, configFile: conf, dataDir: join(root, 'data'), osUser: user, target: { kind: 'immediate' }, pgBindir });
    assert.equal(r.integrity[0]?.status, 'fail');
    assert.match(r.integrity[0].detail, new RegExp(`base/5/${victim}`));
  });
});
