/**
 * The fleet's other sources through a real worker (issue 26), on one cluster that also holds the coordination
 * database: a `service:` source read from the worker's pg_service.conf (PGSERVICEFILE), and `kind: verify` of a backup
 * on the worker's disk. Their failing twins are drilled beside them: a service the file does not define, and a
 * backup cut short. Each verdict reaches the queue, the results store and `fleet status`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, truncate, copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { pgDump } from '../helpers/dumps.js';
import { waitFor } from '../helpers/safety.js';
import { drillJobs, startWorker, type TestWorker } from '../helpers/fleet-worker.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';

const TABLE = `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, md5(i::text) FROM generate_series(1, 2000) i;`;

describe('a worker drills a service source and verifies a backup location', { concurrency: false }, () => {
  let dir: { path: string } & AsyncDisposable;
  let c: SandboxCluster;
  let queueUrl: string;
  let worker: TestWorker | undefined;

  before(async () => {
    dir = await scratchDir('pgdrill-fleet-kinds-');
    c = await startSource({ parentDir: dir.path, label: 'fleet-kinds' });
    for (const db of ['coord', 'svcdb', 'archived']) await psql(c, 'postgres', { sql: `CREATE DATABASE ${db}` });
    await psql(c, 'svcdb', { sql: TABLE });
    await psql(c, 'archived', { sql: TABLE });
    const dump = await pgDump(c, 'archived', 'custom', join(dir.path, 'archived.dump'));
    await copyFile(dump, join(dir.path, 'cut.dump'));
    await truncate(join(dir.path, 'cut.dump'), Math.floor((await stat(dump)).size * 0.6));
    await writeFile(join(dir.path, 'pg_service.conf'), `[fleetsvc]\nhost=${c.socketDir}\nport=${c.port}\nuser=${c.superuser}\ndbname=svcdb\n`);
    queueUrl = urlOf(c, 'coord');
    await writeFile(join(dir.path, 'fleet.yaml'), [
      'defaults: { schedule: daily }',
      'limits: { lease: 10s, max_duration: 10m }',
      'databases:',
      '  - { name: svc, service: fleetsvc }',
      '  - { name: nosvc, service: no_such_service }',
      '  - { name: archive, kind: verify, backup: ./archived.dump }',
      '  - { name: cut, kind: verify, backup: ./cut.dump }',
      '',
    ].join('\n'));
  });

  after(async () => {
    if (worker && worker.proc.exitCode === null && worker.proc.signalCode === null) worker.proc.kill('SIGKILL');
    await worker?.exited;
    await c?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  test('each drill as `run`/`verify` would: the service and the backup pass, their broken twins do not', async () => {
    const sync = await runCli(['fleet', 'sync', '--fleet', join(dir.path, 'fleet.yaml'), '--queue', queueUrl, '--json']);
    assert.equal(sync.code, 0, sync.stderr);
    assert.equal((JSON.parse(sync.stdout) as { queued: string[] }).queued.length, 4);
    worker = startWorker(queueUrl, join(dir.path, 'out'), join(dir.path, 'state'), ['--concurrency', '2'], { PGSERVICEFILE: join(dir.path, 'pg_service.conf') });
    const jobs = await waitFor('4 drills recorded', async () => {
      const done = (await drillJobs(c, 'coord')).filter((j) => j.state === 'completed');
      return done.length >= 4 && new Map(done.map((j) => [j.key, j]));
    }, 240_000, 500);
    const verdict = (k: string) => jobs.get(k)?.output?.verdict;
    assert.equal(verdict('svc'), 'PASS', JSON.stringify(jobs.get('svc')?.output));
    assert.equal(verdict('archive'), 'PASS', JSON.stringify(jobs.get('archive')?.output));
    assert.equal(verdict('cut'), 'FAIL', JSON.stringify(jobs.get('cut')?.output));
    assert.equal(verdict('nosvc'), 'error', JSON.stringify(jobs.get('nosvc')?.output));
    // The service's drill read svcdb; the verify's report is a verify of the backup.
    const svc = JSON.parse(await readFile(join(jobs.get('svc')?.output?.runDir ?? '', 'report.json'), 'utf8')) as { source: { database: string } };
    assert.equal(svc.source.database, 'svcdb');
    const archive = JSON.parse(await readFile(join(jobs.get('archive')?.output?.runDir ?? '', 'report.json'), 'utf8')) as { kind?: string; run?: { kind?: string }; backup: { path?: string | null } };
    assert.match(JSON.stringify(archive.backup), /archived\.dump/);
    const status = await runCli(['fleet', 'status', '--queue', queueUrl, '--json']);
    assert.equal(status.code, 1, status.stderr);
    const states = Object.fromEntries((JSON.parse(status.stdout) as { databases: { database: string; state: string }[] }).databases.map((d) => [d.database, d.state]));
    assert.deepEqual(states, { svc: 'ok', archive: 'ok', cut: 'failing', nosvc: 'failing' });
    assert.match(worker.log, /Z nosvc: error after [\d.]+ m?s \(job [0-9a-f-]+, exit \d+\): .*no_such_service/);
    worker.proc.kill('SIGTERM');
    assert.equal(await worker.exited, 0, worker.log.slice(-2000));
  });
});
