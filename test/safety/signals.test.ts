/**
 * SIGINT and SIGTERM in every stage, SIGHUP (a dropped ssh session) like SIGTERM, stdout/stderr closed by the reader, and SIGKILL mid-restore followed by `pgdrill cleanup`. Each stage is held
 * still by the server itself, not by a hook in pgdrill: a lock another session holds makes the stage wait (on the
 * source for guard, backup and production; in the sandbox for fidelity), and the test signals pgdrill once the
 * server shows it waiting; the restore stage waits for the replay's psql, stopped by the test (SIGSTOP). Content (a moment of parsing) is signalled at its stage line. After every interrupt:
 * exit 130/143, teardown confirmed, no postgres process or sandbox directory left, no pgdrill session left on the
 * source, and the report — when there is one — says interrupted.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI, runCli, type CliRun } from '../helpers/cli.js';
import { runProcess } from '../../src/exec/run-process.js';
import { scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { exists, processesMentioning } from '../helpers/leftovers.js';
import { cmdline, createAppDatabase, descendants, holdLock, stderrWatcher, waitFor, waitForNoPgdrillSessions, waitForPgdrillLockWait, pgdrillSessions } from '../helpers/safety.js';
import { DbSession } from '../../src/pg/client.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { isAlive } from '../../src/exec/process-liveness.js';
import { drillLockPath } from '../../src/out-dir/drill-lock.js';
import { ReportSchema, type Report } from '../../src/report/model.js';

describe('signals', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  let slowLocks: string;
  before(async () => {
    dir = await scratchDir();
    // A small application database: each stage is held by a lock, so the data need not be big to last.
    source = await startSource({ parentDir: dir.path });
    await createAppDatabase(source, 'shop');
    slowLocks = join(dir.path, 'slow-locks.yaml');
    await writeFile(slowLocks, 'backup:\n  lock_wait_timeout: 60s\n');
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  async function reportIn(out: string): Promise<Report | null> {
    const runs = (await readdir(out).catch(() => [] as string[])).filter((f) => !f.startsWith('.'));
    if (!runs.length) return null;
    const text = await readFile(join(out, runs[0]!, 'report.json'), 'utf8').catch(() => null);
    return text ? ReportSchema.parse(JSON.parse(text)) : null;
  }

  /** What every interrupted drill must leave: the exit code, a confirmed teardown, nothing running or on disk. */
  async function assertInterrupted(r: CliRun, out: string, sig: 'SIGINT' | 'SIGTERM' | 'SIGHUP', opts: { report: boolean }): Promise<Report | null> {
    assert.equal(r.code, { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 }[sig], r.stderr);
    assert.match(r.stderr, new RegExp(`pgdrill: interrupted by ${sig}; sandbox torn down`));
    const report = await reportIn(out);
    if (opts.report) {
      assert.ok(report, 'a report was written');
      assert.equal(report.interrupted, true);
      assert.equal(report.status, 'FAIL');
      assert.equal(report.teardown.confirmed, true, report.teardown.detail);
      if (report.restore?.data_dir) assert.equal(await exists(report.restore.data_dir), false);
      if (report.restore?.socket_dir) assert.equal(await exists(report.restore.socket_dir), false);
      const files = await readdir(report.run.dir);
      assert.ok(!files.some((f) => f.startsWith('sandbox-') || f.endsWith('.partial')), files.join(' '));
      assert.match(await readFile(join(report.run.dir, 'report.md'), 'utf8'), /interrupted: true/);
    } else {
      assert.equal(report, null);
    }
    assert.deepEqual(await processesMentioning(out), []);
    assert.equal(await exists(drillLockPath(out, 'shop')), false, 'the drill lock was released');
    await waitForNoPgdrillSessions(source);
    return report;
  }

  test('SIGINT in guard (waiting for a catalog lock): exit 130, nothing created', async () => {
    const out = join(dir.path, 'out-guard');
    // The guard's catalog fingerprint reads pg_policy: hold it and the guard waits.
    const holder = await holdLock(source, 'shop', 'pg_catalog.pg_policy');
    const w = stderrWatcher();
    try {
      const run = runCli(['run', '--source', urlOf(source, 'shop'), '--config', slowLocks, '--out', out], { onStderr: w.onStderr });
      const { pid } = await w.next(/^pgdrill: guard/);
      await waitForPgdrillLockWait(source);
      process.kill(pid, 'SIGINT');
      await assertInterrupted(await run, out, 'SIGINT', { report: false });
    } finally {
      await holder.release();
    }
  });

  test('SIGTERM in backup (pg_dump waiting for a table lock): exit 143, no dump, pg_dump gone', async () => {
    const out = join(dir.path, 'out-backup');
    const holder = await holdLock(source, 'shop', 'public.orders');
    const w = stderrWatcher();
    try {
      const run = runCli(['run', '--source', urlOf(source, 'shop'), '--config', slowLocks, '--out', out], { onStderr: w.onStderr });
      const { pid } = await w.next(/^pgdrill: backup/);
      await waitForPgdrillLockWait(source);
      process.kill(pid, 'SIGTERM');
      const report = (await assertInterrupted(await run, out, 'SIGTERM', { report: true }))!;
      assert.equal(report.backup.path, null);
      assert.deepEqual((await readdir(report.run.dir)).filter((f) => f.endsWith('.sql') && !f.endsWith('.globals.sql')), []);
      assert.equal(report.stages.find((s) => s.name === 'backup')?.status, 'fail');
      assert.ok(!report.stages.some((s) => s.name === 'restore' && s.status !== 'skip'));
      assert.equal(report.production_untouched, true, 'the proof of production still runs after an interrupt');
    } finally {
      await holder.release();
    }
  });

  test('SIGINT at the start of content: exit 130, the sandbox (if any) torn down', async (t: TestContext) => {
    const out = join(dir.path, 'out-content');
    const w = stderrWatcher();
    const run = runCli(['run', '--source', urlOf(source, 'shop'), '--format', 'custom', '--out', out], { onStderr: w.onStderr });
    const { pid } = await w.next(/^pgdrill: content/);
    process.kill(pid, 'SIGINT');
    const report = (await assertInterrupted(await run, out, 'SIGINT', { report: true }))!;
    assert.ok(report.stages.some((s) => s.name === 'content'));
    t.diagnostic(`stages: ${report.stages.map((s) => `${s.name}:${s.status}`).join(' ')}`);
  });

  /** Lock `table` ACCESS EXCLUSIVE in the restored database of a running sandbox (reached through its socket). */
  async function lockInSandbox(socketDir: string, table: string): Promise<DbSession> {
    return waitFor(`${table} lockable in the sandbox`, async () => {
      const db = await DbSession.open({ host: socketDir, port: 5432, user: 'pgdrill', database: 'shop', application_name: 'lock-holder' });
      try {
        await db.query('BEGIN');
        await db.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
        return db;
      } catch (err) {
        await db.close();
        throw err;
      }
    });
  }

  /** Wait until some session of the sandbox waits for `table` in the restored database. */
  function waitForSandboxWaiter(lock: DbSession, table: string): Promise<unknown> {
    return waitFor(`a pgdrill session waiting for ${table}`, async () =>
      Number(await lock.value(`SELECT count(*) FROM pg_locks WHERE relation = '${table}'::regclass AND NOT granted
                                  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)) > 0);
  }

  // SIGHUP (a dropped ssh session) tears down exactly like SIGTERM.
  for (const [signal, code] of [['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    test(`${signal} in restore (waiting for the replay, its psql stopped): exit ${code}, psql and sandbox gone`, async () => {
      const out = join(dir.path, `out-restore-${signal}`);
      const w = stderrWatcher();
      const run = runCli(['run', '--source', urlOf(source, 'shop'), '--out', out], { env: { PGDRILL_DEBUG: '1' }, onStderr: w.onStderr });
      // The replay is one transaction that commits at its end: stopping its psql (SIGSTOP) as soon as it runs holds
      // the restore stage at its start, waiting for the replay, while pg_dump writes its file at its own pace.
      const { line, pid } = await w.next(/overlapped restore: psql \(pid \d+\)/);
      const psqlPid = Number(/psql \(pid (\d+)\)/.exec(line)![1]);
      process.kill(psqlPid, 'SIGSTOP');
      await w.next(/^pgdrill: restore/);
      process.kill(pid, signal);
      const report = (await assertInterrupted(await run, out, signal, { report: true }))!;
      assert.equal(report.stages.find((s) => s.name === 'restore')?.status, 'fail');
      assert.ok(!report.checks.some((c) => c.name === 'fidelity.row_counts'), 'the counts had not run');
      await waitFor('the stopped psql to be gone', async () => !isAlive(psqlPid), 10_000);
      assert.ok(report.teardown.postmaster_pid && !isAlive(report.teardown.postmaster_pid));
    });
  }

  test('SIGHUP in backup (pg_dump waiting for a table lock): exit 129, no dump, no .partial, pg_dump gone', async () => {
    const out = join(dir.path, 'out-hup-backup');
    const holder = await holdLock(source, 'shop', 'public.orders');
    const w = stderrWatcher();
    try {
      const run = runCli(['run', '--source', urlOf(source, 'shop'), '--config', slowLocks, '--format', 'custom', '--out', out], { onStderr: w.onStderr });
      const { pid } = await w.next(/^pgdrill: backup/);
      await waitForPgdrillLockWait(source);
      process.kill(pid, 'SIGHUP');
      const report = (await assertInterrupted(await run, out, 'SIGHUP', { report: true }))!;
      assert.equal(report.backup.path, null);
    } finally {
      await holder.release();
    }
  });

  test('stdout and stderr closed early (`--json 2>&1 | head -c 100`): exit 0, the drill completes its report', async () => {
    const out = join(dir.path, 'out-pipe');
    // bash reports pgdrill's own exit status (PIPESTATUS[0]); head exits after 100 bytes, closing the pipe on pgdrill.
    const r = await runProcess({
      bin: '/bin/bash', args: ['-c', `"${process.execPath}" "${CLI}" run --source "$SRC" --out "$OUT" --json 2>&1 | head -c 100 >/dev/null; exit \${PIPESTATUS[0]}`],
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', SRC: urlOf(source, 'shop'), OUT: out }, allowFailure: true, stdout: 'capture',
    });
    assert.equal(r.exitCode, 0, r.stdout);
    const report = await reportIn(out);
    assert.ok(report, 'the report was written');
    assert.equal(report.status, 'PASS');
    assert.equal(report.teardown.confirmed, true);
    assert.equal(await exists(drillLockPath(out, 'shop')), false);
  });

  test('SIGINT in fidelity (a restored table locked in the sandbox): exit 130, sandbox stopped and removed', async () => {
    const out = join(dir.path, 'out-fidelity');
    const w = stderrWatcher();
    const run = runCli(['run', '--source', urlOf(source, 'shop'), '--out', out], { env: { PGDRILL_DEBUG: '1' }, onStderr: w.onStderr });
    const { line, pid } = await w.next(/sandbox started: pid \d+, socket \S+,/);
    // The restored database's pg_policy: nothing of the restore (no policies here) reads it, fidelity's catalog
    // comparison and its round trip's pg_dump do. Held from the start, it stops the drill at fidelity's first read.
    const lock = await lockInSandbox(/socket (\S+),/.exec(line)![1]!, 'pg_catalog.pg_policy');
    try {
      await w.next(/^pgdrill: fidelity/);
      await waitForSandboxWaiter(lock, 'pg_catalog.pg_policy');
      // The counts run beside the read-back (and the catalog read held above): interrupted once they have ended.
      await w.next(/fidelity: row counts done/);
      process.kill(pid, 'SIGINT');
      const report = (await assertInterrupted(await run, out, 'SIGINT', { report: true }))!;
      assert.equal(report.stages.find((s) => s.name === 'fidelity')?.status, 'fail');
      assert.equal(report.checks.find((c) => c.name === 'fidelity.row_counts')?.status, 'pass', 'the counts, beside the catalog read, had ended');
    } finally {
      await lock.close();
    }
  });

  test('SIGTERM in production (its fingerprint waiting for a catalog lock): exit 143, report says interrupted', async () => {
    const out = join(dir.path, 'out-production');
    const w = stderrWatcher();
    const run = runCli(['run', '--source', urlOf(source, 'shop'), '--config', slowLocks, '--out', out], { onStderr: w.onStderr });
    await w.next(/^pgdrill: restore/);
    // Everything pgdrill does on the source before the proof is over once its sessions are gone (the footprint
    // meter's too: it ends with pg_dump's): then lock.
    await waitFor('the backup to leave the source', async () => (await pgdrillSessions(source)).length === 0);
    const holder = await holdLock(source, 'shop', 'pg_catalog.pg_policy');
    try {
      const { pid } = await w.next(/^pgdrill: production/);
      await waitForPgdrillLockWait(source);
      process.kill(pid, 'SIGTERM');
      const report = (await assertInterrupted(await run, out, 'SIGTERM', { report: true }))!;
      assert.equal(report.production_untouched, false, 'not proven: the proof was interrupted');
      assert.match(report.checks.find((c) => c.name === 'production.error')?.detail ?? '', /interrupted by SIGTERM/);
      assert.equal(report.checks.find((c) => c.name === 'fidelity.row_counts')?.status, 'pass', 'everything before it ran');
    } finally {
      await holder.release();
    }
  });

  test('a second SIGTERM forces the exit when the first teardown is stuck (the source frozen): sandbox and pg_dump gone', async () => {
    const out = join(dir.path, 'out-forced');
    const holder = await holdLock(source, 'shop', 'public.orders');
    const w = stderrWatcher();
    const frozen: number[] = [];
    let run: Promise<CliRun> | undefined;
    try {
      run = runCli(['run', '--source', urlOf(source, 'shop'), '--config', slowLocks, '--out', out], { env: { PGDRILL_DEBUG: '1' }, onStderr: w.onStderr });
      const { line, pid } = await w.next(/sandbox started: pid \d+/);
      const postmaster = Number(/pid (\d+)/.exec(line)![1]);
      await w.next(/^pgdrill: backup/);
      await waitForPgdrillLockWait(source);
      const partial = await waitFor('pg_dump to begin its file', async () => {
        const runs = (await readdir(out)).filter((f) => f.startsWith('shop-'));
        return runs.length ? (await readdir(join(out, runs[0]!))).find((f) => f.endsWith('.sql.partial')) : null;
      });
      const dumpers: number[] = [];
      for (const p of await descendants(pid)) if (/pg_dump /.test(await cmdline(p))) dumpers.push(p);
      assert.ok(dumpers.length, `pg_dump runs (writing ${partial})`);
      // Freeze the source (its postmaster and every backend): the orderly teardown of the first signal proves
      // production untouched on it, and waits for it.
      const srcPostmaster = Number((await readFile(join(source.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
      for (const p of [srcPostmaster, ...(await descendants(srcPostmaster))]) {
        try {
          process.kill(p, 'SIGSTOP');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ESRCH') continue; // a session that ended since it was listed
          throw err;
        }
        frozen.push(p);
      }
      process.kill(pid, 'SIGTERM');
      await w.next(/^pgdrill: SIGTERM received/);
      process.kill(pid, 'SIGTERM');
      // Forced means without waiting for the frozen source: a generous bound, not a timing (the source stays frozen).
      const r = await Promise.race([run, new Promise<null>((res) => setTimeout(() => res(null), 30_000).unref())]);
      assert.ok(r, 'pgdrill exited after the second SIGTERM, the source still frozen');
      assert.equal(r.code, 143, r.stderr);
      assert.equal(r.stderr.match(/SIGTERM received/g)?.length, 2, r.stderr);
      // Forced: no orderly report (it would need the frozen source), but nothing of the drill left running or on disk.
      assert.equal(await reportIn(out), null);
      assert.ok(!isAlive(postmaster), 'the sandbox postmaster is gone');
      for (const d of dumpers) assert.ok(!isAlive(d), `pg_dump ${d} is gone`);
      assert.deepEqual(await processesMentioning(out), []);
      // Nor the partial dump pg_dump had begun (it was waiting for the lock): removed once pg_dump was killed.
      const [runDir] = (await readdir(out)).filter((f) => f.startsWith('shop-'));
      assert.deepEqual((await readdir(join(out, runDir!))).filter((f) => f.startsWith('sandbox-') || f.endsWith('.partial')), []);
    } finally {
      for (const p of frozen) process.kill(p, 'SIGCONT');
      await holder.release();
      await run?.catch(() => {});
    }
    await waitForNoPgdrillSessions(source);
  });

  test('SIGKILL mid-restore: `pgdrill cleanup` stops and removes the orphan, and nothing that is not pgdrill\'s', async () => {
    const out = join(dir.path, 'out-kill');
    await mkdir(out, { recursive: true });
    // Decoys: a directory in the out directory that looks like a sandbox but has no marker, a running cluster whose
    // marker is gone, and a live sandbox whose pgdrill is running (the test's source: its marker names this process).
    const decoyDir = join(out, 'decoy-run', 'sandbox-decoy');
    await mkdir(join(decoyDir, 'data', 'global'), { recursive: true });
    await writeFile(join(decoyDir, 'data', 'PG_VERSION'), '15\n');
    const decoy = await startSource({ parentDir: out, label: 'decoy' });
    await rm(join(decoy.rootDir, 'pgdrill-sandbox.json'));
    const live = source;
    try {
      const w = stderrWatcher();
      const run = runCli(['run', '--source', urlOf(source, 'shop'), '--out', out], { env: { PGDRILL_DEBUG: '1' }, onStderr: w.onStderr });
      const { line } = await w.next(/sandbox started: pid \d+/);
      const postmaster = Number(/pid (\d+)/.exec(line)![1]);
      const { pid } = await w.next(/^pgdrill: restore/);
      process.kill(pid, 'SIGKILL');
      const killed = await run;
      assert.equal(killed.signal, 'SIGKILL');
      assert.ok(isAlive(postmaster), 'the orphaned sandbox is still running');

      const c = await runCli(['cleanup', '--out', out, '--json']);
      assert.equal(c.code, 0, c.stderr);
      const result = JSON.parse(c.stdout) as { items: { kind: string; path: string; action: string; reason: string; postmaster_pid?: number | null }[] };
      const removed = result.items.filter((i) => i.action === 'removed');
      // (Orphans of other killed runs in the temp directory may be removed too: they are pgdrill's.)
      const sandbox = removed.find((i) => i.kind === 'sandbox' && i.postmaster_pid === postmaster);
      assert.ok(sandbox, c.stdout);
      assert.match(sandbox.reason, new RegExp(`orphaned: pgdrill pid ${pid} is gone; postmaster ${postmaster} stopped`));
      await waitFor('the orphan postmaster to exit', async () => !isAlive(postmaster), 15_000);
      assert.equal(await exists(sandbox.path), false);
      assert.ok(removed.some((i) => i.kind === 'drill_lock'), 'the dead drill\'s lock was removed');
      assert.equal(await exists(drillLockPath(out, 'shop')), false);
      // Nothing that is not an orphan of pgdrill was touched.
      assert.equal(await exists(join(decoyDir, 'data', 'PG_VERSION')), true);
      for (const cluster of [decoy, live]) {
        // eslint-disable-next-line no-restricted-syntax -- an error here ends the test: no later iteration runs after it
        await using db = await cluster.open();
        assert.equal(await db.value('SELECT 1'), 1);
        assert.equal(await exists(cluster.dataDir), true);
      }
      assert.ok(result.items.some((i) => i.path === live.rootDir && i.action === 'skipped' && /in use: pgdrill pid \d+ is running/.test(i.reason)));
      assert.ok(!result.items.some((i) => i.path.startsWith(decoy.rootDir) && i.action !== 'skipped'));
      // The killed drill's run directory keeps what it had (its log); no report pretends it finished.
      const [runDir] = (await readdir(out)).filter((f) => f.startsWith('shop-'));
      assert.ok(!(await readdir(join(out, runDir!))).includes('report.json'));
      // A second cleanup finds nothing more to do.
      const again = JSON.parse((await runCli(['cleanup', '--out', out, '--json'])).stdout) as { removed: number };
      assert.equal(again.removed, 0);
    } finally {
      await decoy.stop();
    }
  });
});
