import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { psql, scratchDir, startSource } from '../helpers/clusters.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { DbSession } from '../../src/pg/client.js';
import { hashTables } from '../../src/fidelity/content-hash.js';
import { prepareFidelitySession } from '../../src/fidelity/session.js';
import { ODD_SETTINGS_SQL, TYPES_SQL } from './fixtures.js';
import { check, drill, failed } from './helpers.js';
import { join } from 'node:path';
import { pgDump } from '../helpers/dumps.js';
import { verifyArtifact } from '../../src/verify/verify-artifact.js';

describe('content hashes and catalog facts across every column type and odd session settings', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  before(async () => {
    dir = await scratchDir();
    source = await startSource({ parentDir: dir.path });
    await psql(source, 'postgres', { sql: 'CREATE DATABASE types' });
    await psql(source, 'types', { sql: TYPES_SQL });
    await psql(source, 'types', { sql: ODD_SETTINGS_SQL('types') });
    await psql(source, 'types', { sql: 'CREATE TABLE public.empty_table (a int, b text)' });
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  const url = () => source.url('types').replace('pgdrill@', `${source.superuser}@`);
  const session = async () => DbSession.open({ host: source.socketDir, port: source.port, user: source.superuser, database: 'types' });

  test('drill --deep of a source whose database sets TimeZone, DateStyle, IntervalStyle, extra_float_digits, bytea_output: all equal', async () => {
    // Both evidences: the dump's COPY lines against the copy's COPY TO (in the source's TimeZone and bytea_output,
    // read in the snapshot), and the source server's own row hashes (source.witness: hashes).
    const { report } = await drill(url(), dir.path, 'types', undefined, true, { source: { witness: 'hashes' } });
    assert.equal(report.status, 'PASS', failed(report).map((n) => `${n}: ${check(report, n).detail}`).join('\n'));
    assert.ok(report.tables.length >= 7);
    for (const t of report.tables) assert.equal(t.restored_hash, t.source_hash, `${t.schema}.${t.name}`);
    for (const t of report.tables) {
      assert.match(t.dump_hash ?? '', /^c2:/, `${t.schema}.${t.name}`);
      assert.equal(t.restored_copy_hash, t.dump_hash, `${t.schema}.${t.name}`);
    }
    assert.deepEqual(check(report, 'fidelity.content_hashes').evidence!.evidence, ['dump-stream', 'source-snapshot']);
    const f = report.fidelity!;
    assert.deepEqual(f.differences, []);
    assert.equal(f.round_trip!.equal, true);
    assert.equal(f.catalog!.sequences_checked, 3);
  });

  test("a changed value of each type class fails the dump stream's hash (source witness off), naming the table", async () => {
    // One UPDATE per class, each in its own table copy would cost a drill each: one drill, every class changed in
    // a row of its own, and the table named once; the per-class sensitivity of the line hash is the unit tests'.
    const mutate = `UPDATE app.everything SET f8 = f8 + 1e-9, tstz = tstz + interval '1 microsecond', b = b || '\\x00'::bytea,
      jb = jb || '{"k": 1}', arr = arr || 9, mood = NULL, txt = '' WHERE id = 5`;
    const { report } = await drill(url(), dir.path, 'types-mutant', mutate, false, { source: { witness: 'none' } });
    assert.deepEqual(failed(report), ['fidelity.content_hashes']);
    assert.deepEqual(check(report, 'fidelity.content_hashes').evidence!.differ, ['app.everything']);
  });

  test("verify of a dump pgdrill did not take, written under TimeZone Pacific/Chatham and bytea_output escape: tables in such text listed as not comparable (warn), the others equal", async () => {
    const file = await pgDump(source, 'types', 'custom', join(dir.path, 'types.dump'));
    const { report } = await verifyArtifact({ artifact: file, outDir: join(dir.path, 'verify') });
    const c = check(report, 'fidelity.content_hashes');
    assert.equal(c.status, 'warn', c.detail);
    assert.ok((c.evidence!.not_comparable as string[]).some((x) => x.startsWith('app.everything ')), c.detail);
    assert.deepEqual(c.evidence!.differ, []);
    const bag = report.tables.find((t) => t.name === 'bag')!;
    assert.ok(bag.dump_hash && bag.dump_hash === bag.restored_copy_hash, 'a table of plain text and numbers compares exactly');
    const empty = report.tables.find((t) => t.name === 'empty_table')!;
    assert.deepEqual([empty.dump_rows, empty.restored_rows, empty.dump_hash === empty.restored_copy_hash], [0, 0, true]);
  });

  test('the hash does not depend on the session: same value under other TimeZone/DateStyle/float/bytea settings', async () => {
    await using db = await session();
    // The database's own settings (Pacific/Chatham, SQL/DMY, …) are in force here: prepare overrides them.
    await prepareFidelitySession(db);
    const [a] = await hashTables(db, [{ schema: 'app', name: 'everything' }]);
    await db.query("SET TimeZone = 'America/Los_Angeles'");
    await db.query("SET DateStyle = 'German, DMY'");
    await db.query('SET extra_float_digits = -3');
    await db.query("SET bytea_output = 'escape'");
    await prepareFidelitySession(db);
    const [b] = await hashTables(db, [{ schema: 'app', name: 'everything' }]);
    assert.equal(a!.hash, b!.hash);
    assert.equal(a!.rows, 505);
  });

  test('order-independent, duplicate-sensitive, NULL is not the empty string', async () => {
    await using db = await session();
    await psql(source, 'types', {
      sql: `CREATE TABLE public.h1 (a text, b int); CREATE TABLE public.h2 (b int, a text);
            INSERT INTO public.h1 SELECT 'r' || g, g FROM generate_series(1, 300) g;
            INSERT INTO public.h2 (a, b) SELECT 'r' || g, g FROM generate_series(300, 1, -1) g;
            CREATE TABLE public.h3 (a text, b int); INSERT INTO public.h3 SELECT * FROM public.h1; INSERT INTO public.h3 VALUES ('r1', 1);
            CREATE TABLE public.n1 (a text); INSERT INTO public.n1 VALUES (NULL);
            CREATE TABLE public.n2 (a text); INSERT INTO public.n2 VALUES ('');
            CREATE TABLE public.x1 (a int); INSERT INTO public.x1 VALUES (1), (1), (2);
            CREATE TABLE public.x2 (a int); INSERT INTO public.x2 VALUES (2), (3), (3);`,
    });
    try {
      await prepareFidelitySession(db);
      const h = Object.fromEntries((await hashTables(db, ['h1', 'h2', 'h3', 'n1', 'n2', 'x1', 'x2'].map((name) => ({ schema: 'public', name })))).map((x) => [x.name, x.hash]));
      // Same rows in another physical order and another column order: equal.
      assert.equal(h.h1, h.h2);
      // One duplicate row more: different (a sum, not an xor, of per-row digests).
      assert.notEqual(h.h1, h.h3);
      assert.notEqual(h.n1, h.n2);
      // Same count, and an xor of the digests would be equal (pairs cancel out, leaving md5 of (2) on both sides).
      assert.notEqual(h.x1, h.x2);
    } finally {
      await psql(source, 'types', { sql: 'DROP TABLE public.h1, public.h2, public.h3, public.n1, public.n2, public.x1, public.x2' });
    }
  });
});
