/**
 * The fleet worker's budgets and hand-backs with real drills (issue 26): one cluster holds the coordination database
 * and three sources; one worker at a time.
 *
 * - `slow` overruns its max_duration: production holds a lock its pg_dump waits for (a legitimate slowness: a
 *   migration, a long transaction) for longer than the budget. It is stopped, leaves nothing running or recorded, its
 *   run directory says it was interrupted, `fleet status` and the results store say "exceeded max_duration".
 * - `fat` grows past its disk_budget (its dump alone is larger): stopped and reported the same way. `calm`, with a
 *   budget it stays within, is not.
 * - A worker stopped by SIGTERM mid-drill hands its job back without counting a retry; the next period of `slow` is
 *   drilled by the next worker, whose job lines are JSON (`--log-format json`). Without PGDRILL_DEBUG, a worker
 *   writes one line per job start and end.
 * - A worker frozen (SIGSTOP) past its lease: the other worker takes the job (pg-boss counts a retry); thawed, the
 *   frozen one cannot renew the other's attempt, drops its drill, records nothing and gives the retry back.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { holdLock, waitFor, waitForPgdrillLockWait } from '../helpers/safety.js';
import { processesMentioning } from '../helpers/leftovers.js';
import { drillJobs, startWorker, type JobRow, type TestWorker } from '../helpers/fleet-worker.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';

const TABLE = (rows: number) => `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, md5(i::text) FROM generate_series(1, ${rows}) i;`;

describe('a worker stops drills over their budgets, and hands back without spending retries', { concurrency: false }, () => {
  let dir: { path: string } & AsyncDisposable;
  let c: SandboxCluster;
  let queueUrl: string;
  let fleetFile: string;
  const workers: TestWorker[] = [];
  const coord = (sql: string) => psql(c, 'coord', { sql });
  const done = async (key: string): Promise<JobRow[]> => (await drillJobs(c, 'coord')).filter((j) => j.key === key && j.state === 'completed');
  const status = async () => {
    const r = await runCli(['fleet', 'status', '--queue', queueUrl, '--json']);
    return new Map((JSON.parse(r.stdout) as { databases: { database: string; state: string; reason: string }[] }).databases.map((d) => [d.database, d]));
  };
  /** Nothing of the worker's drill `job` left running. */
  const nothingRunning = async (w: TestWorker, job: JobRow | undefined) => {
    assert.deepEqual(await processesMentioning(join(w.state, `fleet-job-${job?.id}`)), [], 'no drill process');
    const runDir = job?.output?.runDir;
    if (runDir) assert.deepEqual(await processesMentioning(runDir), [], 'no process of its run directory');
  };
  const spawnWorker = (name: string, extra: string[] = []) => {
    const w = startWorker(queueUrl, join(dir.path, `${name}-out`), join(dir.path, `${name}-state`), ['--disk-poll', '200', ...extra], { PGDRILL_DEBUG: '' });
    workers.push(w);
    return w;
  };

  before(async () => {
    dir = await scratchDir('pgdrill-fleet-budgets-');
    c = await startSource({ parentDir: dir.path, label: 'fleet-budgets' });
    await psql(c, 'postgres', { sql: 'CREATE DATABASE coord' });
    for (const [db, rows] of [['slow', 50], ['fat', 200_000], ['calm', 50]] as const) {
      await psql(c, 'postgres', { sql: `CREATE DATABASE ${db}` });
      await psql(c, db, { sql: TABLE(rows) });
    }
    queueUrl = urlOf(c, 'coord');
    fleetFile = join(dir.path, 'fleet.yaml');
    await writeFile(fleetFile, [
      'defaults: { schedule: every 1h }',
      'limits: { lease: 10s, max_duration: 10m }',
      'databases:',
      `  - { name: slow, source: "${urlOf(c, 'slow')}", priority: 10, max_duration: 20s }`,
      `  - { name: fat, source: "${urlOf(c, 'fat')}", priority: 5, disk_budget: 2MB }`,
      `  - { name: calm, source: "${urlOf(c, 'calm')}", disk_budget: 500MB }`,
      '',
    ].join('\n'));
  });

  after(async () => {
    for (const w of workers) if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await c?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  test('a real drill over its max_duration is stopped, recorded with its cause, and leaves nothing behind', async () => {
    const lock = await holdLock(c, 'slow', 't');
    try {
      const sync = await runCli(['fleet', 'sync', '--fleet', fleetFile, '--queue', queueUrl]);
      assert.equal(sync.code, 0, sync.stderr);
      const w = spawnWorker('w1');
      const [slow] = await waitFor('slow drilled', async () => { const d = await done('slow'); return d.length > 0 && d; }, 120_000, 300);
      assert.equal(slow?.output?.verdict, 'stopped', JSON.stringify(slow?.output));
      assert.equal(slow?.output?.stopReason, 'duration');
      assert.match(slow?.output?.cause ?? '', /^exceeded max_duration 20\.0 s$/);
      // Its run directory says it was interrupted (its teardown ran), and nothing of it is left.
      const report = JSON.parse(await readFile(join(slow?.output?.runDir ?? '', 'report.json'), 'utf8')) as { interrupted: boolean; status: string };
      assert.equal(report.interrupted, true);
      await nothingRunning(w, slow);
      const stored = await coord(`SELECT verdict || ' ' || reason || ' ' || (summary->>'message') FROM pgdrill_fleet.results WHERE database_key = 'slow'`);
      assert.equal(stored.trim(), 'stopped duration exceeded max_duration 20.0 s');
      const s = (await status()).get('slow');
      assert.equal(s?.state, 'failing');
      assert.match(s?.reason ?? '', /was stopped after [\d.]+ m?s: exceeded max_duration 20\.0 s/);
      // The default log: one line when the job starts, one when it ends — no PGDRILL_DEBUG.
      assert.match(w.log, /Z slow: run started \(job [0-9a-f-]+\)/);
      assert.match(w.log, /Z slow: stopped after [\d.]+ m?s \(job [0-9a-f-]+, exit \d+\): exceeded max_duration 20\.0 s; report in /);
    } finally {
      await lock.release();
    }
  });

  test('a drill that grows past its disk_budget is stopped like an overrun; one within its budget is not', async () => {
    const w = workers[0]!;
    const [fat] = await waitFor('fat drilled', async () => { const d = await done('fat'); return d.length > 0 && d; }, 120_000, 300);
    assert.equal(fat?.output?.verdict, 'stopped', JSON.stringify(fat?.output));
    assert.equal(fat?.output?.stopReason, 'disk');
    assert.equal((await coord(`SELECT verdict || ' ' || reason FROM pgdrill_fleet.results WHERE database_key = 'fat'`)).trim(), 'stopped disk');
    assert.match(fat?.output?.cause ?? '', /^exceeded disk_budget 2\.0 MiB: [\d.]+ (KiB|MiB) in \//);
    const [calm] = await waitFor('calm drilled', async () => { const d = await done('calm'); return d.length > 0 && d; }, 120_000, 300);
    assert.equal(calm?.output?.verdict, 'PASS', JSON.stringify(calm?.output));
    await nothingRunning(w, fat);
    // The worker is idle now: none of its three drills left a sandbox behind (a record stays until teardown ends).
    assert.deepEqual(await readdir(join(w.state, 'sandboxes')).catch(() => []), [], 'no sandbox left recorded');
    const states = await status();
    assert.equal(states.get('fat')?.state, 'failing');
    assert.match(states.get('fat')?.reason ?? '', /exceeded disk_budget/);
    assert.equal(states.get('calm')?.state, 'ok');
  });

  test('SIGTERM mid-drill hands the job back without a retry; the next worker drills the next period', async () => {
    const w1 = workers[0]!;
    const lock = await holdLock(c, 'slow', 't');
    const from = w1.log.length;
    await coord(`UPDATE pgdrill_queue.fleet_database SET next_due = now() WHERE id = 'slow'`);
    await waitFor('slow started again', async () => /slow: run started/.test(w1.log.slice(from)), 60_000, 100);
    await waitForPgdrillLockWait(c); // mid-drill: its pg_dump waits for the lock
    w1.proc.kill('SIGTERM');
    assert.equal(await w1.exited, 0, w1.log.slice(-2000));
    assert.match(w1.log.slice(from), /slow: handed_back after [\d.]+ m?s \(job [0-9a-f-]+\): worker stopping/);
    const back = (await drillJobs(c, 'coord')).filter((j) => j.key === 'slow').at(-1);
    assert.equal(back?.state, 'retry');
    assert.equal(back?.retry_count, 0);
    assert.equal(back?.started_on, null, 'handed back as never started: its next fetch counts no retry');
    await lock.release();
    const w2 = spawnWorker('w2', ['--log-format', 'json']);
    const redone = await waitFor('slow drilled again', async () => { const d = await done('slow'); return d.length > 1 && d; }, 120_000, 300);
    const last = redone.at(-1);
    assert.equal(last?.id, back?.id, 'the handed-back job');
    assert.equal(last?.output?.verdict, 'PASS', JSON.stringify(last?.output));
    assert.equal(last?.retry_count, 0, 'the hand-back spent no retry');
    const events = w2.log.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event?: string; database?: string; verdict?: string; jobId?: string; durationMs?: number; level: string; time: string });
    const mine = events.filter((e) => e.database === 'slow');
    assert.deepEqual(mine.map((e) => e.event), ['job_start', 'job_end']);
    assert.equal(mine[1]?.verdict, 'PASS');
    assert.equal(mine[1]?.jobId, last?.id);
    assert.equal(typeof mine[1]?.durationMs, 'number');
    assert.ok(w2.log.split('\n').filter(Boolean).every((l) => l.startsWith('{')), `every line JSON:\n${w2.log.slice(-1500)}`);
    w2.proc.kill('SIGTERM');
    assert.equal(await w2.exited, 0);
  });

  test('a worker frozen past its lease drops its drill and gives the retry back; the other worker completes it', async () => {
    const lock = await holdLock(c, 'calm', 't');
    const w3 = spawnWorker('w3');
    await coord(`UPDATE pgdrill_queue.fleet_database SET next_due = now() WHERE id = 'calm'`);
    await waitFor('w3 drilling calm', async () => /calm: run started/.test(w3.log), 60_000, 100);
    await waitForPgdrillLockWait(c);
    const w4 = spawnWorker('w4');
    w3.proc.kill('SIGSTOP'); // frozen: its lease runs out, w4's maintenance retries the job, w4 fetches it
    try {
      await waitFor('w4 drilling calm', async () => /calm: run started/.test(w4.log), 90_000, 200);
      const taken = (await drillJobs(c, 'coord')).filter((j) => j.key === 'calm').at(-1);
      assert.equal(taken?.retry_count, 1, 'pg-boss counted the expiry as a retry');
    } finally {
      w3.proc.kill('SIGCONT');
    }
    await waitFor('w3 drops its drill', async () => /calm: dropped after [\d.]+ m?s \(job [0-9a-f-]+\): lease lost/.test(w3.log), 60_000, 200);
    const refunded = (await drillJobs(c, 'coord')).filter((j) => j.key === 'calm').at(-1);
    assert.equal(refunded?.state, 'active', 'still w4\'s');
    assert.equal(refunded?.retry_count, 0, 'the retry given back');
    await lock.release();
    const last = await waitFor('calm completed by w4', async () => { const d = await done('calm'); return d.length > 1 && d.at(-1); }, 120_000, 300);
    assert.equal(last.output?.verdict, 'PASS', JSON.stringify(last.output));
    assert.ok(last.output?.worker?.endsWith(`:${w4.proc.pid}`), `completed by w4: ${last.output?.worker}`);
    assert.equal(last.retry_count, 0);
    assert.equal((await coord(`SELECT count(*) FROM pgdrill_fleet.results WHERE database_key = 'calm'`)).trim(), '2', 'the frozen worker recorded nothing');
    for (const w of [w3, w4]) w.proc.kill('SIGTERM');
    for (const w of [w3, w4]) assert.equal(await w.exited, 0, w.log.slice(-1500));
  });
});
