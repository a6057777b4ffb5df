/**
 * The fleet's results store on a real coordination cluster: the schema created idempotently (also by two clients at
 * once), databases registered and pruned with their sources redacted, results recorded and read back, and the
 * queue's role limited to its schema (docs/fleet.md's GRANTs). Version 1's `timeout` rows read as `stopped` with their
 * reason after the migration to version 2 (and when an old worker still writes one); a job given up is recorded once.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import {
  ensureResultsSchema, latestResults, recordExhaustedJob, recordResult, registerDatabases, requireResultsSchema, resultsSince, RESULTS_SCHEMA_VERSION,
  type FleetDatabaseEntry,
} from '../../src/fleet/results-store.js';
import { psql, scratchDir, startSource } from '../helpers/clusters.js';

const DAY = 86_400_000;

function entry(key: string, extra: Partial<FleetDatabaseEntry> = {}): FleetDatabaseEntry {
  return { key, source: `postgresql://drill@db1.example/${key}`, kind: 'run', schedule: 'daily', intervalMs: DAY, ...extra };
}

describe('the fleet results store', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let coord: SandboxCluster;
  const clients: pg.Client[] = [];
  const connect = async (user = 'postgres', database = 'coord') => {
    const c = new pg.Client({ ...coord.connection(database), user });
    await c.connect();
    clients.push(c);
    return c;
  };

  before(async () => {
    dir = await scratchDir();
    coord = await startSource({ parentDir: dir.path, label: 'test-coordination' });
    // The GRANTs docs/fleet.md gives: the queue role owns its schemas and nothing else; a reader may only read.
    await psql(coord, 'postgres', { sql: 'CREATE ROLE fleet_queue LOGIN; CREATE ROLE fleet_reader LOGIN' });
    await psql(coord, 'postgres', { sql: 'CREATE DATABASE coord' });
    await psql(coord, 'postgres', { sql: 'REVOKE ALL ON DATABASE coord FROM PUBLIC; GRANT CONNECT ON DATABASE coord TO fleet_queue, fleet_reader' });
    await psql(coord, 'coord', {
      sql: 'CREATE SCHEMA pgdrill_fleet AUTHORIZATION fleet_queue; CREATE TABLE public.payroll (salary int); INSERT INTO public.payroll VALUES (1);',
    });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
    await coord?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  test('the queue role creates the schema (twice at once: one wins, both succeed) and reads and writes only it', async () => {
    const [a, b] = [await connect('fleet_queue'), await connect('fleet_queue')];
    assert.deepEqual(await Promise.all([ensureResultsSchema(a), ensureResultsSchema(b)]), [RESULTS_SCHEMA_VERSION, RESULTS_SCHEMA_VERSION]);
    assert.equal(await ensureResultsSchema(a), RESULTS_SCHEMA_VERSION);
    const versions = await a.query('SELECT version FROM pgdrill_fleet.schema_version');
    assert.deepEqual(versions.rows, [{ version: 1 }, { version: 2 }]);
    const denied = async (sql: string) => assert.equal(((await a.query(sql).then(() => null, (e: unknown) => e)) as { code?: string } | null)?.code, '42501', sql);
    await denied('SELECT * FROM public.payroll');
    await denied('CREATE TABLE public.planted (x int)');
    await denied('CREATE SCHEMA elsewhere');
  });

  test('databases are registered, updated, pruned, and their sources stored without a password', async () => {
    const c = await connect('fleet_queue');
    await ensureResultsSchema(c);
    const first = await registerDatabases(c, [
      entry('app', { source: 'postgresql://drill:s3cret@db1.example/app', priority: 5 }),
      entry('shop', { schedule: 'every 6h', intervalMs: DAY / 4 }),
      entry('old'),
    ]);
    assert.deepEqual(first, { added: ['app', 'shop', 'old'], updated: [], removed: [] });
    const second = await registerDatabases(c, [entry('app', { source: 'postgresql://drill:s3cret@db1.example/app' }), entry('shop', { schedule: 'every 6h', intervalMs: DAY / 4 }), entry('new', { kind: 'verify', source: 's3://bucket/new/' })]);
    assert.deepEqual(second, { added: ['new'], updated: ['app', 'shop'], removed: ['old'] });
    const stored = await c.query<{ key: string; source: string; removed: boolean }>('SELECT key, source, removed_at IS NOT NULL AS removed FROM pgdrill_fleet.databases ORDER BY key');
    assert.deepEqual(stored.rows, [
      { key: 'app', source: 'postgresql://drill:***@db1.example/app', removed: false },
      { key: 'new', source: 's3://bucket/new/', removed: false },
      { key: 'old', source: 'postgresql://drill@db1.example/old', removed: true },
      { key: 'shop', source: 'postgresql://drill@db1.example/shop', removed: false },
    ]);
    const all = JSON.stringify((await c.query('SELECT * FROM pgdrill_fleet.databases')).rows);
    assert.doesNotMatch(all, /s3cret/);
    await assert.rejects(registerDatabases(c, [entry('x'), entry('x')]), /"x" appears twice/);
  });

  test('results are recorded and read back: newest, newest pass, since a time; an unknown database is named', async () => {
    const c = await connect('fleet_queue');
    const at = (h: number) => new Date(Date.UTC(2026, 11, 1, h));
    const base = { worker: 'w1', host: 'drill-01' } as const;
    await recordResult(c, { ...base, databaseKey: 'app', startedAt: at(1), finishedAt: at(2), verdict: 'pass', exitCode: 0, reportPath: '/drills/app-1/report.json' });
    const failed = await recordResult(c, {
      ...base, databaseKey: 'app', startedAt: at(3), finishedAt: at(4), verdict: 'fail', exitCode: 1,
      summary: { failed_checks: ['fidelity.row_counts'], counts: { pass: 30, fail: 1, warn: 0, skip: 2 } },
    });
    await recordResult(c, { ...base, databaseKey: 'shop', startedAt: at(5), finishedAt: at(6), verdict: 'error', exitCode: 4, summary: { message: 'cannot connect to postgresql://drill:pw@db1.example/shop' } });
    assert.equal(failed.durationMs, 3_600_000);
    const latest = await latestResults(c);
    assert.deepEqual(latest.map((l) => [l.database.key, l.latest?.verdict ?? null, l.lastPass?.finishedAt ?? null]), [
      ['app', 'fail', at(2).toISOString()],
      ['new', null, null],
      ['shop', 'error', null],
    ]);
    const app = latest[0]!;
    assert.deepEqual(app.latest?.summary.failed_checks, ['fidelity.row_counts']);
    assert.equal(app.lastPass?.reportPath, '/drills/app-1/report.json');
    assert.equal(latest[2]?.latest?.summary.message, 'cannot connect to postgresql://drill:***@db1.example/shop');
    assert.equal((await latestResults(c, { includeRemoved: true })).length, 4);
    assert.deepEqual((await resultsSince(c, at(3))).map((r) => `${r.databaseKey} ${r.verdict}`), ['shop error', 'app fail']);
    await assert.rejects(recordResult(c, { ...base, databaseKey: 'nope', startedAt: at(1), finishedAt: at(2), verdict: 'pass', exitCode: 0 }), /"nope": no such database/);
  });

  test('a reader role granted USAGE and SELECT reads the results and can write nothing', async () => {
    await psql(coord, 'coord', { sql: 'SET ROLE fleet_queue; GRANT USAGE ON SCHEMA pgdrill_fleet TO fleet_reader; GRANT SELECT ON ALL TABLES IN SCHEMA pgdrill_fleet TO fleet_reader;' });
    const r = await connect('fleet_reader');
    await requireResultsSchema(r);
    assert.equal((await latestResults(r)).length, 3);
    const err = await recordResult(r, { databaseKey: 'app', worker: 'w', host: 'h', startedAt: new Date(), finishedAt: new Date(), verdict: 'pass', exitCode: 0 }).catch((e: unknown) => e);
    assert.match(String(err), /permission denied/);
    const nobody = await connect('postgres', 'postgres');
    await assert.rejects(requireResultsSchema(nobody), /no pgdrill_fleet schema .*fleet sync/);
  });

  test('version 1 migrated: its timeout rows read as stopped with their reason (disk or duration), and still do when written after', async () => {
    await psql(coord, 'postgres', { sql: 'CREATE DATABASE coord_v1' });
    const c = await connect('postgres', 'coord_v1');
    assert.equal(await ensureResultsSchema(c, { version: 1 }), 1);
    await registerDatabases(c, [entry('slow'), entry('fat'), entry('app')]);
    const at = (h: number) => new Date(Date.UTC(2026, 11, 1, h));
    const v1 = (key: string, h: number, verdict: string, message: string | null) => c.query(
      `INSERT INTO pgdrill_fleet.results (database_key, worker, host, started_at, finished_at, verdict, exit_code, duration_ms, summary)
       VALUES ($1, 'w1', 'drill-01', $2, $3, $4, 143, 60000, $5)`,
      [key, at(h), at(h + 1), verdict, JSON.stringify({ message })],
    );
    await v1('slow', 1, 'timeout', 'exceeded max_duration 2 h 0 min');
    await v1('fat', 1, 'timeout', 'exceeded disk_budget 20.0 GiB: 21.3 GiB in /drills/fat-1, /tmp/sandbox');
    await v1('app', 1, 'pass', null);
    assert.equal(await ensureResultsSchema(c), RESULTS_SCHEMA_VERSION);
    const read = async () => Object.fromEntries((await latestResults(c)).map((l) => [l.database.key, [l.latest?.verdict, l.latest?.reason]]));
    assert.deepEqual(await read(), { app: ['pass', null], fat: ['stopped', 'disk'], slow: ['stopped', 'duration'] });
    const stored = await c.query<{ key: string; verdict: string; reason: string | null }>('SELECT database_key AS key, verdict, reason FROM pgdrill_fleet.results ORDER BY database_key');
    assert.deepEqual(stored.rows.map((r) => `${r.key} ${r.verdict} ${r.reason}`), ['app pass null', 'fat stopped disk', 'slow stopped duration'], 'migrated in place');
    // A worker of the previous pgdrill, still running through the upgrade, writes a timeout: accepted and read as stopped.
    await v1('fat', 3, 'timeout', 'exceeded disk_budget 20.0 GiB: 22.0 GiB in /drills/fat-2');
    assert.deepEqual((await read()).fat, ['stopped', 'disk']);
    // A stopped drill needs its reason; a reason that does not fit its verdict is refused, by pgdrill and by the table.
    const base = { databaseKey: 'app', worker: 'w', host: 'h', startedAt: at(5), finishedAt: at(6), exitCode: null } as const;
    await assert.rejects(recordResult(c, { ...base, verdict: 'stopped' }), /stopped drill needs duration or disk/);
    await assert.rejects(recordResult(c, { ...base, verdict: 'pass', reason: 'disk' }), /reason "disk"/);
    await assert.rejects(c.query(`UPDATE pgdrill_fleet.results SET reason = 'disk' WHERE verdict = 'pass'`), /results_reason_check/);
  });

  test('a job given up after its retries is recorded once, whoever records it', async () => {
    const c = await connect('fleet_queue');
    const r = { databaseKey: 'app', worker: 'w2:7', host: 'drill-02', startedAt: new Date(Date.UTC(2026, 11, 2, 1)), finishedAt: new Date(Date.UTC(2026, 11, 2, 2)), exitCode: null, jobId: 'job-1', summary: { message: "given up after 4 attempts: the drill's worker died 4 times" } };
    const [a, b] = await Promise.all([recordExhaustedJob(c, r), recordExhaustedJob(await connect('fleet_queue'), r)]);
    assert.equal([a, b].filter(Boolean).length, 1, 'one of two concurrent recordings wins');
    const first = a ?? b;
    assert.deepEqual([first?.verdict, first?.reason, first?.jobId], ['error', 'retries_exhausted', 'job-1']);
    assert.equal(await recordExhaustedJob(c, r), null);
    assert.equal((await latestResults(c)).find((l) => l.database.key === 'app')?.latest?.reason, 'retries_exhausted');
    await assert.rejects(recordResult(c, { ...r, verdict: 'error', reason: 'retries_exhausted' }), /recordExhaustedJob/);
  });
});
