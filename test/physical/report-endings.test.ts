/**
 * `pgdrill verify` of a physical backup, driven as a user drives it, on real inputs built as a DBA builds them: a
 * source archiving with `cp`, a plain base backup taken with `-X none` (its WAL only in the archive) and a tar one,
 * rows of `marks` committed by known transaction ids, then the backup restored and promoted to timeline 2, which
 * archives into the same directory. PASS to latest through the timeline switch and to `xid:` (the rows up to that
 * transaction, no more); FAIL — each with report.json, report.md and report.html written, the cause named, teardown
 * confirmed and the run in history — for the switch's `00000002.history` deleted, an xid the archive never reaches,
 * a backup whose recovery cannot start, a startup process that crashed, and a tar GNU tar cannot read; exit 4 (an
 * environment error, `drill.aborted`, nothing left running) for a server killed or stopped from outside during
 * recovery, its log giving no reason of the recovery's own. One source and one archive for the file.
 */
import { strict as assert } from 'node:assert';
import { cp, readdir, readFile, readlink, stat, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EnvironmentError } from '../../src/errors.js';
import { runProcess } from '../../src/exec/run-process.js';
import { walRestoreCommand } from '../../src/physical/restore-command.js';
import { verifyPhysical } from '../../src/physical/verify-physical.js';
import type { Report } from '../../src/report/model.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { runCli } from '../helpers/cli.js';
import { bins, type scratchDir } from '../helpers/clusters.js';
import { baseBackup, ownedDir, restoreAndPromote, sqlOn, startArchivingSource, switchWal, waitForFile } from './archive-fixture.js';
import { holdRecoveryEnd } from './recovery-timing.js';

describe('verify of a physical backup: every ending is a report', { timeout: 900_000 }, () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster | undefined;
  let archive: string;
  let plain: string;
  let tar: string;
  /** The transaction ids that committed `marks` 1, 2 and 3 on timeline 1. */
  let xids: number[];

  before(async () => {
    const started = await startArchivingSource('pgdrill-endings-', ['b']);
    ({ scratch, archive, source } = started);
    const user = started.user;
    const s = sqlOn(started.source);
    await s.sql('CREATE TABLE t (id int, v text); CREATE TABLE marks (id int PRIMARY KEY, xid bigint NOT NULL)');
    await switchWal(s, archive, 1);
    plain = (await baseBackup(source, join(scratch.path, 'b', 'plain'))).dir;
    tar = join(scratch.path, 'b', 'tar');
    await runProcess({ bin: join((await bins()).server.bindir, 'pg_basebackup'), args: ['-D', tar, '-Ft', '-h', source.socketDir, '-p', String(source.port), '-U', 'postgres', '--checkpoint=fast', '--no-sync'], uid: user?.uid, gid: user?.gid });
    // One transaction per mark: its xid is the one a `--target xid:` names.
    for (const id of [1, 2, 3]) await s.sql(`INSERT INTO marks VALUES (${id}, txid_current())`);
    xids = (await s.sql('SELECT string_agg(xid::text, \',\' ORDER BY id) FROM marks')).trim().split(',').map(Number);
    await switchWal(s, archive, 2);
    await source.stop();
    source = undefined;
    await using copy = await restoreAndPromote(plain, await ownedDir(join(scratch.path, 'copy'), user), user, {
      restoreCommand: walRestoreCommand(archive).command, archiveCommand: `cp %p ${archive}/%f`, port: 5489,
    });
    await waitForFile(archive, '00000002.history');
    await copy.sql('INSERT INTO marks VALUES (4, txid_current())'); // only on timeline 2
    await switchWal(copy, archive, 1);
  });
  after(async () => {
    await source?.stop();
    await scratch?.[Symbol.asyncDispose]();
  });

  /** One out directory for every drill of the file: its history lists them all. */
  const out = (name = 'drills') => join(scratch.path, name);
  async function verify(backup: string, ...args: string[]): Promise<{ code: number | null; report: Report }> {
    const r = await runCli(['verify', backup, '--json', ...(args.includes('--out') ? [] : ['--out', out()]), ...args]);
    assert.ok(r.stdout.trim().startsWith('{'), `no JSON report (exit ${r.code}): ${r.stderr.slice(-2000)}`);
    return { code: r.code, report: JSON.parse(r.stdout) as Report };
  }
  /** The same drill in this process, where the test switches (recovery-timing.ts) reach it. */
  async function verifyHere(backup: string, opts: { wal: string; target: string; recoveryTimeoutSeconds?: number }): Promise<{ code: number | null; report: Report }> {
    const r = await verifyPhysical({ artifact: backup, outDir: out(), ...opts });
    return { code: r.exitCode, report: r.report };
  }
  const check = (r: Report, name: string) => r.checks.find((c) => c.name === name);
  const marks = (r: Report) => r.tables.find((t) => t.schema === 'postgres/public' && t.name === 'marks')?.restored_rows;
  const failures = (r: Report) => r.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`).join('\n');

  /** A FAIL ending: every rendering written (the HTML with the physical section when the backup was read), torn down, in history. */
  async function assertFailReport(r: { code: number | null; report: Report }, opts: { physical: boolean }): Promise<void> {
    assert.equal(r.code, 1, failures(r.report));
    assert.equal(r.report.status, 'FAIL');
    assert.equal(r.report.teardown.confirmed, true, r.report.teardown.detail);
    assert.notEqual(check(r.report, 'teardown.confirmed')?.status, 'fail');
    const dir = r.report.run.dir;
    const json = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as Report;
    assert.equal(json.status, 'FAIL');
    assert.match(await readFile(join(dir, 'report.md'), 'utf8'), /FAIL/);
    const page = await readFile(join(dir, 'report.html'), 'utf8');
    assert.match(page, /<h2 id="verdict" class="word">FAIL<\/h2>/);
    assert.equal(page.includes('<h2 id="physical">Physical recovery</h2>'), opts.physical);
    const history = await runCli(['history', '--out', out(), '--json']);
    assert.ok(history.stdout.includes(r.report.run.id), `run ${r.report.run.id} not in history: ${history.stdout.slice(0, 500)}`);
  }

  it('PASS: latest follows the timeline switch to timeline 2 (mark 4 is there); the copy promotes to timeline 3', async () => {
    const { code, report } = await verify(plain, '--wal', archive);
    assert.equal(code, 0, failures(report));
    assert.equal(marks(report), 4);
    assert.equal(report.physical?.reached.new_timeline, 3);
    assert.ok((report.physical?.wal.history_files ?? 0) >= 1);
    assert.equal((await stat(join(report.run.dir, 'report.html'))).isFile(), true);
  });

  it('FAIL: 00000002.history deleted from the archive is named before recovery starts', async () => {
    const copy = join(scratch.path, 'archive-no-history');
    await cp(archive, copy, { recursive: true });
    await unlink(join(copy, '00000002.history'));
    const r = await verify(plain, '--wal', copy);
    await assertFailReport(r, { physical: true });
    const c = check(r.report, 'backup.wal_continuity')!;
    assert.equal(c.status, 'fail');
    assert.match(c.detail, /00000002\.history is missing/);
    assert.equal(r.report.stages.find((s) => s.name === 'restore')?.status, 'skip');
  });

  it('PASS: xid of mark 2 — marks 1 and 2 present, 3 absent; the stop line names the transaction', async () => {
    // The same out directory as the PASS at latest above: fewer rows by design, so not compared with it, and the
    // baseline section says why.
    const { code, report } = await verify(plain, '--wal', archive, '--target', `xid:${xids[1]}`);
    assert.equal(code, 0, failures(report));
    assert.equal(report.baseline, null);
    assert.match(check(report, 'baseline.previous_pass')?.detail ?? '', new RegExp(`comparable with this drill \\(physical pg_basebackup, target xid:${xids[1]}\\): the newest PASS \\S+ was physical pg_basebackup, target latest`));
    assert.match(await readFile(join(report.run.dir, 'report.md'), 'utf8'), /## Baseline[^#]*target latest/);
    assert.equal(marks(report), 2);
    assert.match(report.physical?.reached.stop_line ?? '', new RegExp(`^recovery stopping after commit of transaction ${xids[1]}\\b`));
    assert.equal(report.physical?.target, `xid:${xids[1]}`);
  });

  it('FAIL: an xid the archive never reaches — recovery ended before it, both points named', async (t) => {
    const beyond = xids[2]! + 100_000;
    const r = await verify(plain, '--wal', archive, '--target', `xid:${beyond}`);
    await assertFailReport(r, { physical: true });
    // Seen once in CI under load: no such check at all. Say which checks there were, should it happen again.
    assert.ok(check(r.report, 'restore.recovery_target'), `no restore.recovery_target; the checks: ${r.report.checks.map((x) => `${x.name} ${x.status}: ${x.detail}`).join(' | ')}`);
    const c = check(r.report, 'restore.recovery_target')!;
    t.diagnostic(c.detail);
    assert.equal(c.status, 'fail');
    assert.match(c.detail, new RegExp(`recovery ended before the target xid:${beyond} was reached: the archive's WAL ran out at [0-9A-F]+/[0-9A-F]+`));
  });

  // The same ending at each moment pgdrill may meet it: the recovery ends (FATAL, the postmaster exits) after
  // `pg_ctl start` has returned and before pgdrill reads postmaster.pid — once a `restore.error` ENOENT and no
  // restore.recovery_target at all. (Before pg_ctl sees recovery begin: the -X none case below; while pgdrill waits
  // for the promotion: the CLI case above, most often.)
  it('FAIL: an xid the archive never reaches, the server gone once pg_ctl returned — the same check, from the whole log', async (t) => {
    const beyond = xids[2]! + 100_000;
    using held = await holdRecoveryEnd(archive, 'exited');
    const r = await verifyHere(plain, { wal: archive, target: `xid:${beyond}` });
    assert.ok(held.hold.ran && held.hold.postmasterGone, 'the postmaster was gone when pgdrill read its pid');
    await assertFailReport(r, { physical: true });
    const c = check(r.report, 'restore.recovery_target');
    assert.ok(c, `no restore.recovery_target; the checks: ${failures(r.report)}`);
    t.diagnostic(c.detail);
    assert.equal(c.status, 'fail');
    assert.match(c.detail, new RegExp(`recovery ended before the target xid:${beyond} was reached: the archive's WAL ran out at [0-9A-F]+/[0-9A-F]+ \\(last segment restored 00000002[0-9A-F]{16}`));
    assert.equal(check(r.report, 'restore.error'), undefined);
    // Read from the whole log, not the error's tail: where recovery began is there too.
    assert.ok(r.report.physical?.reached.consistent_at, 'the consistency point is in report.physical');
  });

  it('PASS: xid of mark 2, the copy promoted before pgdrill first looks — no false FAIL', async () => {
    using held = await holdRecoveryEnd(archive, 'promoted');
    const { code, report } = await verifyHere(plain, { wal: archive, target: `xid:${xids[1]}` });
    assert.ok(held.hold.ran && !held.hold.postmasterGone);
    assert.equal(code, 0, failures(report));
    assert.equal(marks(report), 2);
    assert.equal(check(report, 'restore.recovery_target')?.status, 'pass');
  });

  it('FAIL: recovery that has not begun when its time allowed ends (pg_ctl still waiting) — the time named, not the archive', async (t) => {
    using held = await holdRecoveryEnd(archive, 'never', 20);
    const r = await verifyHere(plain, { wal: archive, target: `xid:${xids[1]}`, recoveryTimeoutSeconds: 2 });
    assert.equal(held.hold.ran, false);
    await assertFailReport(r, { physical: true });
    const c = check(r.report, 'restore.recovery_target');
    assert.ok(c, `no restore.recovery_target; the checks: ${failures(r.report)}`);
    t.diagnostic(c.detail);
    assert.equal(c.status, 'fail');
    assert.match(c.detail, new RegExp(`^recovery did not end within 2 s: the target xid:${xids[1]} was not reached in the time allowed; replay had reached `));
    assert.doesNotMatch(c.detail, /ran out|would not start/);
  });

  // The server stopped from outside during recovery — killed outright (SIGKILL, the OOM killer) or asked to stop
  // (pg_ctl stop) — with nothing in its log that says recovery failed: not a verdict on the backup, but the drill
  // ended as an environment problem (exit 4), the report written with drill.aborted, the sandbox gone.
  /** The same drill in this process, ended by an environment error: the error, and the report written to `dir`. */
  async function verifyAborted(dir: string, opts: { wal: string; target: string; recoveryTimeoutSeconds?: number }): Promise<{ error: Error; report: Report }> {
    const error = await verifyPhysical({ artifact: plain, outDir: dir, ...opts }).then(() => null, (e: Error) => e);
    assert.ok(error instanceof EnvironmentError, `not an environment error (exit 4): ${error?.stack ?? 'the drill ended with a verdict'}`);
    const runs = (await readdir(dir)).filter((n) => !n.startsWith('.'));
    assert.equal(runs.length, 1, `one run directory in ${dir}: ${runs.join(', ')}`);
    const report = JSON.parse(await readFile(join(dir, runs[0]!, 'report.json'), 'utf8')) as Report;
    assert.equal(report.teardown.confirmed, true, report.teardown.detail);
    assert.match(check(report, 'teardown.confirmed')?.detail ?? '', /was stopped from outside pgdrill during recovery; its directory \S+ was removed/);
    assert.equal(check(report, 'restore.recovery_target'), undefined, 'no verdict on the recovery');
    assert.notEqual(report.status, 'PASS');
    assert.deepEqual(await readdir(join(dir, runs[0]!)).then((n) => n.filter((f) => f.startsWith('physical-sandbox'))), [], 'nothing of the sandbox is left');
    // The postmaster's children outlive it until they notice (here the startup process, held in restore_command).
    assert.deepEqual(await processesIn(dir), [], 'no server process outlives the drill');
    return { error, report };
  }
  /** Processes working in `dir` or in a physical sandbox's data directory (the sandbox may be in the temp directory): any outliving the drill. */
  async function processesIn(dir: string): Promise<string[]> {
    const found: string[] = [];
    for (const pid of (await readdir('/proc')).filter((n) => /^\d+$/.test(n))) {
      const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '');
      if (cwd.startsWith(dir) || /\/physical-sandbox-[^/]*\/data( \(deleted\))?$/.test(cwd)) found.push(`${pid} ${(await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replace(/\0/g, ' ')} (${cwd})`);
    }
    return found;
  }
  const aborted = (r: Report) => check(r, 'drill.aborted')?.detail ?? '';

  it('exit 4: the postmaster killed outright once pg_ctl returned (postmaster.pid left behind) — not a FAIL of the backup', async (t) => {
    using held = await holdRecoveryEnd(archive, 'killed', 10);
    const { error, report } = await verifyAborted(out('killed'), { wal: archive, target: `xid:${xids[2]! + 100_000}`, recoveryTimeoutSeconds: 300 });
    assert.ok(held.hold.killed);
    t.diagnostic(aborted(report));
    assert.match(error.message, new RegExp(`postmaster \\(pid ${held.hold.killed}\\) stopped during recovery and was killed or stopped from outside pgdrill: nothing in its log says recovery failed \\(no shutdown request in its log: killed outright`));
    assert.equal(aborted(report), error.message);
  });

  it('exit 4: the postmaster killed outright while pgdrill waits for the promotion — named at once, not after the time allowed', async (t) => {
    using held = await holdRecoveryEnd(archive, 'killed-while-waited', 10);
    const t0 = performance.now();
    const { report } = await verifyAborted(out('killed-while-waited'), { wal: archive, target: `xid:${xids[2]! + 100_000}`, recoveryTimeoutSeconds: 300 });
    assert.ok(held.hold.killed);
    assert.ok(performance.now() - t0 < 120_000, 'not after the time allowed');
    t.diagnostic(aborted(report));
    assert.match(aborted(report), new RegExp(`postmaster \\(pid ${held.hold.killed}\\) stopped during recovery and was killed or stopped from outside pgdrill: nothing in its log says recovery failed \\(no shutdown request`));
  });

  it('exit 4: the postmaster stopped as pg_ctl stop does (SIGINT, fast shutdown) while pgdrill waits — the request named', async (t) => {
    using held = await holdRecoveryEnd(archive, 'stopped-while-waited', 10);
    const { report } = await verifyAborted(out('stopped-while-waited'), { wal: archive, target: `xid:${xids[2]! + 100_000}`, recoveryTimeoutSeconds: 300 });
    assert.ok(held.hold.killed);
    t.diagnostic(aborted(report));
    assert.match(aborted(report), new RegExp(`postmaster \\(pid ${held.hold.killed}\\) stopped during recovery and was killed or stopped from outside pgdrill: nothing in its log says recovery failed \\(its log says "received fast shutdown request"`));
  });

  it('FAIL: the startup process (the recovery itself) crashes (SIGSEGV) while pgdrill waits — a crash of recovery stays a verdict, the postmaster\'s line named', async (t) => {
    using held = await holdRecoveryEnd(archive, 'startup-killed-while-waited', 10);
    const r = await verifyHere(plain, { wal: archive, target: `xid:${xids[2]! + 100_000}`, recoveryTimeoutSeconds: 300 });
    assert.ok(held.hold.killed);
    await assertFailReport(r, { physical: true });
    const c = check(r.report, 'restore.recovery_target');
    assert.ok(c, `no restore.recovery_target; the checks: ${failures(r.report)}`);
    t.diagnostic(c.detail);
    assert.equal(c.status, 'fail');
    assert.match(c.detail, new RegExp(`failed: startup process \\(PID ${held.hold.killed}\\) was terminated by signal 11`));
    assert.equal(check(r.report, 'drill.aborted'), undefined);
  });

  it('FAIL: a backup without its WAL (-X none, no manifest, no --wal) cannot start recovery; the server\'s FATAL line is named', async (t) => {
    const copy = join(scratch.path, 'no-wal');
    await cp(plain, copy, { recursive: true });
    await unlink(join(copy, 'backup_manifest')); // else pg_verifybackup already finds the WAL missing
    const r = await verify(copy);
    await assertFailReport(r, { physical: true });
    const c = check(r.report, 'restore.recovery_target')!;
    t.diagnostic(c.detail);
    assert.equal(c.status, 'fail');
    assert.match(c.detail, /could not locate required checkpoint record|WAL ends before|checkpoint/i);
    // No archive to run out: the detail says what happened and what to do.
    assert.match(c.detail, /no WAL archive was given \(--wal\) and the backup's own pg_wal does not hold the WAL recovery needs.*pg_basebackup -X stream/s);
    assert.doesNotMatch(c.detail, /the archive's WAL ran out/);
    assert.ok(r.report.physical?.reached.fatal, 'the FATAL line is in report.physical');
  });

  it('FAIL: base.tar cut short — tar\'s error named, the server never started, the sandbox removed', async (t) => {
    const copy = join(scratch.path, 'tar-cut');
    await cp(tar, copy, { recursive: true });
    const baseTar = join(copy, 'base.tar');
    await truncate(baseTar, Math.floor((await stat(baseTar)).size / 2));
    const r = await verify(copy, '--wal', archive);
    await assertFailReport(r, { physical: true });
    const c = check(r.report, 'restore.physical_copy')!;
    t.diagnostic(c?.detail ?? failures(r.report));
    assert.equal(c?.status, 'fail', failures(r.report));
    assert.match(c.detail, /extracting .*base\.tar failed: .*tar.*(Unexpected EOF|exited)/s);
    assert.equal(check(r.report, 'restore.recovery_target'), undefined);
    assert.match(check(r.report, 'teardown.confirmed')?.detail ?? '', /was removed/);
  });
});
