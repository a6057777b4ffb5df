/**
 * The restore sandbox's server killed (SIGKILL, as the OOM killer does) or stopped (SIGINT, what `pg_ctl stop` sends)
 * from outside pgdrill in the middle of a drill of pagila: mid-restore (psql replaying the dump, held with SIGSTOP
 * while its server is killed — or only its backend, as the OOM killer picks it, and the server restarts), once
 * restored (before the catalog is compared), and as the fidelity stage begins.
 * Each is an environment error — exit 4, the report written with `drill.aborted` naming the postmaster and the
 * shutdown request if any, no `restore.errors` of psql's lost connection, teardown confirmed, nothing left running —
 * not a FAIL of the backup. A dump's own error with the server up stays a FAIL (test/drill/restore-errors.test.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, type CliRun } from '../helpers/cli.js';
import { urlOf, usePagila } from '../helpers/clusters.js';
import { processesMentioning } from '../helpers/leftovers.js';
import { cmdline, descendants, holdLock, waitFor } from '../helpers/safety.js';
import { isAlive } from '../../src/exec/process-liveness.js';
import { EnvironmentError } from '../../src/errors.js';
import { ReportSchema, type Report } from '../../src/report/model.js';
import { runDrill } from '../../src/drill/run-drill.js';

/** The postmaster's pid of the data directory `dataDir`. */
const postmasterOf = (dataDir: string) => Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);

/** The only run's report in `out`. */
async function reportIn(out: string): Promise<Report> {
  const runs = (await readdir(out)).filter((f) => !f.startsWith('.'));
  assert.equal(runs.length, 1, runs.join(' '));
  return ReportSchema.parse(JSON.parse(await readFile(join(out, runs[0]!, 'report.json'), 'utf8')));
}

/** An environment ending: drill.aborted says who stopped, no verdict on the dump, the sandbox gone and nothing of it running. */
async function assertStoppedFromOutside(report: Report, pid: number, during: string, request: RegExp | null): Promise<void> {
  const aborted = report.checks.find((c) => c.name === 'drill.aborted')?.detail ?? '';
  assert.match(aborted, new RegExp(`^the sandbox's postmaster \\(pid ${pid}\\) stopped during ${during} and was killed or stopped from outside pgdrill: nothing in its log says the server failed`));
  if (request) assert.match(aborted, request);
  else assert.match(aborted, /no shutdown request in its log: killed outright/);
  assert.equal(report.checks.find((c) => c.name === 'restore.errors' && c.status === 'fail'), undefined, 'psql\'s lost connection is no restore error of the dump');
  assert.equal(report.teardown.confirmed, true, report.teardown.detail);
  assert.equal(isAlive(pid), false);
  for (const d of [report.restore?.data_dir, report.restore?.socket_dir]) if (d) assert.deepEqual(await processesMentioning(d), [], d);
  assert.deepEqual(await processesMentioning(report.run.dir), []);
}

describe('the restore sandbox stopped from outside', () => {
  const fx = usePagila();

  /**
   * `pgdrill run` of pagila, its psql held (SIGSTOP) once started — pg_dump held meanwhile at its LOCK TABLE by a lock
   * the test holds on the source, so psql is caught whatever the machine's speed —, `fault(postmaster)` done, psql
   * let go into the lost connection. The exit code, stderr, report, and the process the fault killed.
   */
  async function runWithFaultMidRestore(out: string, fault: (postmaster: number) => Promise<number>): Promise<{ code: number | null; stderr: string; report: Report; victim: number }> {
    let cliPid = 0;
    let victim: number;
    const holder = await holdLock(fx.source, 'pagila', 'public.rental');
    let run: Promise<CliRun>;
    let psql: number;
    try {
      run = runCli(['run', '--source', urlOf(fx.source, 'pagila'), '--out', out], { onStderr: (_chunk, pid) => void (cliPid = pid) });
      psql = await waitFor('psql to replay the dump', async () => {
        if (!cliPid) return null;
        // The dump's psql (one transaction), not the globals' one, which ends at once.
        for (const p of await descendants(cliPid)) if (/(^|\/)psql .*--single-transaction/.test(await cmdline(p))) return p;
        return null;
      }, 120_000);
      process.kill(psql, 'SIGSTOP');
    } finally {
      await holder.release();
    }
    try {
      const env = (await readFile(`/proc/${psql}/environ`, 'utf8')).split('\0');
      const socketDir = env.find((e) => e.startsWith('PGHOST='))!.slice('PGHOST='.length);
      victim = await fault(Number((await readFile(join(socketDir, '.s.PGSQL.5432.lock'), 'utf8')).split('\n')[0]));
    } finally {
      process.kill(psql, 'SIGCONT');
    }
    const r = await run;
    return { code: r.code, stderr: r.stderr, report: await reportIn(out), victim };
  }

  test('SIGKILL of the sandbox postmaster while psql replays the dump: exit 4, not a FAIL', async (t) => {
    const r = await runWithFaultMidRestore(join(fx.dir, 'out-mid-restore'), async (postmaster) => {
      process.kill(postmaster, 'SIGKILL');
      await waitFor('the postmaster to be gone', async () => !isAlive(postmaster), 10_000);
      return postmaster;
    });
    t.diagnostic(r.stderr.split('\n').filter((l) => /pgdrill:/.test(l)).join('\n'));
    assert.equal(r.code, 4, r.stderr.slice(-3000));
    assert.match(r.stderr, /killed or stopped from outside pgdrill/);
    await assertStoppedFromOutside(r.report, r.victim, 'the restore', null);
  });

  test('SIGKILL of psql\'s backend (as the OOM killer does) while it replays the dump: exit 4 naming the killed process', async (t) => {
    let postmasterPid = 0;
    const r = await runWithFaultMidRestore(join(fx.dir, 'out-backend-killed'), async (postmaster) => {
      postmasterPid = postmaster;
      const backend = await waitFor('psql\'s backend', async () => {
        for (const p of await descendants(postmaster)) if (/^postgres: .*\[local\]/.test(await cmdline(p))) return p;
        return null;
      }, 10_000).catch(async (err: Error) => {
        throw new Error(`${err.message}; the postmaster's processes: ${(await Promise.all((await descendants(postmaster)).map(cmdline))).join(' | ')}`);
      });
      process.kill(backend, 'SIGKILL');
      return backend;
    });
    const aborted = r.report.checks.find((c) => c.name === 'drill.aborted')?.detail ?? '';
    t.diagnostic(aborted);
    assert.equal(r.code, 4, r.stderr.slice(-3000));
    assert.match(aborted, new RegExp(`^a server process of the sandbox was killed from outside pgdrill during the restore: its log says "server process \\(PID ${r.victim}\\) was terminated by signal 9: Killed" \\(SIGKILL: the OOM killer or an admin`));
    assert.equal(r.report.checks.find((c) => c.name === 'restore.errors' && c.status === 'fail'), undefined);
    assert.equal(r.report.teardown.confirmed, true, r.report.teardown.detail);
    assert.equal(isAlive(postmasterPid), false, 'the restarted server is torn down');
    assert.deepEqual(await processesMentioning(r.report.run.dir), []);
  });

  test('pg_ctl stop\'s SIGINT once restored, before the catalog is compared: exit 4 naming the fast shutdown request', async () => {
    const outDir = join(fx.dir, 'out-after-restore');
    let stopped = 0;
    const err = await runDrill({
      source: urlOf(fx.source, 'pagila'), outDir,
      afterRestore: async (copy) => {
        stopped = postmasterOf(copy.dataDir);
        process.kill(stopped, 'SIGINT');
      },
    }).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof EnvironmentError, String(err));
    await assertStoppedFromOutside(await reportIn(outDir), stopped, 'the restore', /its log says "received fast shutdown request"/);
  });

  test('SIGKILL of the sandbox postmaster as the fidelity stage begins: exit 4, the failed checks not the verdict', async () => {
    const outDir = join(fx.dir, 'out-fidelity');
    let dataDir = '';
    let killed = 0;
    const err = await runDrill({
      source: urlOf(fx.source, 'pagila'), outDir,
      afterRestore: async (copy) => void (dataDir = copy.dataDir),
      progress: (e) => {
        if (e.stage !== 'fidelity' || e.state !== 'start' || !dataDir) return;
        killed = postmasterOf(dataDir);
        process.kill(killed, 'SIGKILL');
      },
    }).then(() => null, (e: unknown) => e);
    assert.ok(killed, 'the fidelity stage began');
    assert.ok(err instanceof EnvironmentError, `${String(err)}: ${(await reportIn(outDir)).checks.filter((c) => c.status !== 'pass').map((c) => `${c.name} ${c.status}: ${c.detail.slice(0, 200)}`).join(' | ')}`);
    await assertStoppedFromOutside(await reportIn(outDir), killed, 'the fidelity checks', null);
  });
});
