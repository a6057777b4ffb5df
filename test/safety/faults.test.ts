/**
 * Faults survived: the source unreachable at start, pg_dump killed mid-stream, the disk full while dumping and
 * while the sandbox starts, a sandbox that will not start, the source stopped mid-dump. Each ends with a clear
 * FAIL or exit 4, no dump presented that is not whole, and nothing left running or on disk.
 *
 * "Mid-stream" is made deterministic without any hook in pgdrill: pgdrill is paused (SIGSTOP) as soon as its
 * pg_dump starts, so pg_dump fills the pipe and blocks with bytes written; then the fault is injected and
 * pgdrill resumes (SIGCONT) into it.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runCli, type CliRun } from '../helpers/cli.js';
import { bins, scratchDir, urlOf, usePagila } from '../helpers/clusters.js';
import { exists, processesMentioning } from '../helpers/leftovers.js';
import { cmdline, descendants, holdLock, waitFor, waitForNoPgdrillSessions } from '../helpers/safety.js';
import { runProcess } from '../../src/exec/run-process.js';
import { resolveSandboxUser } from '../../src/exec/os-user.js';
import { SandboxCluster } from '../../src/sandbox/cluster.js';
import { isAlive } from '../../src/exec/process-liveness.js';
import { EnvironmentError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { ReportSchema, type Report } from '../../src/report/model.js';
import { runDrill } from '../../src/drill/run-drill.js';

const isRoot = process.getuid?.() === 0;

/** A tmpfs of `size` at a fresh directory under the temp dir that every user can reach; unmounted by dispose. */
async function tmpfs(size: string): Promise<{ path: string } & AsyncDisposable> {
  const path = await mkdtemp(join(tmpdir(), 'pgdrill-test-tmpfs-'));
  await chmod(path, 0o755);
  await runProcess({ bin: '/bin/mount', args: ['-t', 'tmpfs', '-o', `size=${size},mode=0777`, 'tmpfs', path] });
  return {
    path,
    [Symbol.asyncDispose]: async () => {
      await runProcess({ bin: '/bin/umount', args: [path], allowFailure: true });
      await rm(path, { recursive: true, force: true });
    },
  };
}

/** Bytes a process has written (/proc/<pid>/io wchar); null once it is gone. */
async function written(pid: number): Promise<number | null> {
  const io = await readFile(`/proc/${pid}/io`, 'utf8').catch(() => null);
  const m = io && /^wchar: (\d+)$/m.exec(io);
  return m ? Number(m[1]) : null;
}

/**
 * Start a drill, hold pg_dump at its LOCK TABLE phase (a lock on the source's `public.rental`) until it is found and
 * stopped (SIGSTOP), then let it go on in steps of a few milliseconds until it has written 64 KiB of its file, call
 * `fault(pgDumpPid)` while it is stopped, and let it go on. pg_dump writes its file at its own pace (a pagila dump
 * takes a fraction of a second), so only holding and stepping it catches it mid-dump whatever the machine's speed.
 */
async function drillWithFaultMidDump(source: SandboxCluster, args: string[], fault: (pgDumpPid: number) => Promise<void>): Promise<{ run: CliRun; wcharAtFault: number }> {
  let cliPid = 0;
  const holder = await holdLock(source, 'pagila', 'public.rental');
  let run: Promise<CliRun>;
  let pgDump: number;
  try {
    run = runCli(args, { onStderr: (_s, pid) => void (cliPid = pid) });
    pgDump = await waitFor('pg_dump to start', async () => {
      if (!cliPid) return null;
      for (const p of await descendants(cliPid)) {
        const cmd = await cmdline(p);
        // The data dump (fidelity runs a --schema-only one in the same snapshot too).
        if (/pg_dump .*--snapshot=/.test(cmd) && !/--schema-only/.test(cmd)) return p;
      }
      return null;
    }, 60_000);
    process.kill(pgDump, 'SIGSTOP');
  } finally {
    await holder.release();
  }
  let wcharAtFault: number;
  try {
    for (let step = 0; ; step++) {
      const w = await written(pgDump);
      if (w === null) throw new Error('pg_dump ended before it could be stopped mid-dump');
      if (w >= 65536) {
        wcharAtFault = w;
        break;
      }
      if (step > 20_000) throw new Error(`pg_dump wrote only ${w} bytes`);
      process.kill(pgDump, 'SIGCONT');
      await new Promise((r) => setTimeout(r, 2));
      process.kill(pgDump, 'SIGSTOP');
    }
    await fault(pgDump);
  } finally {
    try {
      process.kill(pgDump, 'SIGCONT');
    } catch {
      /* killed by the fault */
    }
  }
  return { run: await run!, wcharAtFault };
}

/** The drill's report; when there is none, the error says what pgdrill printed (a crash leaves no report). */
async function reportOf(out: string, run: CliRun): Promise<Report> {
  const [runDir] = (await readdir(out)).filter((f) => !f.startsWith('.'));
  const text = await readFile(join(out, runDir!, 'report.json'), 'utf8').catch((err: Error) => {
    throw new Error(`${err.message}\n--- pgdrill exited ${run.code}; its stderr ---\n${run.stderr}`);
  });
  return ReportSchema.parse(JSON.parse(text));
}

/** No dump presented as a backup: no dump file, no .partial, nothing listed in SHA256SUMS. */
async function assertNoDumpPresented(report: Report): Promise<void> {
  const files = await readdir(report.run.dir);
  assert.ok(!files.some((f) => /\.(sql|dump|dir|partial)$/.test(f) && !f.endsWith('.globals.sql')), files.join(' '));
  assert.ok(!files.includes('SHA256SUMS'), files.join(' '));
  assert.equal(report.backup.path, null);
  assert.equal(report.status, 'FAIL');
  assert.equal(report.checks.find((c) => c.name === 'restore.skipped')?.status, 'skip');
  await assertNothingLeft(report);
}

/** The sandbox — started early by the overlapped restore, or not at all — is gone: process and directories. */
async function assertNothingLeft(report: Report): Promise<void> {
  assert.equal(report.teardown.confirmed, true, report.teardown.detail);
  if (report.teardown.postmaster_pid) assert.equal(isAlive(report.teardown.postmaster_pid), false);
  for (const d of [report.restore?.data_dir, report.restore?.socket_dir]) if (d) assert.equal(await exists(d), false, d);
  assert.deepEqual(await processesMentioning(report.run.dir), []);
}

describe('faults', () => {
  const fx = usePagila();

  test('the source unreachable at start: exit 4 with a clear message, nothing created', async () => {
    await using nowhere = await scratchDir('pgdrill-test-nowhere-');
    const out = join(fx.dir, 'out-unreachable');
    const r = await runCli(['run', '--source', `postgresql://app@/app?host=${nowhere.path}`, '--out', out]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /cannot connect to the source postgresql:\/\/app@\/app\?host=.*: .*ENOENT.*Check the URL, that the server runs, and the credentials/);
    assert.equal(await exists(out), false);
  });

  test('pg_dump killed mid-stream: FAIL naming it, the partial file removed, production untouched', async () => {
    const out = join(fx.dir, 'out-killed');
    const { run, wcharAtFault } = await drillWithFaultMidDump(fx.source, ['run', '--source', urlOf(fx.source, 'pagila'), '--out', out], async (pid) => {
      process.kill(pid, 'SIGKILL');
    });
    assert.ok(wcharAtFault > 0, 'pg_dump had streamed bytes when it was killed');
    assert.equal(run.code, 1, run.stderr);
    const report = await reportOf(out, run);
    const c = report.checks.find((x) => x.name === 'backup.error');
    assert.match(c?.detail ?? '', /pg_dump was killed by SIGKILL/);
    assert.equal(report.checks.find((x) => x.name === 'backup.pg_dump'), undefined, 'a killed pg_dump is no backup.pg_dump: it never fails, backup.error does');
    await assertNoDumpPresented(report);
    assert.equal(report.production_untouched, true);
    await waitForNoPgdrillSessions(fx.source);
  });

  test('the disk full while dumping: FAIL naming ENOSPC, nothing half-written presented, no sandbox', async (t: TestContext) => {
    if (!isRoot) return t.skip('mounting a tmpfs needs root');
    await using fs = await tmpfs('1m');
    const r = await runCli(['run', '--source', urlOf(fx.source, 'pagila'), '--out', fs.path]);
    assert.equal(r.code, 1, r.stderr);
    const report = await reportOf(fs.path, r);
    const c = report.checks.find((x) => x.name === 'backup.error');
    assert.match(c?.detail ?? '', /ENOSPC|No space left on device/);
    assert.match(c?.detail ?? '', new RegExp(`file system ${fs.path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(tmpfs\\): .* free of 1\\.0 MiB`), 'the detail names the file system and its space');
    await assertNoDumpPresented(report);
    assert.equal(report.restore, null, 'no sandbox was started');
    assert.deepEqual(await processesMentioning(fs.path), []);
  });

  test('the disk full when the sandbox starts: exit 4 with initdb\'s message (or FAIL naming ENOSPC), nothing left', async (t: TestContext) => {
    if (!isRoot) return t.skip('mounting a tmpfs needs root');
    // Room for the dump (~3.5 MB), not for a cluster (initdb needs ~40 MB). The sandbox starts while the source is
    // dumped (overlapped restore), so whichever fills the disk first fails: initdb (exit 4) or, if initdb's files
    // took the last byte just then, the dump (exit 1). Either way nothing half-made is left or presented.
    await using fs = await tmpfs('8m');
    // The run directory is private (0700), so the sandbox lives in the temp directory: TMPDIR puts it on the tmpfs.
    const r = await runCli(['run', '--source', urlOf(fx.source, 'pagila'), '--out', fs.path], { env: { TMPDIR: fs.path } });
    const report = await reportOf(fs.path, r);
    t.diagnostic(`exit ${r.code}`);
    if (r.code === 4) {
      assert.match(r.stderr, /initdb of the sandbox failed[\s\S]*No space left on device/);
      assert.equal(report.backup.self_check, true, 'the whole dump was kept: complete and checksummed');
    } else {
      assert.equal(r.code, 1, r.stderr);
      assert.match(report.checks.find((x) => x.name === 'backup.error')?.detail ?? '', /ENOSPC|No space left on device/);
      await assertNoDumpPresented(report);
    }
    assert.equal(report.status, 'FAIL');
    assert.equal(report.teardown.confirmed, true, report.teardown.detail);
    const files = await readdir(report.run.dir);
    assert.ok(!files.some((f) => f.startsWith('sandbox-') || f.endsWith('.partial')), files.join(' '));
    assert.deepEqual(await processesMentioning(fs.path), []);
  });

  describe('a sandbox that will not start: EnvironmentError (exit 4) with the cluster log tail, nothing left', () => {
    let parent: string;
    before(async () => {
      parent = await mkdtemp(join(tmpdir(), 'pgdrill-test-nostart-'));
      await chmod(parent, 0o755);
    });
    after(() => rm(parent, { recursive: true, force: true }));

    test('its socket is taken by another server', async () => {
      const b = await bins();
      // The source's socket directory: its lock file says a live postmaster owns port 5432 there.
      const err = await SandboxCluster.start({ bins: b, parentDir: parent, osUser: await resolveSandboxUser(), logger: silentLogger, settings: { unix_socket_directories: `'${fx.source.socketDir}'` } })
        .then(() => null, (e: unknown) => e);
      assert.ok(err instanceof EnvironmentError, String(err));
      assert.equal(err.exitCode, 4);
      // Without a mount namespace the lock file is found taken; in a bwrap jail the other server's socket directory
      // is not even there.
      assert.match(err.message, /the sandbox cluster would not start\n--- log tail ---\n[\s\S]*lock file "[^"]*\.s\.PGSQL\.5432\.lock"(?: already exists|: No such file or directory)/);
      assert.deepEqual(await readdir(parent), []);
      assert.deepEqual(await processesMentioning(parent), []);
    });

    test('initdb fails', async () => {
      const b = await bins();
      const err = await SandboxCluster.start({ bins: b, parentDir: parent, osUser: await resolveSandboxUser(), logger: silentLogger, superuser: 'pg_nope' })
        .then(() => null, (e: unknown) => e);
      assert.ok(err instanceof EnvironmentError, String(err));
      assert.match(err.message, /initdb of the sandbox failed\n--- log tail ---\n[\s\S]*role names cannot begin with "pg_"/);
      assert.deepEqual(await readdir(parent), []);
    });
  });

  test('a sandbox that cannot be removed (a mount inside it): teardown.confirmed FAILs naming the directory, postmaster gone', async (t: TestContext) => {
    if (!isRoot) return t.skip('mounting a tmpfs needs root');
    let mountPoint: string | null = null;
    try {
      const { report, exitCode } = await runDrill({
        source: urlOf(fx.source, 'pagila'), outDir: join(fx.dir, 'out-unremovable'),
        afterRestore: async (copy) => {
          mountPoint = join(dirname(copy.dataDir), 'pgdrill-test-mount');
          await mkdir(mountPoint);
          await runProcess({ bin: '/bin/mount', args: ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint] });
        },
      });
      assert.equal(exitCode, 1);
      assert.deepEqual(report.checks.filter((c) => c.status === 'fail').map((c) => c.name), ['teardown.confirmed']);
      assert.equal(report.teardown.confirmed, false);
      // Refused before rm runs (rm would walk into a bind mount of the same file system): nothing below it is removed.
      assert.match(report.teardown.detail, /^NOT confirmed: process gone, data dir PRESENT, socket dir gone \(removing \S+ failed: not removing \S+: \S+pgdrill-test-mount is a mount point inside it \(unmount first\)/);
      assert.equal(isAlive(report.teardown.postmaster_pid!), false);
    } finally {
      if (mountPoint) {
        await runProcess({ bin: '/bin/umount', args: [mountPoint], allowFailure: true });
        await rm(dirname(mountPoint), { recursive: true, force: true });
      }
    }
  });

  // Last: it stops the fx.source.
  test('the source stopped mid-dump: FAIL with pg_dump\'s message, no dump, the proof of production says it could not look', async () => {
    const out = join(fx.dir, 'out-stopped');
    const b = await bins();
    const { run } = await drillWithFaultMidDump(fx.source, ['run', '--source', urlOf(fx.source, 'pagila'), '--out', out], async () => {
      await runProcess({ bin: b.path('pg_ctl'), args: ['-D', fx.source.dataDir, '-m', 'fast', '-w', '-t', '60', 'stop'], uid: fx.source.osUser?.uid, gid: fx.source.osUser?.gid });
    });
    assert.equal(run.code, 1, run.stderr);
    const report = await reportOf(out, run);
    const c = report.checks.find((x) => x.name === 'backup.error');
    assert.match(c?.detail ?? '', /pg_dump exited with code 1: [\s\S]*(terminating connection due to administrator command|server closed the connection unexpectedly)/);
    await assertNoDumpPresented(report);
    assert.equal(report.production_untouched, false);
    assert.match(report.checks.find((x) => x.name === 'production.error')?.detail ?? '', /ENOENT|ECONNREFUSED|connect/);
  });
});
