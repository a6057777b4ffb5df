/**
 * A drill job given up after its retries is recorded at once (issue 26): its worker is killed (SIGKILL) mid-drill on
 * every attempt, the lease runs out each time, and when pg-boss fails the job for good a worker records it — verdict
 * error, reason retries_exhausted, the cause naming each dead worker, its host and when its attempt started — so that
 * `fleet status` fails the database (exit 1) and `fleet report` shows it, instead of it turning stale a period later.
 * Two workers sweeping at once record it once.
 *
 * The queue's retry limit is 3 (4 attempts); this test lowers its job's to 2 (3 attempts, 3 workers killed) to keep
 * the run short: the count is pg-boss's, the path is the same.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { runCli } from '../helpers/cli.js';
import { psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { descendants, holdLock, waitFor, waitForPgdrillLockWait } from '../helpers/safety.js';
import { drillJobs, startWorker, type TestWorker } from '../helpers/fleet-worker.js';
import { isAlive } from '../../src/exec/process-liveness.js';
import { parseMetrics } from '../../src/outputs/metrics.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';

describe('a job whose worker dies on every attempt is recorded as given up, at once', { concurrency: false }, () => {
  let dir: { path: string } & AsyncDisposable;
  let c: SandboxCluster;
  let queueUrl: string;
  const workers: TestWorker[] = [];
  const coord = (sql: string) => psql(c, 'coord', { sql });
  const spawnWorker = (name: string) => {
    const w = startWorker(queueUrl, join(dir.path, `${name}-out`), join(dir.path, `${name}-state`), [], { PGDRILL_DEBUG: '' });
    workers.push(w);
    return w;
  };

  before(async () => {
    dir = await scratchDir('pgdrill-fleet-exhausted-');
    c = await startSource({ parentDir: dir.path, label: 'fleet-exhausted' });
    await psql(c, 'postgres', { sql: 'CREATE DATABASE coord' });
    await psql(c, 'postgres', { sql: 'CREATE DATABASE doomed' });
    await psql(c, 'doomed', { sql: 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 50);' });
    queueUrl = urlOf(c, 'coord');
    const fleetFile = join(dir.path, 'fleet.yaml');
    await writeFile(fleetFile, `limits: { lease: 10s }\ndatabases:\n  - { name: doomed, source: "${urlOf(c, 'doomed')}", schedule: every 1h }\n`);
    const sync = await runCli(['fleet', 'sync', '--fleet', fleetFile, '--queue', queueUrl]);
    assert.equal(sync.code, 0, sync.stderr);
  });

  after(async () => {
    for (const w of workers) if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await c?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  test('three workers killed mid-drill: one result, error / retries_exhausted, naming each; status, report and metrics show it', async () => {
    await coord(`UPDATE pgdrill_queue.job SET retry_limit = 2 WHERE name = 'pgdrill-drill'`);
    // Every attempt stays mid-drill: its pg_dump waits for this lock until its worker is killed.
    const lock = await holdLock(c, 'doomed', 't');
    const killed: TestWorker[] = [];
    try {
      for (let i = 1; i <= 3; i++) {
        const w = spawnWorker(`w${i}`);
        await waitFor(`w${i} drilling doomed`, async () => /doomed: run started/.test(w.log), 90_000, 200);
        await waitForPgdrillLockWait(c);
        const drill = await waitFor('its drill process', async () => (await descendants(w.proc.pid!)).find(Boolean), 20_000, 50);
        w.proc.kill('SIGKILL');
        await w.exited;
        killed.push(w);
        await waitFor('the orphaned drill to stop itself', async () => !isAlive(drill), 60_000, 100);
      }
      // Two workers now: the first's maintenance fails the job for good (its third lease ran out); both sweep.
      const [w4, w5] = [spawnWorker('w4'), spawnWorker('w5')];
      const failed = await waitFor('the job failed', async () => (await drillJobs(c, 'coord')).find((j) => j.state === 'failed'), 90_000, 300);
      assert.equal(failed.retry_count, 2);
      const stored = await waitFor('the given-up job recorded', async () => {
        const out = await coord(`SELECT coalesce(json_agg(json_build_object('verdict', verdict, 'reason', reason, 'job_id', job_id, 'host', host, 'worker', worker, 'message', summary->>'message')), '[]') FROM pgdrill_fleet.results WHERE database_key = 'doomed'`);
        const rows = JSON.parse(out) as { verdict: string; reason: string; job_id: string; host: string; worker: string; message: string }[];
        return rows.length > 0 && rows;
      }, 30_000, 300);
      await new Promise((r) => setTimeout(r, 3000)); // both workers swept again meanwhile
      const again = await coord(`SELECT count(*) FROM pgdrill_fleet.results WHERE database_key = 'doomed'`);
      assert.equal(again.trim(), '1', 'recorded once, though two workers sweep');
      const [r] = stored;
      assert.deepEqual([r?.verdict, r?.reason, r?.job_id], ['error', 'retries_exhausted', failed.id]);
      assert.match(r?.message ?? '', /^given up after 3 attempts: the drill's worker died 3 times \(its lease ran out\): /);
      for (const w of killed) assert.ok(r?.message.includes(`${hostname()}:${w.proc.pid} on ${hostname()}, started 20`), `${w.proc.pid} named: ${r?.message}`);
      assert.equal(r?.worker, `${hostname()}:${killed[2]!.proc.pid}`, 'the last attempt\'s worker');
      assert.equal((await coord(`SELECT count(*) FROM pgdrill_queue.fleet_attempt`)).trim(), '0', 'its attempts are not kept');
      assert.match(w4.log + w5.log, /doomed: recorded as error: given up after 3 attempts/);

      const status = await runCli(['fleet', 'status', '--queue', queueUrl]);
      assert.equal(status.code, 1, status.stdout + status.stderr);
      assert.match(status.stdout, /^FAILING doomed +the newest drill \(\S+ on \S+\) was given up after its retries: given up after 3 attempts: the drill's worker died 3 times/m);
      const json = JSON.parse((await runCli(['fleet', 'status', '--queue', queueUrl, '--json'])).stdout) as { databases: { latest: { verdict: string; reason: string; job_id: string } }[] };
      assert.deepEqual(json.databases[0]?.latest && [json.databases[0].latest.verdict, json.databases[0].latest.reason, json.databases[0].latest.job_id], ['error', 'retries_exhausted', failed.id]);
      const page = join(dir.path, 'fleet.html');
      const prom = join(dir.path, 'fleet.prom');
      const report = await runCli(['fleet', 'report', '--queue', queueUrl, '--html', page, '--metrics', prom]);
      assert.equal(report.code, 0, report.stderr);
      const html = await readFile(page, 'utf8');
      assert.match(html, /ERROR: RETRIES EXHAUSTED/);
      assert.match(html, /the drill&#39;s worker died 3 times|the drill's worker died 3 times/);
      const samples = parseMetrics(await readFile(prom, 'utf8')) ?? [];
      assert.deepEqual(samples.filter((s) => s.name === 'pgdrill_fleet_last_run_verdict').map((s) => [s.labels.database, s.labels.verdict, s.labels.reason]), [['doomed', 'error', 'retries_exhausted']]);
      assert.deepEqual(samples.filter((s) => s.name === 'pgdrill_fleet_database_ok').map((s) => s.value), [0]);
      for (const w of [w4, w5]) w.proc.kill('SIGTERM');
      for (const w of [w4, w5]) assert.equal(await w.exited, 0, w.log.slice(-1500));
    } finally {
      await lock.release();
    }
  });
});
