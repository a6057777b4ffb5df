/**
 * Restore errors that say what happened (issue 21, items 9, 10, 12), on real clusters:
 * - pg_dump's own BEGIN/COMMIT around large-object data does not end the one-transaction restore: a later failing
 *   statement leaves nothing committed and is exactly one finding, named with the statement the server ran;
 * - a table whose count fails on the source (its plan inlines a SQL function with an unqualified table name, which
 *   pg_dump's empty search_path cannot resolve) is one failed check naming it; the dump is still summed and restored.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { runDrill } from '../../src/drill/run-drill.js';
import type { RestoredCopy } from '../../src/fidelity/fidelity-stage.js';
import type { Report } from '../../src/report/model.js';
import { psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { countSourceRows, listTables } from '../../src/catalog/tables.js';
import { hashSourceTables } from '../../src/fidelity/content-hash.js';
import { prepareFidelitySession } from '../../src/fidelity/session.js';
import { openSession } from '../helpers/safety.js';
import { pgDump } from '../helpers/dumps.js';
import { verifyArtifact } from '../../src/verify/verify-artifact.js';
import { writeFile } from 'node:fs/promises';

/** Relations in the copy's public schema (after the restore, before anything measures it). */
async function relationsIn(copy: RestoredCopy): Promise<number> {
  const c = new pg.Client({ host: copy.env.PGHOST, port: Number(copy.env.PGPORT), user: copy.env.PGUSER, database: copy.database });
  await c.connect();
  try {
    return Number((await c.query(`SELECT count(*) FROM pg_catalog.pg_class WHERE relnamespace = 'public'::regnamespace`)).rows[0].count);
  } finally {
    await c.end();
  }
}

const failed = (r: Report) => r.checks.filter((c) => c.status === 'fail').map((c) => c.name);
const check = (r: Report, name: string) => r.checks.find((c) => c.name === name)!;

describe('restore errors: one transaction, one finding, the statement named', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  before(async () => {
    scratch = await scratchDir();
    source = await startSource({ parentDir: scratch.path });
    for (const db of ['lo', 'counts', 'odd']) await psql(source, 'postgres', { sql: `CREATE DATABASE ${db}` });
    // A materialized view whose function reads a table by an unqualified name: REFRESH (post-data, after the large
    // objects' data) fails under pg_dump's empty search_path. Its count is never taken (not a table).
    await psql(source, 'lo', { sql: `
      CREATE TABLE public.other (x int); INSERT INTO public.other VALUES (1), (2);
      CREATE TABLE public.keep (a int PRIMARY KEY); INSERT INTO public.keep SELECT generate_series(1, 50);
      CREATE FUNCTION public.g() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM other';
      CREATE MATERIALIZED VIEW public.mv AS SELECT public.g() AS n;
      SELECT pg_catalog.lo_from_bytea(4242, '\\x0102030405');
      SELECT pg_catalog.lo_from_bytea(4243, '\\x');` });
    // An expression index whose IMMUTABLE SQL function reads a table by an unqualified name: any plan on public.t
    // inlines it, so count(*) of public.t fails under an empty search_path (and the index cannot be restored).
    await psql(source, 'counts', { sql: `
      CREATE TABLE public.other (x int); INSERT INTO public.other VALUES (1);
      CREATE FUNCTION public.f(int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT $1 + (SELECT count(*) FROM other)::int';
      CREATE TABLE public.t (a int); INSERT INTO public.t SELECT generate_series(1, 10);
      CREATE INDEX t_f ON public.t (public.f(a));
      CREATE TABLE public.u (a int); INSERT INTO public.u VALUES (1);` });
    // Legitimate but odd: text that looks like pg_dump's BEGIN/COMMIT lines inside a literal, a function body and
    // COPY data, beside large objects; all of it must restore as it is.
    await psql(source, 'odd', { sql: `
      CREATE TABLE public.notes (id int PRIMARY KEY, body text);
      INSERT INTO public.notes VALUES (1, E'BEGIN;\\nCOMMIT;'), (2, 'COMMIT;'), (3, E'line\\nBEGIN;');
      CREATE FUNCTION public.h() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
/*
BEGIN;
COMMIT;
*/
RETURN 'x';
END
$$;
      CREATE VIEW public.v AS SELECT 'x
COMMIT;
'::text AS t;
      SELECT pg_catalog.lo_from_bytea(5000, convert_to(E'BEGIN;\\nCOMMIT;\\n', 'UTF8'));` });
  });
  after(async () => {
    await source?.stop();
    await scratch?.[Symbol.asyncDispose]();
  });

  for (const overlap of [true, false]) {
    test(`a large object, then a failing statement: nothing committed, exactly one finding with its statement (overlap ${overlap})`, async () => {
      let relations = -1;
      const { report } = await runDrill({
        source: urlOf(source, 'lo'), outDir: join(scratch.path, `lo-${overlap}`), config: { backup: { overlap } },
        afterRestore: async (copy) => void (relations = await relationsIn(copy)),
      });
      assert.deepEqual(failed(report), ['restore.errors']);
      assert.equal(check(report, 'restore.roles').status, 'pass', 'roles are the cluster\'s: still checked');
      const errors = report.restore!.errors;
      assert.equal(errors.length, 1, JSON.stringify(errors));
      assert.equal(errors[0]!.sqlstate, '42P01');
      assert.equal(errors[0]!.statement, 'REFRESH MATERIALIZED VIEW public.mv;');
      assert.match(check(report, 'restore.errors').detail, /in: REFRESH MATERIALIZED VIEW public\.mv;/);
      assert.equal(relations, 0, 'pg_dump\'s COMMIT after the large objects must not have committed the tables');
      assert.equal(check(report, 'fidelity.skipped').status, 'skip');
      assert.match(check(report, 'restore.objects').detail, /rolled back as a whole/);
      // The run log has the failed statement too.
      const runLog = await readFile(join(report.backup.path!, '..', 'run.log'), 'utf8');
      assert.match(runLog, /restore error \(dump, line \d+\): 42P01: relation "other" does not exist\n {2}statement: REFRESH MATERIALIZED VIEW public\.mv;/);
    });
  }

  test('BEGIN;/COMMIT; inside literals, a function body, COPY data and a large object restore as they are', async () => {
    const { report } = await runDrill({ source: urlOf(source, 'odd'), outDir: join(scratch.path, 'odd'), deep: true });
    assert.equal(report.status, 'PASS', failed(report).join(', '));
    assert.equal(check(report, 'fidelity.content_hashes').status, 'pass');
  });

  test('a count that fails on one table: one failed check naming it, the dump still summed and restored', async () => {
    const { report } = await runDrill({ source: urlOf(source, 'counts'), outDir: join(scratch.path, 'counts'), config: { source: { witness: 'counts' } } });
    const c = check(report, 'backup.source_counts');
    assert.equal(c.status, 'fail');
    assert.match(c.detail, /for 1 table\(s\).*public\.t: relation "other" does not exist \(SQLSTATE 42P01\)/);
    assert.deepEqual((c.evidence!.tables as { name: string }[]).map((t) => t.name), ['t']);
    assert.ok(!report.checks.some((x) => x.name === 'drill.aborted' || x.name === 'backup.error'), failed(report).join(', '));
    assert.equal(check(report, 'backup.sha256_self_check').status, 'pass');
    const sums = await readFile(report.backup.sums_path!, 'utf8');
    assert.match(sums, /\.sql\n/);
    // The dump went on to the restore, where the same function stops the index: that is the restore's own finding.
    assert.equal(report.restore!.errors.length, 1);
    assert.match(report.restore!.errors[0]!.statement!, /^CREATE INDEX t_f ON public\.t USING btree \(public\.f\(a\)\);$/);
  });

  test('in the snapshot session, a table whose count or hash fails is named; every other table is counted and hashed', async () => {
    await using db = await openSession(source, 'counts');
    await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await prepareFidelitySession(db); // pg_dump's empty search_path
    const tables = await listTables(db);
    const counted = await countSourceRows(db, tables);
    assert.deepEqual(counted.counts.map((c) => [c.name, c.rows]), [['other', 1], ['u', 1]]);
    assert.deepEqual(counted.failures.map((f) => [f.name, f.sqlstate]), [['t', '42P01']]);
    assert.match(counted.failures[0]!.error, /relation "other" does not exist/);
    const hashed = await hashSourceTables(db, tables);
    assert.deepEqual(hashed.hashes.map((h) => h.name), ['other', 'u']);
    assert.deepEqual(hashed.failures.map((f) => f.name), ['t']);
    // The transaction (and so the snapshot pg_dump imported) is still usable.
    assert.equal(await db.value<string>('SELECT count(*)::text FROM public.u'), '1');
    await db.query('ROLLBACK');
  });

  test('a custom archive: pg_restore\'s failing statement is named as the server ran it', async () => {
    const { report } = await runDrill({ source: urlOf(source, 'lo'), outDir: join(scratch.path, 'lo-custom'), format: 'custom' });
    const errors = report.restore!.errors;
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.equal(errors[0]!.statement, 'REFRESH MATERIALIZED VIEW public.mv;');
    assert.equal(errors[0]!.message, 'relation "other" does not exist');
    assert.equal(errors[0]!.sqlstate, '42P01', 'pg_restore prints none: the server log has it');
    // pg_restore went on past the error; the archive was restored again as one transaction, which stopped there and
    // rolled back: one error, one finding — not a difference for the unpopulated view besides.
    assert.deepEqual(failed(report), ['restore.errors']);
    assert.match(report.notes.find((n) => n.id === 'restore-one-transaction')?.text ?? '', /restored again with --single-transaction, which stopped at its first error and rolled back/);
    assert.match(check(report, 'restore.objects').detail, /rolled back as a whole/);
  });

  test('an error in the globals only: the dump, restored after them, is still compared', async () => {
    const dump = await pgDump(source, 'odd', 'plain', join(scratch.path, 'odd.sql'));
    const globals = join(scratch.path, 'odd.globals.sql');
    await writeFile(globals, 'CREATE ROLE postgres;\nCREATE ROLE pgdrill_g;\nALTER ROLE pgdrill_g SET pgdrill_no_such_setting TO \'on\';\n');
    const { report } = await verifyArtifact({ artifact: dump, globals, outDir: join(scratch.path, 'globals-error') });
    assert.deepEqual(report.restore!.errors.map((e) => [e.phase, e.classification]), [['globals', 'environment_defect']]);
    assert.equal(check(report, 'fidelity.row_counts').status, 'pass');
    assert.ok(!report.checks.some((c) => c.name === 'fidelity.skipped'), report.checks.map((c) => c.name).join(', '));
  });
});
