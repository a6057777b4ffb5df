/** The fleet's judgement (src/fleet/fleet-status.ts) and its metrics, on rows built by hand: no cluster. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeFleet } from '../../src/fleet/fleet-status.js';
import { renderFleetMetrics } from '../../src/fleet/fleet-metrics.js';
import type { FleetReason, FleetResult, FleetVerdict, LatestResult } from '../../src/fleet/results-store.js';
import { parseMetrics } from '../../src/outputs/metrics.js';

const M = 60_000;
const H = 60 * M;
const DAY = 24 * H;
const NOW = Date.parse('2026-12-06T12:00:00Z');
const iso = (ago: number) => new Date(NOW - ago).toISOString();

function result(verdict: FleetVerdict, ago: number, reason: FleetReason | null = null, message: string | null = null): FleetResult {
  return {
    id: 1, databaseKey: 'x', worker: 'w', host: 'h', startedAt: iso(ago + M), finishedAt: iso(ago), verdict, reason, jobId: null, exitCode: verdict === 'pass' ? 0 : 1, durationMs: M,
    summary: { failed_checks: [], counts: { pass: 1, fail: verdict === 'fail' ? 2 : 0, warn: 0, skip: 0 }, versions: { source: null, pg_dump: null, sandbox: null }, size_bytes: null, interrupted: false, message },
    reportPath: null,
  };
}

/** A database with `intervalMs`, registered `addedAgo` ago, and its results (newest first). */
function row(key: string, intervalMs: number, results: FleetResult[], addedAgo = 30 * DAY): LatestResult {
  return {
    database: { key, source: key, kind: 'run', schedule: `${intervalMs}`, intervalMs, priority: 0, addedAt: iso(addedAgo), syncedAt: iso(0), removedAt: null },
    latest: results[0] ?? null,
    lastPass: results.find((r) => r.verdict === 'pass') ?? null,
  };
}

const judge = (rows: LatestResult[], maxAgeMs?: number) => judgeFleet(rows, { now: new Date(NOW), maxAgeMs });

test('the allowed age is the interval plus the interval or 2 h, whichever is shorter; exactly at it is still OK', () => {
  const s = judge([
    row('daily', DAY, [result('pass', 26 * H)]),
    row('daily_late', DAY, [result('pass', 26 * H + 1)]),
    row('six_hourly', 6 * H, [result('pass', 8 * H + 1)]),
    row('half_hourly', 30 * M, [result('pass', 59 * M)]),
    row('weekly', 7 * DAY, [result('pass', 7 * DAY + 2 * H)]),
  ]);
  assert.deepEqual(s.databases.map((d) => [d.database.key, d.state, d.allowedAgeMs / H]), [
    ['daily', 'ok', 26], ['daily_late', 'stale', 26], ['six_hourly', 'stale', 8], ['half_hourly', 'ok', 1], ['weekly', 'ok', 7 * 24 + 2],
  ]);
  assert.equal(s.ok, false);
  assert.equal(s.databases[0]?.lagMs, 2 * H, 'due 24 h after the PASS, 2 h ago');
  assert.equal(s.databases[3]?.lagMs, 29 * M);
});

test('the newest drill decides failing even after a recent PASS; error, stopped and given up are failures too', () => {
  const s = judge([
    row('failed', DAY, [result('fail', H), result('pass', 2 * H)]),
    row('error', DAY, [result('error', H), result('pass', 2 * H)]),
    row('stopped', DAY, [result('stopped', H, 'duration')]),
    row('recovered', DAY, [result('pass', H), result('fail', 2 * H)]),
    row('full', DAY, [result('stopped', H, 'disk', 'exceeded disk_budget 2.0 MiB: 3.1 MiB in /out/full-1')]),
    row('lost', DAY, [result('error', H, 'retries_exhausted', "given up after 4 attempts: the drill's worker died 4 times (its lease ran out): w:1 on h, started 2026-12-06T10:00:00Z")]),
  ]);
  assert.deepEqual(s.databases.map((d) => d.state), ['failing', 'failing', 'failing', 'ok', 'failing', 'failing']);
  assert.match(s.databases[2]?.reason ?? '', /was stopped after 1 min 0 s: it overran its max_duration; never verified/);
  assert.match(s.databases[4]?.reason ?? '', /was stopped after 1 min 0 s: exceeded disk_budget 2\.0 MiB: 3\.1 MiB in \/out\/full-1; never verified/);
  assert.match(s.databases[5]?.reason ?? '', /was given up after its retries: given up after 4 attempts: the drill's worker died 4 times/);
  assert.deepEqual(s.counts, { ok: 1, pending: 0, failing: 5, stale: 0, never: 0 });
});

test('never drilled: pending until its allowed age after registration, then never (not OK); an empty fleet is not OK', () => {
  const s = judge([row('new', DAY, [], 26 * H), row('forgotten', DAY, [], 26 * H + 1)]);
  assert.deepEqual(s.databases.map((d) => [d.state, d.ok]), [['pending', true], ['never', false]]);
  assert.equal(judge([]).ok, false);
  assert.equal(judge([row('new', DAY, [], H)]).ok, true);
});

test('--max-age replaces every database\'s own allowance', () => {
  const s = judge([row('weekly', 7 * DAY, [result('pass', 3 * DAY)]), row('hourly', H, [result('pass', 5 * H)])], 4 * DAY);
  assert.deepEqual(s.databases.map((d) => d.state), ['ok', 'ok']);
  assert.equal(s.maxAgeMs, 4 * DAY);
});

test('metrics: one series per database and family, HELP and TYPE once each, hostile keys escaped', () => {
  const hostile = 'a"b\\c\nd';
  const text = renderFleetMetrics(judge([row('ok', DAY, [result('pass', H)]), row(hostile, DAY, [result('fail', H)]), row('new', DAY, [], H)]));
  const samples = parseMetrics(text);
  assert.ok(samples);
  assert.deepEqual(samples.filter((s) => s.name === 'pgdrill_fleet_database_ok').map((s) => [s.labels.database, s.value]), [[hostile, 0], ['new', 1], ['ok', 1]]);
  assert.deepEqual(samples.filter((s) => s.name === 'pgdrill_fleet_last_run_failed_checks').map((s) => s.value), [2, 0]);
  assert.equal(samples.filter((s) => s.name === 'pgdrill_fleet_status_timestamp_seconds').length, 1);
  assert.deepEqual(samples.filter((s) => s.name === 'pgdrill_fleet_last_run_verdict').map((s) => [s.labels.database, s.labels.verdict, s.labels.reason, s.value]), [[hostile, 'fail', '', 1], ['ok', 'pass', '', 1]]);
  for (const family of new Set(samples.map((s) => s.name))) {
    assert.equal(text.split('\n').filter((l) => l === `# TYPE ${family} gauge`).length, 1, family);
  }
});

test('metrics: a stopped drill and a job given up carry their reason', () => {
  const text = renderFleetMetrics(judge([row('full', DAY, [result('stopped', H, 'disk')]), row('lost', DAY, [result('error', H, 'retries_exhausted')])]));
  const samples = parseMetrics(text) ?? [];
  assert.deepEqual(samples.filter((s) => s.name === 'pgdrill_fleet_last_run_verdict').map((s) => [s.labels.database, s.labels.verdict, s.labels.reason]), [['full', 'stopped', 'disk'], ['lost', 'error', 'retries_exhausted']]);
  assert.deepEqual(samples.filter((s) => s.name === 'pgdrill_fleet_database_ok').map((s) => s.value), [0, 0]);
});
