/**
 * `pgdrill fleet status` and `fleet report` against a real coordination cluster, results inserted through the
 * store (no worker needed): every database listed; fresh and passing → 0; stale → 1; failing → 1; --json's shape;
 * the dashboard shows every database; the metrics hold one series per database and family; the coordination
 * database unreachable or never synced → 4.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { ensureResultsSchema, recordResult, registerDatabases, type FleetDatabaseEntry, type FleetReason, type FleetVerdict } from '../../src/fleet/results-store.js';
import { parseMetrics } from '../../src/outputs/metrics.js';
import { psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { launchOrSkip, openFile } from '../helpers/browser.js';
import { runCli } from '../helpers/cli.js';

const H = 3_600_000;
const DAY = 24 * H;
const HOSTILE = '<img src=x onerror=alert(1)>"&\'';

/** A database of the fleet, daily unless said otherwise. */
const db = (key: string, extra: Partial<FleetDatabaseEntry> = {}): FleetDatabaseEntry => ({ key, source: `postgresql://drill:pw@db1.example/${key}`, kind: 'run', schedule: 'daily', intervalMs: DAY, ...extra });

describe('fleet status and fleet report', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let coord: SandboxCluster;

  /** A coordination database named `name` holding `entries` (registered `registeredAgo` ago) and results `[key, verdict, finished ago, reason?]`. */
  async function fleet(name: string, entries: FleetDatabaseEntry[], results: [string, FleetVerdict, number, FleetReason?][], registeredAgo = 10 * DAY): Promise<string> {
    await psql(coord, 'postgres', { sql: `CREATE DATABASE ${name}` });
    const c = new pg.Client(coord.connection(name));
    await c.connect();
    try {
      await ensureResultsSchema(c);
      await registerDatabases(c, entries, { now: new Date(Date.now() - registeredAgo) });
      for (const [key, verdict, ago, reason] of results) {
        const finishedAt = new Date(Date.now() - ago);
        await recordResult(c, {
          databaseKey: key, worker: 'drill-01:123', host: 'drill-01', startedAt: new Date(finishedAt.getTime() - 60_000), finishedAt, verdict,
          exitCode: verdict === 'pass' ? 0 : verdict === 'fail' ? 1 : verdict === 'error' ? 4 : null, reason,
          summary: verdict === 'fail' ? { failed_checks: ['fidelity.row_counts'], counts: { pass: 20, fail: 1, warn: 0, skip: 0 } }
            : reason === 'disk' ? { message: 'exceeded disk_budget 2.0 MiB: 3.1 MiB in /var/lib/pgdrill/drills/stopped_db-1' } : {},
          reportPath: `/var/lib/pgdrill/drills/${key}/report.json`,
        });
      }
    } finally {
      await c.end();
    }
    return urlOf(coord, name);
  }

  let fresh: string;
  let stale: string;
  let failing: string;
  let mixed: string;

  before(async () => {
    dir = await scratchDir();
    coord = await startSource({ parentDir: dir.path, label: 'test-coordination' });
    const freshDbs = [db('app'), db('shop', { schedule: 'every 6h', intervalMs: 6 * H })];
    fresh = await fleet('fresh', freshDbs, [['app', 'pass', 3 * H], ['shop', 'fail', 9 * H], ['shop', 'pass', 2 * H]]);
    // brand_new added to the fleet file an hour ago and never drilled: pending, not an alarm.
    await registerDatabases(await connected('fresh'), [...freshDbs, db('brand_new')], { now: new Date(Date.now() - H) });
    stale = await fleet('stale', [db('app'), db('weekly', { schedule: 'weekly', intervalMs: 7 * DAY })], [['app', 'pass', 27 * H], ['weekly', 'pass', 5 * DAY]]);
    failing = await fleet('failing', [db('app'), db('shop')], [['app', 'pass', 2 * H], ['shop', 'pass', 25 * H], ['shop', 'fail', H]]);
    mixed = await fleet('mixed', [db('ok_db'), db('failed_db'), db('stale_db'), db('never_db'), db('stopped_db'), db(HOSTILE)],
      [['ok_db', 'pass', H], ['failed_db', 'fail', H], ['stale_db', 'pass', 3 * DAY], ['stopped_db', 'stopped', 2 * H, 'disk'], [HOSTILE, 'error', H]]);
  });
  after(async () => {
    await Promise.all(opened.map((c) => c.end().catch(() => {})));
    await coord?.stop();
    await dir?.[Symbol.asyncDispose]();
  });
  const opened: pg.Client[] = [];
  async function connected(name: string): Promise<pg.Client> {
    const c = new pg.Client(coord.connection(name));
    await c.connect();
    opened.push(c);
    return c;
  }

  test('fresh and passing (and one not yet due): every database listed, exit 0', async () => {
    const r = await runCli(['fleet', 'status', '--queue', fresh]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^OK +app +last verified 3 h 0 min ago$/m);
    assert.match(r.stdout, /^OK +shop +last verified 2 h 0 min ago$/m);
    assert.match(r.stdout, /^PENDING brand_new/m);
    assert.match(r.stdout, /fleet status: OK \(3 databases: 2 ok, 1 pending, 0 failing, 0 stale, 0 never verified\)/);
  });

  test('a daily database last verified 27 h ago is stale: exit 1; a weekly one verified 5 days ago is not', async () => {
    const r = await runCli(['fleet', 'status', '--queue', stale]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^STALE +app +last verified 27 h 0 min ago \(allowed: 26 h 0 min\); 3 h 0 min behind its schedule \(daily\)$/m);
    assert.match(r.stdout, /^OK +weekly +last verified 5 d 0 h ago$/m);
    // One --max-age for every database: the weekly one is stale too.
    const strict = await runCli(['fleet', 'status', '--queue', stale, '--max-age', '4d', '--json']);
    assert.equal(strict.code, 1);
    assert.deepEqual((JSON.parse(strict.stdout) as { databases: { state: string }[] }).databases.map((d) => d.state), ['ok', 'stale']);
    const lax = await runCli(['fleet', 'status', '--queue', stale, '--max-age', '7d']);
    assert.equal(lax.code, 0, lax.stdout);
  });

  test('a database whose newest drill failed, after a PASS 25 h ago: failing, exit 1, the others unaffected', async () => {
    const r = await runCli(['fleet', 'status', '--queue', failing]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^OK +app /m);
    assert.match(r.stdout, /^FAILING shop +the newest drill \(\S+ on drill-01\) FAILED: fidelity\.row_counts; last verified 25 h 0 min ago; 1 h 0 min behind its schedule \(daily\)$/m);
  });

  test('--json: one entry per database with state, last verification, lag and the newest drill; no password', async () => {
    const r = await runCli(['fleet', 'status', '--queue', mixed, '--json']);
    assert.equal(r.code, 1, r.stderr);
    const j = JSON.parse(r.stdout) as {
      ok: boolean; counts: Record<string, number>; queue: string;
      databases: { database: string; state: string; ok: boolean; reason: string; lag_ms: number; last_verified_at: string | null; source: string; latest: { verdict: string; reason: string | null; report_path: string; failed_checks: string[] } | null }[];
    };
    assert.equal(j.ok, false);
    assert.deepEqual(j.counts, { ok: 1, pending: 0, failing: 3, stale: 1, never: 1 });
    const by = Object.fromEntries(j.databases.map((d) => [d.database, d]));
    assert.deepEqual(Object.keys(by).sort(), [HOSTILE, 'failed_db', 'never_db', 'ok_db', 'stale_db', 'stopped_db'].sort());
    assert.deepEqual([by.ok_db?.state, by.failed_db?.state, by.stale_db?.state, by.never_db?.state, by.stopped_db?.state, by[HOSTILE]?.state], ['ok', 'failing', 'stale', 'never', 'failing', 'failing']);
    assert.equal(by.never_db?.latest, null);
    assert.equal(by.never_db?.last_verified_at, null);
    assert.ok((by.stale_db?.lag_ms ?? 0) >= 2 * DAY - 60_000);
    assert.equal(by.ok_db?.lag_ms, 0);
    assert.deepEqual(by.failed_db?.latest?.failed_checks, ['fidelity.row_counts']);
    assert.deepEqual([by.stopped_db?.latest?.verdict, by.stopped_db?.latest?.reason, by.failed_db?.latest?.reason], ['stopped', 'disk', null]);
    assert.match(by.stopped_db?.reason ?? '', /was stopped after 1 min 0 s: exceeded disk_budget 2\.0 MiB/);
    assert.equal(by.ok_db?.latest?.report_path, '/var/lib/pgdrill/drills/ok_db/report.json');
    assert.equal(by.ok_db?.source, 'postgresql://drill:***@db1.example/ok_db');
    assert.doesNotMatch(r.stdout, /:pw@/);
  });

  test('fleet report --html renders every database (browser: no script ran, nothing fetched) and --metrics one series per database', async (t) => {
    const page = join(dir.path, 'fleet.html');
    const prom = join(dir.path, 'fleet.prom');
    const r = await runCli(['fleet', 'report', '--queue', mixed, '--html', page, '--metrics', prom]);
    assert.equal(r.code, 0, r.stderr);
    const text = await readFile(page, 'utf8');
    assert.doesNotMatch(text, /<img src=x/);
    assert.match(text, /STOPPED: DISK BUDGET/);
    for (const key of ['ok_db', 'failed_db', 'stale_db', 'never_db', 'stopped_db']) assert.match(text, new RegExp(`<th scope="row">${key}<`));
    const samples = parseMetrics(await readFile(prom, 'utf8'));
    assert.ok(samples);
    const ok = samples.filter((s) => s.name === 'pgdrill_fleet_database_ok');
    assert.deepEqual(ok.map((s) => [s.labels.database, s.value]).sort(), [[HOSTILE, 0], ['failed_db', 0], ['never_db', 0], ['ok_db', 1], ['stale_db', 0], ['stopped_db', 0]].sort());
    for (const family of new Set(samples.map((s) => s.name))) {
      const keys: (string | undefined)[] = samples.filter((s) => s.name === family).map((s) => s.labels.database);
      assert.equal(new Set(keys).size, keys.length, `${family}: one series per database`);
    }
    assert.equal(samples.filter((s) => s.name === 'pgdrill_fleet_last_run_success').length, 5, 'never_db has no newest drill');
    assert.deepEqual(samples.filter((s) => s.name === 'pgdrill_fleet_last_run_verdict' && s.labels.database === 'stopped_db').map((s) => [s.labels.verdict, s.labels.reason]), [['stopped', 'disk']]);
    const browser = await launchOrSkip(t);
    if (!browser) return;
    try {
      const { page: p, log } = await openFile(browser, page);
      assert.equal(await p.locator('#databases + .scroll table tbody tr').count(), 6);
      assert.equal(await p.locator('#failures + .scroll table tbody tr').count(), 3);
      assert.equal(await p.locator('tbody th', { hasText: HOSTILE }).count(), 2, 'the hostile key shown as text, in both tables');
      assert.ok(await p.locator('figure svg[role="img"]').first().isVisible());
      assert.match((await p.locator('#databases + .scroll tbody tr').first().innerText()), /FAILING|NEVER/, 'what needs attention first');
      assert.deepEqual([log.consoleErrors, log.dialogs, log.requests], [[], [], []]);
    } finally {
      await browser.close();
    }
  });

  test('the coordination database never synced, or unreachable: exit 4 saying what to do; a password in --queue, or report with no output: exit 2', async () => {
    await psql(coord, 'postgres', { sql: 'CREATE DATABASE empty' });
    const none = await runCli(['fleet', 'status', '--queue', urlOf(coord, 'empty')]);
    assert.equal(none.code, 4, none.stderr);
    assert.match(none.stderr, /no pgdrill_fleet schema .*pgdrill fleet sync/);
    const down = await runCli(['fleet', 'status'], { env: { PGDRILL_QUEUE: 'postgresql://queue@127.0.0.1:1/coord', PGPASSWORD: 'secret' } });
    assert.equal(down.code, 4, down.stderr);
    assert.match(down.stderr, /cannot connect to the coordination database postgresql:\/\/queue@127\.0\.0\.1:1\/coord/);
    const inArgv = await runCli(['fleet', 'status', '--queue', 'postgresql://queue:secret@127.0.0.1:1/coord']);
    assert.equal(inArgv.code, 2, inArgv.stderr);
    assert.match(inArgv.stderr, /holds a password: .*PGPASSFILE/);
    assert.doesNotMatch(inArgv.stderr + down.stderr, /secret/);
    const noOut = await runCli(['fleet', 'report', '--queue', fresh]);
    assert.equal(noOut.code, 2);
    assert.match(noOut.stderr, /give --html FILE, --metrics FILE, or both/);
  });
});
