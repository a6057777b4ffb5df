/** The pure parts of the production footprint: /proc parsing, statement groups and deltas, the one-line summary, the renderers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProcStat, readProcCpu, whyBackendNotReadable } from '../../src/source/proc-cpu.js';
import { databaseDelta, statementDeltas, statementGroup, type StatementsReading } from '../../src/source/footprint-stats.js';
import { summaryOf } from '../../src/source/footprint.js';
import { renderFootprint } from '../../src/report/footprint-markdown.js';
import { FootprintSchema, type Footprint } from '../../src/report/footprint-model.js';

test('parseProcStat: utime + stime in ms and the start tick, whatever the command name holds', () => {
  const fields = (comm: string) => `4242 (${comm}) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 130 0 0 20 0 1 0 987654 100000 200 18446744073709551615`;
  assert.deepEqual(parseProcStat(fields('postgres')), { comm: 'postgres', cpuMs: 3800, startTicks: 987654 });
  assert.deepEqual(parseProcStat(fields('a) S 1 (b')), { comm: 'a) S 1 (b', cpuMs: 3800, startTicks: 987654 });
  assert.equal(parseProcStat('garbage'), null);
});

test('whyBackendNotReadable: a pid that is not a postgres backend of this host is refused, with the reason', () => {
  // This very process: on this host, but node, not postgres — as a remote source's pid that happens to exist here.
  const me = readProcCpu(process.pid);
  assert.ok(me);
  assert.match(whyBackendNotReadable(process.pid, Date.now() / 1000) ?? '', /is not the source's backend \(node/);
  assert.match(whyBackendNotReadable(2 ** 22 + 1, Date.now() / 1000) ?? '', /no process \d+ readable in \/proc on this host/);
});

test('statementGroup: pg_dump\'s COPY, pgdrill\'s counts and hashes, the rest', () => {
  assert.equal(statementGroup('COPY public.accounts (aid, bid) TO stdout;'), 'copy');
  assert.equal(statementGroup('COPY (SELECT 1) TO stdout'), 'copy');
  assert.equal(statementGroup('SELECT count(*) FROM ONLY "public"."a"'), 'scans');
  assert.equal(statementGroup("SELECT count(*)::text AS rows, md5(count(*)::text || $1 || coalesce(sum(('x' || substr(h, $2, $3))::bit(64)::bigint), $4)::text) AS hash"), 'scans');
  assert.equal(statementGroup('SELECT c.oid FROM pg_class c'), 'other');
  assert.equal(statementGroup('COPY t FROM stdin'), 'other');
});

test('statementDeltas: after − before per entry, new entries whole, a re-created entry never negative', () => {
  const c = (calls: number, rows: number) => ({ calls, rows, shared_blks_read: 1, shared_blks_hit: 2, total_exec_time_ms: 3 });
  const before: StatementsReading = new Map([
    ['1/true', { query: 'COPY public.a (x) TO stdout;', c: c(5, 100) }],
    ['2/true', { query: 'SELECT count(*) FROM ONLY "public"."a"', c: c(9, 9) }],
  ]);
  const after: StatementsReading = new Map([
    ['1/true', { query: 'COPY public.a (x) TO stdout;', c: c(6, 150) }],
    ['2/true', { query: 'SELECT count(*) FROM ONLY "public"."a"', c: c(1, 1) }], // evicted and re-created: counts from zero
    ['3/true', { query: 'SELECT 1', c: c(2, 2) }],
  ]);
  const d = new Map(statementDeltas(before, after).map((g) => [g.group, g.counters]));
  assert.deepEqual(d.get('copy'), { calls: 1, rows: 50, shared_blks_read: 0, shared_blks_hit: 0, total_exec_time_ms: 0 });
  assert.deepEqual(d.get('scans'), { calls: 1, rows: 1, shared_blks_read: 1, shared_blks_hit: 2, total_exec_time_ms: 3 });
  assert.deepEqual(d.get('other'), { calls: 2, rows: 2, shared_blks_read: 1, shared_blks_hit: 2, total_exec_time_ms: 3 });
  assert.deepEqual(databaseDelta({ tup_returned: 10, tup_fetched: 5, blks_read: 3, blks_hit: 1 }, { tup_returned: 15, tup_fetched: 2, blks_read: 3, blks_hit: 4 }),
    { tup_returned: 5, tup_fetched: 2, blks_read: 0, blks_hit: 3 });
});

const sample: Footprint = {
  summary: '',
  cpu: { measurable: true, detail: 'utime + stime', sample_ms: 100, drill_ms: 3000, pg_dump_ms: 2000, ratio_to_pg_dump: 1.5 },
  sessions: [{ pid: 7, by: 'pgdrill', what: 'the dump snapshot', cpu_ms: 900 }, { pid: 8, by: 'pg_dump', what: 'pg_dump alone: copying the data', cpu_ms: 2000 }],
  statements: { available: true, detail: 'pg_stat_statements', groups: [{ group: 'copy', label: 'pg_dump: COPY | data', calls: 4, rows: 5000000, shared_blks_read: 80000, shared_blks_hit: 2, total_exec_time_ms: 1900 }] },
  database: { scope: 'the whole database', tup_returned: 10, tup_fetched: 1, blks_read: 2, blks_hit: 3, bytes_read: 16384 },
};

test('summaryOf: CPU against pg_dump alone, or why not; the statistics it rests on', () => {
  assert.match(summaryOf(sample.cpu, sample.statements, sample.database), /^source CPU of the drill 3\.00 s, of pg_dump alone 2\.00 s \(1\.5×\); pg_stat_statements: pg_dump's COPY 5000000 rows \(80002 blocks\)/);
  const remote = { ...sample.cpu, measurable: false, drill_ms: null, pg_dump_ms: null, ratio_to_pg_dump: null, detail: 'not measurable: no process' };
  assert.equal(summaryOf(remote, { available: false, detail: 'x', groups: [] }, sample.database), 'source CPU not measurable: no process; whole database (every session): 10 rows returned, 16384 bytes read');
});

test('renderFootprint: the sessions and the statement groups as tables, cells escaped; nothing without a footprint', () => {
  FootprintSchema.parse(sample);
  const md = renderFootprint({ ...sample, summary: 'S' });
  assert.match(md, /^### Production footprint\n\nS\.\n/);
  assert.match(md, /\| 8 \| pg_dump \| pg_dump alone: copying the data \| 2\.00 s \|/);
  assert.match(md, /\| pg_dump: COPY \\\| data \| 4 \| 5000000 \| 80000 \| 2 \| 1\.90 s \|/);
  assert.match(md, /pg_stat_database — the whole database: 10 rows returned/);
  assert.equal(renderFootprint(null), '');
  assert.equal(renderFootprint(undefined), '');
});

test('--metrics and --junit carry the footprint\'s CPU figures where measured, nothing where not', async () => {
  const { passReport } = await import('../helpers/sample-report.js');
  const { drillSamples, renderMetrics } = await import('../../src/outputs/metrics.js');
  const { renderJunit } = await import('../../src/outputs/junit.js');
  const base = passReport();
  const measured = { ...base, production: { ...base.production, footprint: sample } };
  const text = renderMetrics(drillSamples({ database: 'shop', report: measured }, null));
  assert.match(text, /^pgdrill_last_run_source_cpu_seconds\{database="shop"\} 3$/m);
  assert.match(text, /^pgdrill_last_run_pg_dump_cpu_seconds\{database="shop"\} 2$/m);
  assert.match(text, /^pgdrill_last_run_source_cpu_ratio\{database="shop"\} 1\.500$/m);
  assert.match(renderJunit(measured), /<property name="source_cpu_ratio_to_pg_dump" value="1.5"\/>/);
  assert.match(renderJunit(measured), /<property name="source_cpu_ms" value="3000"\/>/);
  const remote = { ...base, production: { ...base.production, footprint: { ...sample, cpu: { ...sample.cpu, measurable: false, drill_ms: null, pg_dump_ms: null, ratio_to_pg_dump: null } } } };
  assert.doesNotMatch(renderMetrics(drillSamples({ database: 'shop', report: remote }, null)), /cpu/);
  assert.doesNotMatch(renderJunit({ ...base, production: { ...base.production, footprint: null } }), /cpu/);
});
