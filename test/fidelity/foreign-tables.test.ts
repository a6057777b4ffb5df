/**
 * Foreign tables as a class (docs/jail.md › Egress): a good backup that holds foreign tables — their data
 * (--include-foreign-data), materialized views over them however indirectly, odd names, foreign partitions with and
 * without --load-via-partition-root — PASSes, and nothing reaches the foreign server; the checks around them still
 * FAIL a bad one. The victim is a "production" cluster the source's postgres_fdw server points at; its log
 * (log_connections) and rows are the proof that nothing reached it during a drill.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { pgDump } from '../helpers/dumps.js';
import { runCli } from '../helpers/cli.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { forceJailModeForTests } from '../../src/sandbox/jail.js';
import { verifyArtifact } from '../../src/verify/verify-artifact.js';
import { runDrill } from '../../src/drill/run-drill.js';
import type { Report } from '../../src/report/model.js';
import { connectionsDuring } from '../helpers/server-log.js';

const failures = (r: Report) => r.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`);
const noteOf = (r: Report, id: string) => r.notes.find((n) => n.id === id)?.text ?? '(no note)';
const rowsOf = (r: Report, schema: string, name: string) => r.tables.find((t) => t.schema === schema && t.name === name);

/** Matviews over the foreign table: directly, through a view, through another such matview, through a function. */
const HELD_BACK = ['public.mv_ft', 'public.mv_view', 'public.mv_mv', 'public.mv_fn', 'My Schema.Odd "MV"', 'public.mv_file'];

describe('foreign tables as a class: a good backup PASSes, nothing reaches the foreign server', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let victim: SandboxCluster;
  let source: SandboxCluster;
  before(async () => {
    dir = await scratchDir();
    victim = await startSource({ parentDir: dir.path, label: 'victim', settings: { log_connections: 'on' } });
    await psql(victim, 'postgres', { sql: 'CREATE DATABASE prod' });
    await psql(victim, 'prod', { sql: `CREATE TABLE public.accounts (id int, v text); INSERT INTO public.accounts VALUES (1, 'prod-row');
      CREATE TABLE public.odd (id int); INSERT INTO public.odd VALUES (7), (8);
      CREATE TABLE public.events_remote (id int, region text); INSERT INTO public.events_remote VALUES (100, 'remote'), (101, 'remote'), (102, 'remote');` });
    source = await startSource({ parentDir: dir.path, shared: [victim.socketDir] });
    await psql(source, 'postgres', { sql: 'CREATE DATABASE app' });
    await psql(source, 'app', { sql: `CREATE EXTENSION postgres_fdw;
      CREATE SERVER prod FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '${victim.socketDir}', port '${victim.port}', dbname 'prod');
      CREATE USER MAPPING FOR PUBLIC SERVER prod OPTIONS (user '${victim.superuser}');
      CREATE FOREIGN TABLE public.accounts (id int, v text) SERVER prod OPTIONS (table_name 'accounts');
      CREATE TABLE public.local (id int PRIMARY KEY, v text); INSERT INTO public.local SELECT g, 'r' || g FROM generate_series(1, 50) g;
      CREATE VIEW public.v_ft AS SELECT * FROM public.accounts;
      CREATE FUNCTION public.remote_count() RETURNS bigint LANGUAGE sql STABLE AS 'SELECT count(*) FROM public.accounts';
      CREATE MATERIALIZED VIEW public.mv_ft AS SELECT * FROM public.accounts;
      CREATE MATERIALIZED VIEW public.mv_view AS SELECT * FROM public.v_ft;
      CREATE MATERIALIZED VIEW public.mv_mv AS SELECT id FROM public.mv_ft;
      CREATE MATERIALIZED VIEW public.mv_fn AS SELECT public.remote_count() AS n;
      CREATE MATERIALIZED VIEW public.mv_local AS SELECT id, v FROM public.local WHERE id <= 10;
      CREATE MATERIALIZED VIEW public.mv_empty AS SELECT * FROM public.accounts WITH NO DATA;
      -- Odd names: a foreign table and an ordinary table that read the same once quotes are dropped ("my.s"."t" / "my"."s.t"),
      -- upper case, spaces, quotes, non-ASCII; a matview over the odd one.
      CREATE SCHEMA "my.s"; CREATE SCHEMA "my"; CREATE SCHEMA "My Schema";
      CREATE FOREIGN TABLE "my.s"."t" (id int) SERVER prod OPTIONS (schema_name 'public', table_name 'odd');
      CREATE TABLE "my"."s.t" (id int); INSERT INTO "my"."s.t" SELECT generate_series(1, 5);
      CREATE FOREIGN TABLE "My Schema"."Ödd ""Name"" x" (id int) SERVER prod OPTIONS (schema_name 'public', table_name 'odd');
      CREATE TABLE "My Schema"."Ödd ""name"" x" (id int); INSERT INTO "My Schema"."Ödd ""name"" x" VALUES (1), (2), (3);
      CREATE MATERIALIZED VIEW "My Schema"."Odd ""MV""" AS SELECT * FROM "My Schema"."Ödd ""Name"" x";
      -- A foreign partition beside an ordinary one.
      CREATE TABLE public.events (id int, region text) PARTITION BY LIST (region);
      CREATE TABLE public.events_local PARTITION OF public.events FOR VALUES IN ('local');
      CREATE FOREIGN TABLE public.events_remote PARTITION OF public.events FOR VALUES IN ('remote') SERVER prod OPTIONS (table_name 'events_remote');
      INSERT INTO public.events_local SELECT g, 'local' FROM generate_series(1, 20) g;
      -- file_fdw: a foreign table over a host file (the source's own PG_VERSION), and a matview over it.
      CREATE EXTENSION file_fdw; CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
      CREATE FOREIGN TABLE public.host_file (line text) SERVER files OPTIONS (filename '${source.dataDir}/PG_VERSION');
      CREATE MATERIALIZED VIEW public.mv_file AS SELECT * FROM public.host_file;` });
  });
  after(async () => {
    forceJailModeForTests(null);
    await source?.stop();
    await victim?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  /** The victim's rows, and the connections it logged while `f` ran. */
  async function watched<T>(f: () => Promise<T>): Promise<{ result: T; connections: string[]; rows: string }> {
    const { result, connections } = await connectionsDuring(victim.logFile, f);
    return { result, connections, rows: await psql(victim, 'prod', { sql: 'SELECT (SELECT count(*) FROM public.accounts) || \'/\' || (SELECT count(*) FROM public.odd) || \'/\' || (SELECT count(*) FROM public.events_remote)' }) };
  }
  const untouched = '1/2/3';

  /** Every case of the class PASSes, with its notes: the matviews held back, the foreign data reported from the dump. */
  function assertGood(r: Report, opts: { foreignData: boolean }): void {
    assert.deepEqual(failures(r), []);
    const held = noteOf(r, 'matview-not-refreshed');
    for (const mv of HELD_BACK) assert.ok(held.includes(mv), `${mv} is named held back: ${held}`);
    assert.match(held, /public\.mv_mv \(reads public\.mv_ft, itself held back\)/);
    assert.ok(!held.includes('mv_local') && !held.includes('mv_empty'), held);
    if (opts.foreignData) {
      const fd = noteOf(r, 'foreign-table-data');
      assert.match(fd, /public\.accounts \(1 row\(s\)/);
      assert.match(fd, /public\.events_remote \(3 row\(s\)/);
      assert.match(fd, /my\.s\.t \(2 row\(s\)/);
    }
    assert.equal(rowsOf(r, 'public', 'local')?.restored_rows, 50);
    assert.equal(rowsOf(r, 'my', 's.t')?.restored_rows, 5, 'the ordinary table spelled like the foreign one is restored and counted');
    assert.equal(rowsOf(r, 'My Schema', 'Ödd "name" x')?.restored_rows, 3);
    assert.equal(rowsOf(r, 'public', 'accounts'), undefined, 'a foreign table is not counted in the copy');
  }

  for (const format of ['plain', 'custom', 'directory'] as const) {
    for (const viaRoot of [false, true]) {
      test(`verify, jail none: ${format}${viaRoot ? ' --load-via-partition-root' : ''} with --include-foreign-data PASSes, the victim untouched`, async () => {
        const file = await pgDump(source, 'app', format, join(dir.path, `app-${format}${viaRoot ? '-root' : ''}.dump`), ['--include-foreign-data=prod', ...(viaRoot ? ['--load-via-partition-root'] : [])]);
        forceJailModeForTests('none');
        const w = await watched(() => verifyArtifact({ artifact: file, outDir: join(dir.path, `out-${format}-${viaRoot}`), database: 'app', globals: false }));
        forceJailModeForTests(null);
        assert.deepEqual(w.connections, [], 'the victim logged a connection during the drill');
        assert.equal(w.rows.trim(), untouched);
        assertGood(w.result.report, { foreignData: true });
        const events = rowsOf(w.result.report, 'public', viaRoot ? 'events' : 'events_local');
        assert.equal(events?.restored_rows, 20, `the ordinary partition's rows: ${JSON.stringify(w.result.report.tables)}`);
      });
    }
  }

  for (const format of ['plain', 'custom'] as const) {
    test(`the CLI: verify of a ${format} dump taken by someone else with --include-foreign-data PASSes (exit 0), the victim untouched`, async () => {
      const file = await pgDump(source, 'app', format, join(dir.path, `cli-${format}.dump`), ['--include-foreign-data=prod']);
      const w = await watched(() => runCli(['verify', file, '--no-globals', '--database', 'app', '--out', join(dir.path, `cli-verify-${format}`), '--json']));
      assert.equal(w.result.code, 0, w.result.stderr.slice(-2000));
      assertGood(JSON.parse(w.result.stdout) as Report, { foreignData: true });
      assert.deepEqual(w.connections, []);
      assert.equal(w.rows.trim(), untouched);
    });

    test(`the CLI: run --format ${format} of the source PASSes (exit 0): the held-back matviews differ in "populated" only, as expected`, async () => {
      const w = await watched(() => runCli(['run', '--source', urlOf(source, 'app'), '--format', format, '--out', join(dir.path, `cli-run-${format}`), '--json']));
      assert.equal(w.result.code, 0, w.result.stderr.slice(-2000));
      const r = JSON.parse(w.result.stdout) as Report;
      assertGood(r, { foreignData: false });
      assert.match(r.checks.find((c) => c.name === 'fidelity.catalog')?.detail ?? '', /6 materialized view\(s\) left unpopulated by the restore, as expected/);
      assert.deepEqual(w.connections, []);
      assert.equal(w.rows.trim(), untouched);
    });
  }

  test('must FAIL: run, rows missing from the ordinary table spelled like a foreign one ("my"."s.t" / "my.s"."t") still FAIL', async () => {
    const w = await watched(() => runDrill({
      source: urlOf(source, 'app'), outDir: join(dir.path, 'out-run-cut'),
      afterRestore: async (copy) => { await runSql(copy.env, 'DELETE FROM "my"."s.t" WHERE id <= 2'); },
    }));
    assert.deepEqual(w.connections, []);
    const f = failures(w.result.report);
    assert.ok(f.some((x) => x.startsWith('fidelity.row_counts') && x.includes('my.s.t')), f.join('\n'));
  });

  test('must FAIL: verify, a header that calls the ordinary "my"."s.t" foreign does not hide its rows', async () => {
    const file = await pgDump(source, 'app', 'plain', join(dir.path, 'lying.sql'), ['--include-foreign-data=prod']);
    const text = await readFile(file, 'utf8');
    const lying = text.replace(/-- Name: s\.t; Type: TABLE; Schema: my;/, '-- Name: s.t; Type: FOREIGN TABLE; Schema: my;');
    assert.notEqual(lying, text);
    await writeFile(file, lying);
    forceJailModeForTests('none');
    const w = await watched(() => verifyArtifact({ artifact: file, outDir: join(dir.path, 'out-lying'), database: 'app', globals: false }));
    forceJailModeForTests(null);
    assert.deepEqual(w.connections, []);
    const f = failures(w.result.report);
    assert.ok(f.some((x) => x.startsWith('fidelity.row_counts') && x.includes('my.s.t')), f.join('\n'));
  });

  test('must FAIL: verify, a data header naming a foreign table over an ordinary table\'s block does not hide its rows', async () => {
    const file = await pgDump(source, 'app', 'plain', join(dir.path, 'lying-data-header.sql'), ['--include-foreign-data=prod']);
    const text = await readFile(file, 'utf8');
    const lying = text.replace('-- Data for Name: local; Type: TABLE DATA; Schema: public;', '-- Data for Name: accounts; Type: TABLE DATA; Schema: public;');
    assert.notEqual(lying, text);
    await writeFile(file, lying);
    forceJailModeForTests('none');
    const w = await watched(() => verifyArtifact({ artifact: file, outDir: join(dir.path, 'out-lying-data'), database: 'app', globals: false }));
    forceJailModeForTests(null);
    assert.deepEqual(w.connections, []);
    const f = failures(w.result.report);
    assert.ok(f.some((x) => x.startsWith('fidelity.row_counts') && x.includes('public.local')), f.join('\n'));
  });

  for (const format of ['plain', 'custom'] as const) {
    test(`must FAIL: ${format}, a matview over no foreign table whose refresh fails still FAILs the drill (not held back)`, async () => {
      // A function that relies on the session's search_path: pg_dump restores with an empty one, so the refresh fails.
      await psql(source, 'postgres', { sql: `CREATE DATABASE app_bad_${format} TEMPLATE app` });
      await psql(source, `app_bad_${format}`, { sql: `CREATE FUNCTION public.needs_path() RETURNS int LANGUAGE plpgsql AS $$BEGIN IF current_setting('search_path') = '' THEN RAISE EXCEPTION 'no search_path'; END IF; RETURN 1; END$$;
        CREATE MATERIALIZED VIEW public.mv_bad AS SELECT public.needs_path() AS n` });
      const file = await pgDump(source, `app_bad_${format}`, format, join(dir.path, `mv-bad.${format}`));
      forceJailModeForTests('none');
      const w = await watched(() => verifyArtifact({ artifact: file, outDir: join(dir.path, `out-mv-bad-${format}`), database: 'app', globals: false }));
      forceJailModeForTests(null);
      assert.deepEqual(w.connections, []);
      assert.equal(w.result.exitCode, 1);
      const err = w.result.report.restore?.errors.find((e) => e.classification !== 'benign');
      assert.match(err?.message ?? '', /no search_path/);
      assert.match(err?.statement ?? '', /REFRESH MATERIALIZED VIEW public\.mv_bad/);
      assert.ok(!noteOf(w.result.report, 'matview-not-refreshed').includes('mv_bad'));
    });
  }

  test('must FAIL: a function that RAISEs the refusal\'s very text does not have its failing view excused', async () => {
    await psql(source, 'postgres', { sql: 'CREATE DATABASE app_forge TEMPLATE app' });
    await psql(source, 'app_forge', { sql: `CREATE FUNCTION public.forged() RETURNS int LANGUAGE plpgsql AS $$BEGIN IF current_setting('search_path') = '' THEN RAISE EXCEPTION 'access to non-system foreign table is restricted' USING ERRCODE = '55000'; END IF; RETURN 1; END$$;
      CREATE MATERIALIZED VIEW public.mv_forged AS SELECT public.forged() AS n` });
    const file = await pgDump(source, 'app_forge', 'plain', join(dir.path, 'forged.sql'));
    forceJailModeForTests('none');
    const w = await watched(() => verifyArtifact({ artifact: file, outDir: join(dir.path, 'out-forged'), database: 'app', globals: false }));
    forceJailModeForTests(null);
    assert.equal(w.result.exitCode, 1);
    assert.match(w.result.report.restore?.errors.find((e) => e.classification !== 'benign')?.statement ?? '', /REFRESH MATERIALIZED VIEW public\.mv_forged/);
    assert.ok(!noteOf(w.result.report, 'matview-not-refreshed').includes('mv_forged'));
  });

  test('must FAIL: run, a matview over an ordinary table left unpopulated in the copy still FAILs (the exception is exact)', async () => {
    const w = await watched(() => runDrill({
      source: urlOf(source, 'app'), outDir: join(dir.path, 'out-run-mv'),
      afterRestore: async (copy) => { await runSql(copy.env, 'REFRESH MATERIALIZED VIEW public.mv_local WITH NO DATA'); },
    }));
    assert.deepEqual(w.connections, []);
    const f = failures(w.result.report);
    assert.ok(f.some((x) => x.startsWith('fidelity.catalog') && x.includes('materialized view public.mv_local: populated')), f.join('\n'));
    assert.ok(!f.some((x) => x.includes('mv_ft')), 'the held-back views are still expected unpopulated');
  });
});

/** Run one statement in a restored copy (a test's tampering), as its superuser. */
async function runSql(env: Record<string, string>, sql: string): Promise<void> {
  const { bins } = await import('../helpers/clusters.js');
  const { runProcess } = await import('../../src/exec/run-process.js');
  await runProcess({ bin: (await bins()).path('psql'), args: ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql], env });
}
