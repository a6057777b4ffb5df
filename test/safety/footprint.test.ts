/**
 * The production footprint every drill's report carries (src/source/footprint.ts): the source's backends on this
 * host, read from /proc, and the source's statistics — with pg_stat_statements installed in the drilled database,
 * and without it. Presence and plausibility only: no timing is asserted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { runDrill } from '../../src/drill/run-drill.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import type { Report } from '../../src/report/model.js';

describe('production footprint in the report', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  before(async () => {
    dir = await scratchDir();
    source = await startSource({ parentDir: dir.path, settings: { shared_preload_libraries: 'pg_stat_statements' } });
    const data = 'CREATE TABLE accounts AS SELECT g AS id, md5(g::text) AS note FROM generate_series(1, 20000) g; ALTER TABLE accounts ADD PRIMARY KEY (id); CREATE TABLE notes (t text); INSERT INTO notes VALUES (\'a\'), (NULL);';
    await psql(source, 'postgres', { sql: 'CREATE DATABASE with_pgss' });
    await psql(source, 'postgres', { sql: 'CREATE DATABASE without_pgss' });
    await psql(source, 'with_pgss', { sql: `CREATE EXTENSION pg_stat_statements; ${data}` });
    await psql(source, 'without_pgss', { sql: data });
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  /** pgdrill's sessions on the source (its application_name) seen once the restore is done, before the fidelity checks. */
  const duringFidelity: string[][] = [];

  async function drill(database: string, witness: 'none' | 'counts' = 'none', overlap = false): Promise<Report> {
    const { report } = await runDrill({
      source: urlOf(source, database), outDir: join(dir.path, `${database}${overlap ? '-overlap' : ''}`), config: { backup: { globals: false, overlap }, source: { witness } },
      afterRestore: async () => void duringFidelity.push((await psql(source, 'postgres', { sql: "SELECT pid || ' ' || left(query, 60) FROM pg_stat_activity WHERE application_name = 'pgdrill'" })).split('\n').filter(Boolean)),
    });
    assert.equal(report.status, 'PASS', report.checks.filter((c) => c.status !== 'pass').map((c) => `${c.name}: ${c.detail}`).join('\n'));
    assert.equal(report.production_untouched, true, 'the meter\'s own statements pass the read-only judge');
    return report;
  }

  function assertCpu(report: Report): void {
    const f = report.production.footprint!;
    assert.equal(f.cpu.measurable, true, f.cpu.detail);
    const mine = f.sessions.filter((s) => s.by === 'pgdrill');
    assert.ok(mine.some((s) => /dump snapshot/.test(s.what) && s.cpu_ms !== null), JSON.stringify(f.sessions));
    assert.ok(mine.some((s) => s.what === 'this measurement'));
    // Every backend pid of pgdrill's audit is listed with its CPU — the guard's, closed before the meter began, and the
    // proof's, shorter than the meter's interval, read as they closed; pg_dump's sessions are apart from them.
    const audited = new Set(report.production.audit.flatMap((a) => (a.pid ? [a.pid] : [])));
    for (const pid of audited) assert.ok(mine.some((s) => s.pid === pid && s.cpu_ms !== null), `audited session ${pid} listed with its CPU: ${JSON.stringify(f.sessions)}`);
    // (/proc counts CPU in 10-ms ticks, sampled: a session of a few milliseconds may read 0, so read, not > 0.)
    assert.ok(mine.some((s) => s.pid === report.production.audit[0]!.pid), 'the guard session is among them');
    assert.ok(mine.some((s) => s.pid === report.production.audit.at(-1)!.pid), 'the proof session is among them');
    assert.ok(f.sessions.some((s) => s.by === 'pg_dump'), `pg_dump's session found: ${JSON.stringify(f.sessions)}`);
    assert.ok(f.sessions.filter((s) => s.by === 'pg_dump').every((s) => !audited.has(s.pid)));
    assert.ok(f.cpu.drill_ms !== null && f.cpu.drill_ms >= 0);
    // No pgdrill session (the meter's included) stayed on production through the restore.
    assert.deepEqual(duringFidelity.at(-1), []);
  }

  test('pg_stat_statements installed: pg_dump\'s COPY rows and pgdrill\'s counts apart, CPU per session, rendered', async () => {
    const report = await drill('with_pgss', 'counts'); // the source's counts (not the default) are what the scans group holds
    const f = report.production.footprint!;
    assert.ok(f, 'report.production.footprint is present');
    if (process.env.FOOTPRINT_DEBUG) console.log(JSON.stringify(f, null, 1));
    assertCpu(report);
    assert.equal(f.statements.available, true, f.statements.detail);
    const group = (g: string) => f.statements.groups.find((x) => x.group === g)!;
    assert.equal(group('copy').rows, 20002, 'pg_dump copied every row of both tables');
    assert.match(group('copy').label, /^pg_dump: COPY/);
    assert.ok(group('scans').calls >= 2, 'pgdrill counted each table on the source');
    assert.match(group('scans').label, /^pgdrill: exact counts/);
    assert.match(f.summary, /pg_stat_statements: pg_dump's COPY 20002 rows/);
    assert.ok(f.database && f.database.tup_returned >= 20002, 'pg_stat_database saw at least the dump\'s rows');
    assert.match(f.database.scope, /every session/);
    const md = await readFile(join(report.run.dir, 'report.md'), 'utf8');
    assert.match(md, /### Production footprint/);
    assert.match(md, /\| pg_dump: COPY … TO stdout \(the dump's data\) \| \d+ \| 20002 \|/);
    const page = await readFile(join(report.run.dir, 'report.html'), 'utf8');
    assert.match(page, /<h2 id="footprint">Production footprint<\/h2>/);
  });

  test('without pg_stat_statements: said so, the database-wide counters labelled as such, CPU per session', async () => {
    const report = await drill('without_pgss');
    const f = report.production.footprint!;
    assertCpu(report);
    assert.equal(f.statements.available, false);
    assert.match(f.statements.detail, /not installed in the source database/);
    assert.deepEqual(f.statements.groups, []);
    assert.ok(f.database && f.database.tup_returned >= 20002, JSON.stringify(f.database));
    assert.match(f.summary, /source CPU of the drill/);
    const md = await readFile(join(report.run.dir, 'report.md'), 'utf8');
    assert.match(md, /Statements: pg_stat_statements is not installed in the source database\./);
    assert.match(md, /pg_stat_database — the whole database, every session/);
  });

  test('backup.overlap (pg_dump runs during the restore): the meter leaves with pg_dump, pg_dump\'s CPU still measured', async () => {
    const report = await drill('without_pgss', 'none', true);
    assertCpu(report);
    assert.ok(report.production.footprint!.cpu.pg_dump_ms !== null, report.production.footprint!.summary);
  });
});
