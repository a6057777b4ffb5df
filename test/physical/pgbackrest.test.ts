/**
 * pgBackRest: a local repository and stanza for a PG15 source that archives with `pgbackrest archive-push`, a full
 * and an incremental backup (pgBackRest run as the cluster's OS user, as a DBA runs it). The adapter picks the
 * backup, judges `pgbackrest verify`, and restores into a new directory; the restored copy starts, reads WAL with
 * archive-get and has the incremental's rows, and the repository is byte-identical afterwards. A file deleted from
 * the repository FAILs verify, naming it; a file of a newer backup only WARNs a drill of the older one.
 */
import { strict as assert } from 'node:assert';
import { access, appendFile, chmod, mkdir, readdir, readFile, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { resolveSandboxUser, type OsUser } from '../../src/exec/os-user.js';
import { runProcess } from '../../src/exec/run-process.js';
import { restoreFromPgBackRest } from '../../src/physical/pgbackrest.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { psql, scratchDir, startSource } from '../helpers/clusters.js';
import { ownedDir, startRecovered, treeDigest } from './archive-fixture.js';
import { runCli } from '../helpers/cli.js';
import type { Report } from '../../src/report/model.js';

const PGBACKREST = '/usr/bin/pgbackrest';

async function havePgBackRest(t: TestContext): Promise<boolean> {
  if (await access(PGBACKREST).then(() => true, () => false)) return true;
  if (process.env.CI) throw new Error('pgbackrest is not installed; CI must install it (scripts/setup --with-pgbackrest)');
  t.skip('pgbackrest is not installed (bash scripts/setup --with-pgbackrest)');
  return false;
}

describe('pgBackRest repositories', { timeout: 600_000 }, () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster | undefined;
  let user: OsUser | null;
  let conf: string;
  let repo: string;
  let full: string;
  let incr: string;
  let skip = false;
  const asUser = () => ({ uid: user?.uid, gid: user?.gid });
  const backrest = (...args: string[]) => runProcess({ bin: PGBACKREST, args: [`--config=${conf}`, '--stanza=demo', ...args], ...asUser(), stdout: 'capture' });

  before(async () => {
    if (!(await access(PGBACKREST).then(() => true, () => false))) return void (skip = true);
    scratch = await scratchDir('pgdrill-pgbackrest-');
    await chmod(scratch.path, 0o755);
    user = await resolveSandboxUser();
    const etc = await ownedDir(join(scratch.path, 'etc'), user);
    await chmod(etc, 0o755);
    repo = await ownedDir(join(scratch.path, 'repo'), user);
    conf = join(etc, 'pgbackrest.conf');
    // A private lock directory: pgBackRest's default, /tmp/pgbackrest, is shared with every other run on the machine.
    const lock = await ownedDir(join(scratch.path, 'lock'), user);
    await writeFile(conf, `[global]\nrepo1-path=${repo}\nrepo1-retention-full=9\nlog-level-file=off\nstart-fast=y\nlock-path=${lock}\n`, { mode: 0o644 });
    source = await startSource({
      parentDir: scratch.path, shared: [repo, etc, lock],
      settings: { archive_mode: 'on', archive_command: `'${PGBACKREST} --config=${conf} --stanza=demo archive-push %p'`, wal_level: 'replica', full_page_writes: 'on' },
    });
    await appendFile(conf, `\n[demo]\npg1-path=${source.dataDir}\npg1-socket-path=${source.socketDir}\npg1-port=${source.port}\npg1-user=postgres\n`);
    await backrest('stanza-create');
    await psql(source, 'postgres', { sql: 'CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g' });
    await backrest('--type=full', 'backup');
    await psql(source, 'postgres', { sql: 'INSERT INTO t SELECT g FROM generate_series(1001, 1500) g' });
    await backrest('--type=incr', 'backup');
    const info = JSON.parse((await backrest('--output=json', 'info')).stdout) as { backup: { label: string }[] }[];
    [full, incr] = info[0]!.backup.map((b) => b.label) as [string, string];
    await source.stop();
    source = undefined;
  });
  after(async () => {
    await source?.stop();
    await scratch?.[Symbol.asyncDispose]();
  });

  it('PASS: the newest backup (incremental) verified, restored, started with archive-get; the repository unchanged', async (t) => {
    if (skip && !(await havePgBackRest(t))) return;
    const before = await treeDigest(repo);
    const root = await ownedDir(join(scratch.path, 'r1'), user);
    const r = await restoreFromPgBackRest({ artifact: { stanza: 'demo', label: null }, configFile: conf, dataDir: join(root, 'data'), osUser: user, target: { kind: 'latest' } });
    assert.equal(r.error, null);
    assert.equal(r.backup.label, incr);
    assert.equal(r.backup.type, 'incr');
    assert.deepEqual(r.backup.references, [full]);
    assert.equal(r.integrity[0]?.name, 'backup.pgbackrest_verify');
    assert.equal(r.integrity[0]?.status, 'pass', r.integrity[0]?.detail);
    assert.match(r.recoverySettings.restore_command ?? '', /archive-get %f "%p"$/);
    assert.equal(r.recoverySettings.archive_mode, 'off');
    // Start it as a DBA would after `pgbackrest restore`: it replays WAL fetched by archive-get and promotes.
    await using copy = await startRecovered(r.dataDir!, root, user, { port: 5497, sock: await ownedDir(join(root, 'sock'), user) });
    assert.equal((await copy.sql('SELECT count(*) FROM t')).trim(), '1500');
    assert.match(await readFile(join(root, 'log'), 'utf8'), /restored log file "[0-9A-F]{24}" from archive/);
    await copy.stop();
    assert.deepEqual(await treeDigest(repo), before);
  });

  it('PASS: `pgdrill verify pgbackrest:demo` drills the incremental to the end of the archive; the repository unchanged', async (t) => {
    if (skip && !(await havePgBackRest(t))) return;
    const before = await treeDigest(repo);
    const r = await runCli(['verify', 'pgbackrest:demo', '--pgbackrest-config', conf, '--out', join(scratch.path, 'out-cli'), '--json']);
    assert.ok(r.stdout.trim().startsWith('{'), `no JSON report (exit ${r.code}): ${r.stderr.slice(-2000)}`);
    const report = JSON.parse(r.stdout) as Report;
    const failed = report.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`);
    assert.equal(r.code, 0, failed.join('\n'));
    assert.equal(report.checks.find((c) => c.name === 'backup.pgbackrest_verify')?.status, 'pass');
    assert.equal(report.checks.find((c) => c.name === 'backup.wal_continuity')?.status, 'pass');
    assert.equal(report.backup.path, `pgbackrest:demo@${incr} (incr)`);
    assert.deepEqual(await treeDigest(repo), before);
  });

  it('refuses a repository the sandbox user cannot read (exit 2), before running anything', async (t) => {
    if (skip && !(await havePgBackRest(t))) return;
    const closed = join(scratch.path, 'closed');
    await mkdir(closed, { mode: 0o700 }); // root's, 0700
    const other = join(scratch.path, 'etc', 'closed.conf');
    await writeFile(other, `[global]\nrepo1-path=${closed}\n`, { mode: 0o644 });
    await assert.rejects(
      restoreFromPgBackRest({ artifact: { stanza: 'demo', label: null }, configFile: other, dataDir: join(scratch.path, 'r-closed', 'data'), osUser: user, target: { kind: 'immediate' } }),
      (e: Error & { exitCode?: number }) => (user === null || (e.exitCode === 2 && /repository repo1 .*cannot be read by the sandbox's OS user/.test(e.message))),
    );
  });

  /** A copy of the repository (owner kept) and a configuration naming it, to damage without touching `repo`. */
  async function repositoryCopy(name: string): Promise<{ conf: string; archive: string; needed: string }> {
    const copy = join(scratch.path, name);
    await runProcess({ bin: 'cp', args: ['-a', repo, copy] });
    const other = join(scratch.path, 'etc', `${name}.conf`);
    await writeFile(other, (await readFile(conf, 'utf8')).replace(`repo1-path=${repo}`, `repo1-path=${copy}`), { mode: 0o644 });
    const info = JSON.parse((await backrest('--output=json', 'info')).stdout) as { backup: { label: string; archive: { start: string } }[] }[];
    const needed = info[0]!.backup.find((b) => b.label === incr)!.archive.start;
    return { conf: other, archive: join(copy, 'archive/demo/15-1', needed.slice(0, 16)), needed };
  }
  async function drillRepository(t: TestContext, other: string, out: string): Promise<{ code: number | null; report: Report; failed: string }> {
    const r = await runCli(['verify', `pgbackrest:demo@${incr}`, '--pgbackrest-config', other, '--out', join(scratch.path, out), '--json']);
    assert.ok(r.stdout.trim().startsWith('{'), `no JSON report (exit ${r.code}): ${r.stderr.slice(-2000)}`);
    const report = JSON.parse(r.stdout) as Report;
    const failed = report.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`).join('\n');
    t.diagnostic(failed);
    return { code: r.code, report, failed };
  }

  it('FAIL (exit 1, not 2): a WAL segment the backup needs, deleted from the repository\'s archive, is named', async (t) => {
    if (skip && !(await havePgBackRest(t))) return;
    const { conf: other, archive, needed } = await repositoryCopy('repo-wal-deleted');
    const victim = (await readdir(archive)).find((f) => f.startsWith(`${needed}-`))!;
    await unlink(join(archive, victim));
    const { code, report, failed } = await drillRepository(t, other, 'out-wal-deleted');
    assert.equal(code, 1, failed);
    assert.equal(report.status, 'FAIL');
    assert.ok(failed.includes(needed), `${needed} not named:\n${failed}`);
    // Its .backup file is still listed, so archive-get is asked for it and finds none.
    assert.match(report.checks.find((x) => x.name === 'restore.repository')?.detail ?? '', new RegExp(`the WAL file ${needed} is missing from the repository's archive`));
  });

  it('FAIL (exit 1, not 2): a WAL segment archive-get cannot fetch (cut in half in the repository) is named', async (t) => {
    if (skip && !(await havePgBackRest(t))) return;
    const { conf: other, archive, needed } = await repositoryCopy('repo-wal-cut');
    const victim = join(archive, (await readdir(archive)).find((f) => f.startsWith(`${needed}-`))!);
    await truncate(victim, Math.floor((await stat(victim)).size / 2));
    const { code, report, failed } = await drillRepository(t, other, 'out-wal-cut');
    assert.equal(code, 1, failed);
    const c = report.checks.find((x) => x.name === 'restore.repository');
    assert.equal(c?.status, 'fail', failed);
    assert.match(c.detail, new RegExp(`^pgbackrest archive-get could not restore pgbackrest:demo@${incr} .*the WAL file ${needed} is in the repository's archive but could not be fetched \\(exit \\d+\\): .*unexpected eof`, 's'));
    assert.equal(report.checks.find((x) => x.name === 'teardown.confirmed')?.status, 'pass');
  });

  it('FAIL: a file deleted from the full backup fails verify of the incremental naming it; a drill of the full only WARNs when the incremental alone lost one', async (t) => {
    if (skip && !(await havePgBackRest(t))) return;
    const incrFiles = (await readdir(join(repo, 'backup/demo', incr, 'pg_data/base'), { recursive: true })).filter((f) => f.endsWith('.gz'));
    const victim = incrFiles[0]!;
    await unlink(join(repo, 'backup/demo', incr, 'pg_data/base', victim));
    const older = await restoreFromPgBackRest({ artifact: { stanza: 'demo', label: full }, configFile: conf, dataDir: join(await ownedDir(join(scratch.path, 'r2'), user), 'data'), osUser: user, target: { kind: 'immediate' }, verify: true });
    assert.equal(older.integrity[0]?.status, 'warn', older.integrity[0]?.detail);
    assert.equal(older.error, null);
    const fullFiles = (await readdir(join(repo, 'backup/demo', full, 'pg_data/base'), { recursive: true })).filter((f) => f.endsWith('.gz') && !incrFiles.includes(f));
    const referenced = join(full, 'pg_data/base', fullFiles[0]!);
    await unlink(join(repo, 'backup/demo', referenced));
    const r = await restoreFromPgBackRest({ artifact: { stanza: 'demo', label: incr }, configFile: conf, dataDir: join(await ownedDir(join(scratch.path, 'r3'), user), 'data'), osUser: user, target: { kind: 'immediate' } });
    const check = r.integrity[0]!;
    assert.equal(check.status, 'fail');
    assert.match(check.detail, new RegExp(`backup ${incr} is invalid`));
    assert.ok(check.detail.includes(`file missing '${referenced}'`), check.detail);
    assert.notEqual(r.error, null, 'pgbackrest restore cannot restore a file that is gone');
    await rm(join(scratch.path, 'r3'), { recursive: true, force: true });
    // Through the CLI: the restore that fails is a FAIL report like any other ending — verify's finding and the
    // restore's error named, every rendering written, nothing left behind.
    const out = join(scratch.path, 'out-cli-fail');
    const cli = await runCli(['verify', `pgbackrest:demo@${incr}`, '--pgbackrest-config', conf, '--out', out, '--json']);
    assert.ok(cli.stdout.trim().startsWith('{'), `no JSON report (exit ${cli.code}): ${cli.stderr.slice(-2000)}`);
    const report = JSON.parse(cli.stdout) as Report;
    assert.equal(cli.code, 1);
    assert.equal(report.status, 'FAIL');
    assert.equal(report.backup.path, `pgbackrest:demo@${incr} (incr)`);
    assert.ok(report.checks.find((c) => c.name === 'backup.pgbackrest_verify')?.detail.includes(`file missing '${referenced}'`));
    const restore = report.checks.find((c) => c.name === 'restore.repository');
    t.diagnostic(restore?.detail ?? 'no restore.repository');
    assert.equal(restore?.status, 'fail');
    assert.match(restore.detail, /^pgbackrest restore could not restore pgbackrest:demo@.* \(see backup\.pgbackrest_verify\)$/s);
    assert.equal(report.checks.find((c) => c.name === 'teardown.confirmed')?.status, 'pass');
    for (const f of ['report.json', 'report.md', 'report.html']) await access(join(report.run.dir, f));
  });
});
