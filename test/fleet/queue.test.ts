/**
 * A simulated fleet on one machine (issue 26): 12 small databases on 2 source clusters, a coordination database
 * whose queue role owns only its two schemas (the queue's and the results'), `fleet sync`, and 3 `pgdrill worker` processes with their own out
 * and state directories. Every database is drilled once per period and never by two workers at once; a worker
 * killed with SIGKILL mid-drill loses its drill to another worker after the lease, and leaves nothing behind; a
 * source made unreachable fails its databases and no other.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI, CLI_NODE_FLAGS, runCli } from '../helpers/cli.js';
import { psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { descendants, waitFor } from '../helpers/safety.js';
import { processesMentioning } from '../helpers/leftovers.js';
import { isAlive } from '../../src/exec/process-liveness.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';

interface JobRow { key: string; state: string; output: { worker?: string; verdict?: string; exitCode?: number | null; startedAt?: string; finishedAt?: string; due?: string; error?: string | null } | null }

interface Worker { readonly name: string; readonly out: string; readonly state: string; proc: ChildProcess; log: string; exited: Promise<number | null> }

const FLEET_SQL = `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, md5(i::text) FROM generate_series(1, 50) i;`;

describe('a fleet of 12 databases, 3 workers, one queue', { concurrency: false }, () => {
  let dir: { path: string } & AsyncDisposable;
  let a: SandboxCluster;
  let b: SandboxCluster;
  let queueUrl: string;
  let fleetFile: string;
  const workers: Worker[] = [];
  const names = [...['a1', 'a2', 'a3', 'a4', 'a5', 'a6'], ...['b1', 'b2', 'b3', 'b4', 'b5', 'b6']];

  const coord = (sql: string) => psql(a, 'coord', { sql });
  const jobs = async (): Promise<JobRow[]> => {
    const out = await coord(`SELECT coalesce(json_agg(json_build_object('key', singleton_key, 'state', state, 'output', output) ORDER BY created_on), '[]') FROM pgdrill_queue.job WHERE name = 'pgdrill-drill'`);
    return JSON.parse(out) as JobRow[];
  };
  const completed = async () => (await jobs()).filter((j) => j.state === 'completed');

  function startWorker(name: string, out = join(dir.path, `${name}-out`), state = join(dir.path, `${name}-state`)): Worker {
    const proc = spawn(process.execPath, [...CLI_NODE_FLAGS, CLI, 'worker', '--queue', queueUrl, '--out', out, '--state-dir', state, '--tick', '1000', '--poll', '300', '--maintenance', '1'], {
      env: { ...process.env, PGDRILL_DEBUG: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const w: Worker = { name, out, state, proc, log: '', exited: new Promise((r) => proc.on('close', (code) => r(code))) };
    proc.stdout?.on('data', (d) => (w.log += d));
    proc.stderr?.on('data', (d) => (w.log += d));
    workers.push(w);
    return w;
  }

  before(async () => {
    dir = await scratchDir('pgdrill-fleet-');
    [a, b] = await Promise.all([startSource({ parentDir: dir.path, label: 'fleet-a' }), startSource({ parentDir: dir.path, label: 'fleet-b' })]);
    // The queue role: a login that owns the queue schema and has no other right (public's CREATE is revoked).
    await psql(a, 'postgres', { sql: 'CREATE ROLE fleet_queue LOGIN' });
    await psql(a, 'postgres', { sql: 'CREATE DATABASE coord' });
    await coord('REVOKE ALL ON SCHEMA public FROM PUBLIC; CREATE SCHEMA pgdrill_queue AUTHORIZATION fleet_queue; CREATE SCHEMA pgdrill_fleet AUTHORIZATION fleet_queue');
    for (const c of [a, b]) {
      await psql(c, 'postgres', { sql: 'CREATE DATABASE tiny' });
      await psql(c, 'tiny', { sql: FLEET_SQL });
    }
    for (const n of names) await psql(n.startsWith('a') ? a : b, 'postgres', { sql: `CREATE DATABASE ${n} TEMPLATE tiny` });
    queueUrl = urlOf(a, 'coord').replace(`${a.superuser}@`, 'fleet_queue@');
    fleetFile = join(dir.path, 'fleet.yaml');
    const dbs = names.map((n) => `  - { name: ${n}, source: "${urlOf(n.startsWith('a') ? a : b, n)}", priority: ${n === 'a1' ? 10 : 0} }`);
    await writeFile(fleetFile, `defaults: { schedule: every 1h }\nlimits: { lease: 10s, max_duration: 4m }\ndatabases:\n${dbs.join('\n')}\n`);
  });

  after(async () => {
    for (const w of workers) if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await Promise.allSettled([a?.stop(), b?.stop()]);
    await dir?.[Symbol.asyncDispose]();
  });

  test('the queue role has no right outside its schema, and a password in --queue is refused (exit 2)', async () => {
    assert.equal(await coord(`SELECT has_schema_privilege('fleet_queue', 'public', 'CREATE') OR has_database_privilege('fleet_queue', 'coord', 'CREATE')`), 'f\n');
    const r = await runCli(['fleet', 'sync', '--fleet', fleetFile, '--queue', queueUrl.replace('fleet_queue@', 'fleet_queue:hunter2@')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /holds a password/);
    assert.ok(!r.stderr.includes('hunter2'));
  });

  test('fleet sync queues every database; 3 workers drill each once for the period, never two at once', async () => {
    const r = await runCli(['fleet', 'sync', '--fleet', fleetFile, '--queue', queueUrl, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const sync = JSON.parse(r.stdout) as { added: string[]; queued: string[] };
    assert.equal(sync.added.length, 12);
    assert.equal(sync.queued.length, 12);
    assert.equal(sync.queued[0], 'a1', 'the highest priority first');
    for (const n of ['w1', 'w2', 'w3']) startWorker(n);
    await waitFor('12 drills recorded', async () => (await completed()).length >= 12, 150_000, 500);
    // A second sync changes nothing and queues nothing: the period is drilled.
    const again = await runCli(['fleet', 'sync', '--fleet', fleetFile, '--queue', queueUrl, '--json']);
    assert.deepEqual((JSON.parse(again.stdout) as { queued: string[] }).queued, []);
    const done = await completed();
    assert.deepEqual(done.map((j) => j.key).sort(), [...names].sort(), 'each database once');
    for (const j of done) assert.equal(j.output?.verdict, 'PASS', `${j.key}: ${JSON.stringify(j.output)}`);
    assert.ok(new Set(done.map((j) => j.output?.worker)).size >= 2, 'the drills were spread over the workers');
  });

  test('a worker killed with SIGKILL mid-drill: its drill stops, another worker drills the database after the lease; nothing left', async () => {
    // Keep a2's drill mid-drill for certain, whatever the machine's load: a session holds a lock pg_dump waits for
    // (within its 30 s lock-wait timeout), released well before the redo's own wait would time out.
    const holder = psql(a, 'a2', { sql: 'BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(15); COMMIT;' }).catch((e: unknown) => e);
    await waitFor('the lock held', async () => (await psql(a, 'a2', { sql: `SELECT count(*) FROM pg_locks WHERE relation = 't'::regclass AND mode = 'AccessExclusiveLock' AND granted` })).trim() === '1', 20_000, 100);
    // Only what the workers log from now on: every worker's log already holds the first period's "a2: run started".
    const logFrom = new Map(workers.map((w) => [w, w.log.length]));
    await coord(`UPDATE pgdrill_queue.fleet_database SET next_due = now() WHERE id = 'a2'`);
    const victim = await waitFor('a worker drilling a2', async () => workers.find((w) => /a2: run started/.test(w.log.slice(logFrom.get(w) ?? 0)) && w.proc.exitCode === null), 60_000, 100);
    const drill = await waitFor('its drill process', async () => (await descendants(victim.proc.pid!)).find(Boolean), 20_000, 50);
    await new Promise((r) => setTimeout(r, 1500)); // mid-drill
    victim.proc.kill('SIGKILL');
    await victim.exited;
    const killedAt = Date.now();
    await waitFor('the orphaned drill to stop itself', async () => !isAlive(drill), 60_000, 100);
    const goneAt = Date.now();
    const redone = await waitFor('a2 drilled again by another worker', async () => {
      const a2 = (await completed()).filter((j) => j.key === 'a2');
      return a2.length >= 2 && a2;
    }, 90_000, 500);
    assert.ok(!((await holder) instanceof Error), 'the lock holder ran to its end');
    const last = redone.at(-1);
    assert.equal(last?.output?.verdict, 'PASS', JSON.stringify(last?.output));
    assert.ok(!last?.output?.worker?.endsWith(`:${victim.proc.pid}`), 'not the dead worker');
    assert.ok(Date.parse(last?.output?.startedAt ?? '') >= killedAt, 'after the kill');
    assert.ok(goneAt - killedAt < 30_000, 'the orphaned drill stopped itself promptly');
    // The next worker on this machine, with the dead one's directories, cleans what is left; then nothing is.
    const next = startWorker('w1-again', victim.out, victim.state);
    await waitFor('the restarted worker up', async () => /slot\(s\)/.test(next.log), 60_000, 100);
    assert.deepEqual(await processesMentioning(join(victim.state, 'fleet-job-')), [], 'no process of the dead worker\'s drill');
    const cleanup = await runCli(['cleanup', '--json', '--out', victim.out], { env: { PGDRILL_STATE_DIR: victim.state } });
    // Only what is provably this worker's counts: the temp directory is shared with whatever else runs here.
    const items = (JSON.parse(cleanup.stdout) as { items: { kind: string; action: string }[] }).items.filter((i) => ['removed', 'would_remove', 'failed'].includes(i.action));
    assert.deepEqual(items, [], 'cleanup finds nothing left');
    assert.deepEqual((await readdir(victim.state)).filter((f) => f.startsWith('fleet-job-')), [], 'no job config left');
    const twin = await runCli(['worker', '--queue', queueUrl, '--out', join(dir.path, 'twin-out'), '--state-dir', victim.state]);
    assert.equal(twin.code, 3, 'one worker per state directory');
    assert.match(twin.stderr, /another worker \(pid \d+\) uses the state directory/);
  });

  test('a source made unreachable: its databases fail, the others pass', async () => {
    const before = (await completed()).length;
    await b.stop();
    // A new period for b's six databases and two of a's.
    await coord(`UPDATE pgdrill_queue.fleet_database SET next_due = now() WHERE id LIKE 'b%' OR id IN ('a1', 'a3')`);
    await waitFor('the new period drilled', async () => (await completed()).length >= before + 8, 150_000, 500);
    const round = (await completed()).slice(before);
    for (const j of round) {
      if (j.key.startsWith('b')) {
        assert.equal(j.output?.verdict, 'error', `${j.key}: ${JSON.stringify(j.output)}`);
        assert.equal(j.output?.exitCode, 4);
        assert.ok(j.output?.error, 'the reason is recorded');
      } else assert.equal(j.output?.verdict, 'PASS', `${j.key}: ${JSON.stringify(j.output)}`);
    }
    // The results store has them too: fleet status fails b's databases, and only those.
    const status = await runCli(['fleet', 'status', '--queue', queueUrl, '--json']);
    assert.equal(status.code, 1, status.stderr);
    const states = Object.fromEntries((JSON.parse(status.stdout) as { databases: { database: string; state: string }[] }).databases.map((d) => [d.database, d.state]));
    for (const n of names) assert.equal(states[n], n.startsWith('b') ? 'failing' : 'ok', `${n}: ${states[n]}`);
  });

  test('no database was ever drilled by two workers at once', async () => {
    const byDb = new Map<string, [number, number][]>();
    for (const j of await completed()) {
      const iv: [number, number] = [Date.parse(j.output?.startedAt ?? ''), Date.parse(j.output?.finishedAt ?? '')];
      byDb.set(j.key, [...(byDb.get(j.key) ?? []), iv]);
    }
    for (const [db, ivs] of byDb) {
      ivs.sort((x, y) => x[0] - y[0]);
      for (let i = 1; i < ivs.length; i++) assert.ok(ivs[i]![0] >= ivs[i - 1]![1], `${db}: drills overlap`);
    }
  });

  test('SIGTERM: a worker stops and exits 0', async () => {
    const live = workers.filter((w) => w.proc.exitCode === null && w.proc.signalCode === null);
    for (const w of live) w.proc.kill('SIGTERM');
    for (const w of live) assert.equal(await w.exited, 0, w.log.slice(-2000));
  });
});
