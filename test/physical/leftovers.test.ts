/**
 * What a physical drill leaves when it cannot finish, on a real archive (a source archiving with `cp`, a `-X none`
 * base backup, WAL switched a few times; one segment the recovery needs compressed with zstd in a copy of the
 * archive):
 * - a `pgdrill verify --wal` SIGKILLed while its continuity check copies the archive (held there by a `zstd` in PATH
 *   that never ends) leaves `<run>/wal-checked`; `pgdrill cleanup` removes it (the planted variants it must refuse:
 *   test/safety/cleanup.test.ts);
 * - the same drill with no `zstd` in PATH ends with exit 4 naming the program, the segment and what to install, the
 *   report written with the cause in `drill.aborted` — an environment problem, not a verdict on the archive;
 * - the archive's last segments deleted: a later backup's history file shows the WAL went further (WARN, named);
 *   the whole archive says where it ends and that nothing shows more was expected (PASS).
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { chmod, cp, lstat, mkdir, readdir, readFile, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { runProcess } from '../../src/exec/run-process.js';
import type { OsUser } from '../../src/exec/os-user.js';
import type { Report } from '../../src/report/model.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { CLI, CLI_NODE_FLAGS, runCli } from '../helpers/cli.js';
import { bins, type scratchDir } from '../helpers/clusters.js';
import { exists } from '../helpers/leftovers.js';
import { baseBackup, ownedDir, sqlOn, startArchivingSource, switchWal } from './archive-fixture.js';

describe('what a physical drill that cannot finish leaves, and says', { timeout: 600_000 }, () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster | undefined;
  let user: OsUser | null;
  let backup: string;
  /** A copy of the archive whose second segment after the backup is `.zst`. */
  let zstArchive: string;
  let zstSegment: string;
  let state: string;
  let archive: string;
  let later: Awaited<ReturnType<typeof baseBackup>>;

  before(async () => {
    const started = await startArchivingSource('pgdrill-leftovers-', ['b']);
    ({ scratch, source, user } = started);
    const s = sqlOn(started.source);
    await s.sql('CREATE TABLE t (id int, v text)');
    await switchWal(s, started.archive, 1);
    backup = (await baseBackup(source, join(scratch.path, 'b', 'plain'))).dir;
    const after = await switchWal(s, started.archive, 3);
    // A later base backup: its backup history file (.backup, archived with its stop segment) records how far the WAL went.
    later = await baseBackup(source, join(scratch.path, 'b', 'later'));
    archive = started.archive;
    await source.stop();
    source = undefined;
    zstArchive = join(scratch.path, 'archive-zst');
    await cp(started.archive, zstArchive, { recursive: true });
    zstSegment = `${after[1]!}.zst`;
    await runProcess({ bin: '/usr/bin/zstd', args: ['-q', '--rm', join(zstArchive, after[1]!)] });
    state = join(scratch.path, 'state');
    await mkdir(state, { mode: 0o700 });
  });
  after(async () => {
    await source?.stop();
    await scratch?.[Symbol.asyncDispose]();
  });

  /** The run directories of an out directory. */
  const runDirs = async (out: string) => (await readdir(out).catch(() => [] as string[])).filter((n) => !n.startsWith('.')).map((n) => join(out, n));

  it('a drill SIGKILLed while it copies the checked WAL leaves <run>/wal-checked; pgdrill cleanup removes it', async () => {
    // A `zstd` first in PATH that says it started and never ends: the drill is held inside the continuity check.
    const fakeBin = await ownedDir(join(scratch.path, 'fake-bin'), user);
    await chmod(fakeBin, 0o755);
    const started = join(fakeBin, 'started');
    await writeFile(join(fakeBin, 'zstd'), `#!/bin/sh\necho $$ > ${started}\nexec sleep 600\n`, { mode: 0o755 });
    const out = join(scratch.path, 'out-killed');
    const env = { ...process.env, PATH: `${fakeBin}:${process.env.PATH ?? '/usr/bin:/bin'}`, PGDRILL_STATE_DIR: state };
    const child = spawn(process.execPath, [...CLI_NODE_FLAGS, CLI, 'verify', backup, '--wal', zstArchive, '--out', out, '--json'], { env, stdio: 'ignore' });
    const exited = new Promise((res) => child.once('exit', res));
    let fakePid: number | null = null;
    try {
      for (let i = 0; fakePid === null; i++) {
        if (child.exitCode !== null) assert.fail(`the drill ended (exit ${child.exitCode}) before it reached the compressed segment`);
        if (i === 1200) assert.fail('the fake zstd was never started');
        fakePid = Number((await readFile(started, 'utf8').catch(() => '')).trim()) || null;
        if (fakePid === null) await sleep(100);
      }
      child.kill('SIGKILL');
      await exited;
    } finally {
      child.kill('SIGKILL');
      if (fakePid) process.kill(fakePid, 'SIGKILL');
    }
    const [run] = await runDirs(out);
    assert.ok(run, `no run directory in ${out}`);
    const left = join(run, 'wal-checked');
    const st = await lstat(left);
    assert.ok(st.isDirectory());
    assert.equal(st.uid, process.geteuid!(), 'the checked copy belongs to the user running pgdrill until recovery adopts it');
    assert.ok((await readdir(left)).some((n) => /^[0-9A-F]{24}$/.test(n)), 'segments checked before the compressed one are in the copy');

    const dry = await runCli(['cleanup', '--out', out, '--dry-run', '--json'], { env: { PGDRILL_STATE_DIR: state } });
    const planned = (JSON.parse(dry.stdout) as { items: { kind: string; path: string; action: string }[] }).items;
    assert.deepEqual(planned.filter((i) => i.kind === 'wal_copy').map((i) => [i.path, i.action]), [[left, 'would_remove']]);
    assert.equal(await exists(left), true);

    const r = await runCli(['cleanup', '--out', out, '--json'], { env: { PGDRILL_STATE_DIR: state } });
    assert.equal(r.code, 0, r.stderr);
    const items = (JSON.parse(r.stdout) as { items: { kind: string; path: string; action: string; reason: string }[] }).items;
    const item = items.find((i) => i.kind === 'wal_copy');
    assert.equal(item?.path, left);
    assert.equal(item.action, 'removed', item.reason);
    assert.match(item.reason, /left by a drill that is gone/);
    assert.equal(await exists(left), false);
    assert.equal(await exists(run), true, 'the run directory (its run.log) is the user\'s: kept');
  });

  it('no zstd in PATH: exit 4 naming zstd, the segment and the package; the report says it, nothing is left', async () => {
    // PATH with the PostgreSQL programs and a shell, but none of the decompressors.
    const bare = join(scratch.path, 'bare-bin');
    await mkdir(bare);
    for (const p of ['sh', 'cp', 'tar']) await symlink(`/bin/${p}`, join(bare, p));
    const out = join(scratch.path, 'out-no-zstd');
    const r = await runCli(['verify', backup, '--wal', zstArchive, '--out', out, '--json'], { env: { PATH: `${(await bins()).server.bindir}:${bare}`, PGDRILL_STATE_DIR: state } });
    assert.equal(r.code, 4, `${r.stderr.slice(-2000)}`);
    assert.match(r.stderr, new RegExp(`${zstSegment.replace(/\./g, '\\.')} is compressed with zstd, and the zstd program is not installed`));
    assert.match(r.stderr, /Install zstd/);
    const [run] = await runDirs(out);
    assert.ok(run, `no run directory in ${out}`);
    const report = JSON.parse(await readFile(join(run, 'report.json'), 'utf8')) as Report;
    const aborted = report.checks.find((c) => c.name === 'drill.aborted');
    assert.match(aborted?.detail ?? '', /zstd program is not installed/);
    assert.notEqual(report.checks.find((c) => c.name === 'backup.wal_continuity')?.status, 'fail', 'not a verdict on the archive');
    assert.equal(await exists(join(run, 'wal-checked')), false, 'the partial checked copy is removed');
  });

  /** `pgdrill verify BACKUP --wal DIR`, its exit code and report. */
  async function verify(wal: string, out: string): Promise<{ code: number | null; report: Report }> {
    const r = await runCli(['verify', backup, '--wal', wal, '--out', out, '--json'], { env: { PGDRILL_STATE_DIR: state } });
    assert.ok(r.stdout.trim().startsWith('{'), `no JSON report (exit ${r.code}): ${r.stderr.slice(-2000)}`);
    return { code: r.code, report: JSON.parse(r.stdout) as Report };
  }
  const continuity = (r: Report) => r.checks.find((c) => c.name === 'backup.wal_continuity');

  it('the last segments deleted: WARN naming the later backup\'s history file and the last segment left; the whole archive: PASS, its end named', async (t) => {
    const cut = join(scratch.path, 'archive-cut');
    await cp(archive, cut, { recursive: true });
    const gone: string[] = [];
    for (const n of await readdir(cut)) if (/^[0-9A-F]{24}$/.test(n) && n >= later.startSegment) gone.push(n);
    assert.ok(gone.length >= 1);
    for (const n of gone) await unlink(join(cut, n));
    const short = await verify(cut, join(scratch.path, 'out-cut'));
    const c = continuity(short.report)!;
    t.diagnostic(c.detail);
    assert.equal(c.status, 'warn', c.detail);
    assert.match(c.detail, new RegExp(`but ${later.startSegment}\\.[0-9A-F]{8}\\.backup, a backup history file \\(a base backup stopped there\\), names \\S+, past the archive's end at \\S+: segments after [0-9A-F]{24} are missing \\(deleted, or not archived yet\\)`));
    assert.equal(short.report.status, 'PASS', 'a warning: recovery replays what is there');

    const whole = await verify(archive, join(scratch.path, 'out-whole'));
    const w = continuity(whole.report)!;
    t.diagnostic(w.detail);
    assert.equal(whole.code, 0);
    assert.equal(w.status, 'pass', w.detail);
    assert.match(w.detail, new RegExp(`the archive ends at \\S+, and nothing in it shows more was expected \\(the furthest LSN its backup and timeline history files name on that timeline is \\S+, in ${later.startSegment}\\.[0-9A-F]{8}\\.backup\\)`));
  });
});
