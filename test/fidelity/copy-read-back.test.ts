import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bins, psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { pgDump } from '../helpers/dumps.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { scanPlainDumpFile } from '../../src/scan/plain-dump-scanner.js';
import { gatherCopyTargets } from '../../src/fidelity/copy-targets.js';
import { hashRestoredCopies, UNKNOWN_DUMP_SESSION } from '../../src/fidelity/copy-hash-restored.js';
import { verifyArtifact } from '../../src/verify/verify-artifact.js';
import { DbSession } from '../../src/pg/client.js';
import { check, drill, failed } from './helpers.js';

/**
 * COPY targets that `COPY t TO STDOUT` cannot read, in real dumps: blocks that name a partitioned root (pg_dump
 * writes them for a table hash-partitioned on an enum, and for every partitioned table with
 * --load-via-partition-root: one per leaf, each with the leaf's own column list) and foreign tables dumped with
 * --include-foreign-data. Each is read back by the statement its relkind needs, on a session and through psql.
 */
const ENUM_PARTS = `
CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE public.h (m public.mood, id int, note text) PARTITION BY HASH (m);
CREATE TABLE public.h0 PARTITION OF public.h FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE public.h1 PARTITION OF public.h FOR VALUES WITH (MODULUS 2, REMAINDER 1);
INSERT INTO public.h SELECT (ARRAY['sad', 'ok', 'happy']::public.mood[])[1 + i % 3], i, 'n' || i FROM generate_series(1, 30) i;
CREATE TABLE public.plain (id int PRIMARY KEY, v text);
INSERT INTO public.plain SELECT i, 'v' || i FROM generate_series(1, 5) i;`;

/** Leaves in three shapes: made PARTITION OF, attached with its own column order, and a sub-partitioned one. */
const ROOT_LOAD = `
CREATE TABLE public.m (id int, note text, at date) PARTITION BY RANGE (id);
CREATE TABLE public.m1 PARTITION OF public.m FOR VALUES FROM (0) TO (100);
CREATE TABLE public.m2 (at date, note text, id int);
ALTER TABLE public.m ATTACH PARTITION public.m2 FOR VALUES FROM (100) TO (200);
CREATE TABLE public.m3 PARTITION OF public.m FOR VALUES FROM (200) TO (300) PARTITION BY LIST (note);
CREATE TABLE public.m3a PARTITION OF public.m3 FOR VALUES IN ('a');
CREATE TABLE public.m3b PARTITION OF public.m3 DEFAULT;
INSERT INTO public.m SELECT i, CASE WHEN i % 2 = 0 THEN 'a' ELSE 'b' END, date '2020-01-01' + i FROM generate_series(0, 299) i;`;

describe('read-back of COPY targets that COPY t TO STDOUT refuses (partitioned roots, foreign tables)', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  before(async () => {
    dir = await scratchDir();
    source = await startSource({ parentDir: dir.path });
    for (const db of ['enumparts', 'rootload', 'rootcopy', 'remote', 'remote2', 'withfdw', 'fdwcopy']) await psql(source, 'postgres', { sql: `CREATE DATABASE ${db}` });
    await psql(source, 'enumparts', { sql: ENUM_PARTS });
    await psql(source, 'rootload', { sql: ROOT_LOAD });
    await psql(source, 'remote', { sql: "CREATE TABLE public.r (id int, v text); INSERT INTO public.r VALUES (1, 'one'), (2, NULL), (3, 'three')" });
    await psql(source, 'remote2', { sql: 'CREATE TABLE public.r (id int, v text)' });
    await psql(source, 'withfdw', { sql: `CREATE EXTENSION postgres_fdw;
      CREATE SERVER rs FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '${source.socketDir}', port '${source.port}', dbname 'remote');
      CREATE USER MAPPING FOR CURRENT_USER SERVER rs OPTIONS (user '${source.superuser}');
      CREATE FOREIGN TABLE public.ft (id int, v text) SERVER rs OPTIONS (table_name 'r');` });
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  const session = (db: string) => () => DbSession.open({ host: source.socketDir, port: source.port, user: source.superuser, database: db });
  /** The dump's targets against the restored database's read-back, on sessions and through psql: [table, equal] per target. */
  const compare = async (dump: string, restored: string) => {
    const targets = [...gatherCopyTargets((await scanPlainDumpFile(dump)).copyBlocks).values()];
    const psqlBin = (await bins()).path('psql');
    const out: Record<string, [string, boolean][]> = {};
    for (const [way, psqlOpt] of [['session', null], ['psql', { bin: psqlBin, env: source.env(restored) }]] as const) {
      const got = await hashRestoredCopies(targets, { open: session(restored), settings: UNKNOWN_DUMP_SESSION, encoding: 'UTF8', psql: psqlOpt, psqlRows: 0 });
      out[way] = got.map((r, i) => {
        assert.ok(!('error' in r), `${way} ${r.table}: ${'error' in r ? r.error : ''}`);
        return [r.table, 'hash' in r && r.hash === targets[i]!.hash && r.rows === targets[i]!.rows];
      });
    }
    assert.deepEqual(out.psql, out.session, 'both ways read the same');
    return out.session!;
  };

  test('a table hash-partitioned on an enum (pg_dump loads it via the root, two blocks naming it): PASS, counts and hashes summed', async () => {
    const { report } = await drill(urlOf(source, 'enumparts'), dir.path, 'enum-same', undefined, false);
    assert.equal(report.status, 'PASS', failed(report).map((n) => `${n}: ${check(report, n).detail}`).join('\n'));
    const h = report.tables.find((t) => t.name === 'h')!;
    assert.deepEqual([h.dump_rows, h.restored_rows, h.match], [30, 30, true]);
    assert.ok(h.dump_hash && h.dump_hash === h.restored_copy_hash);
  });

  test('the same with source.witness: counts (the source lists leaf tables only): PASS, the root counted from its blocks', async () => {
    const { report } = await drill(urlOf(source, 'enumparts'), dir.path, 'enum-counts', undefined, false, { source: { witness: 'counts' } });
    assert.equal(report.status, 'PASS', failed(report).map((n) => `${n}: ${check(report, n).detail}`).join('\n'));
    const row = (name: string) => report.tables.find((t) => t.name === name)!;
    assert.deepEqual([row('h0').source_rows! + row('h1').source_rows!, row('h').dump_rows, row('h').restored_rows], [30, 30, 30]);
    assert.ok(row('h').dump_hash && row('h').dump_hash === row('h').restored_copy_hash, 'the root is hash-compared too');
  });

  test('the same with one row altered in the restored copy: content_hashes FAILs naming the partitioned table', async () => {
    const { report } = await drill(urlOf(source, 'enumparts'), dir.path, 'enum-altered', "UPDATE public.h SET note = 'changed' WHERE id = 7", false);
    assert.deepEqual(failed(report), ['fidelity.content_hashes']);
    const c = check(report, 'fidelity.content_hashes');
    assert.deepEqual(c.evidence!.differ, ['public.h']);
    assert.match(c.detail, /public\.h \(dump [0-9a-f:]+… 30 rows, restored [0-9a-f:]+… 30 rows\)/);
  });

  test('verify of a --load-via-partition-root dump (leaves in other column orders, a sub-partitioned leaf): PASS', async () => {
    const file = await pgDump(source, 'rootload', 'plain', join(dir.path, 'rootload.sql'), ['--load-via-partition-root']);
    const blocks = (await scanPlainDumpFile(file)).copyBlocks;
    assert.deepEqual(blocks.map((b) => b.table), ['public.m', 'public.m', 'public.m', 'public.m'], 'every leaf block names the root');
    assert.equal(new Set(blocks.map((b) => b.columns)).size, 2, 'the attached leaf lists its own column order');
    const { report } = await verifyArtifact({ artifact: file, outDir: join(dir.path, 'verify-rootload') });
    assert.equal(report.status, 'PASS', failed(report).map((n) => `${n}: ${check(report, n).detail}`).join('\n'));
    const m = report.tables.find((t) => t.name === 'm')!;
    assert.deepEqual([m.dump_rows, m.restored_rows, m.match], [300, 300, true]);
    assert.ok(m.dump_hash && m.dump_hash === m.restored_copy_hash);
    // The root's 300 rows are its read-back's (every leaf of one of its blocks' column orders); the leaves, which no
    // block names, are count(*)ed.
    const by = check(report, 'fidelity.row_counts').evidence!.counted_by as { read_back: number; count: number };
    assert.deepEqual([by.read_back, by.count], [1, report.tables.length - 1], JSON.stringify(report.tables.map((t) => t.name)));
  });

  test('--load-via-partition-root restored by psql: equal; a row altered in the leaf of other column order: that target differs', async () => {
    const file = await pgDump(source, 'rootload', 'plain', join(dir.path, 'rootload-2.sql'), ['--load-via-partition-root']);
    await psql(source, 'rootcopy', { files: [file] });
    await assert.rejects(psql(source, 'rootcopy', { sql: 'COPY public.m TO STDOUT' }), /cannot copy from partitioned table/);
    assert.deepEqual(await compare(file, 'rootcopy'), [['public.m', true]]);
    await psql(source, 'rootcopy', { sql: "UPDATE public.m2 SET note = 'changed' WHERE id = 150" });
    assert.deepEqual(await compare(file, 'rootcopy'), [['public.m', false]]);
  });

  test('a foreign table dumped with --include-foreign-data: read with SELECT … FROM ONLY; equal, then a changed remote row differs', async () => {
    const file = await pgDump(source, 'withfdw', 'plain', join(dir.path, 'withfdw.sql'), ['--include-foreign-data=rs']);
    assert.deepEqual((await scanPlainDumpFile(file)).copyBlocks.map((b) => [b.table, b.rows]), [['public.ft', 3]]);
    // Restoring a foreign table's data writes into its remote: this copy's server points at an empty one.
    const text = (await readFile(file, 'utf8')).replace("dbname 'remote'", "dbname 'remote2'");
    await writeFile(join(dir.path, 'withfdw-2.sql'), text);
    await psql(source, 'fdwcopy', { files: [join(dir.path, 'withfdw-2.sql')] });
    await assert.rejects(psql(source, 'fdwcopy', { sql: 'COPY public.ft TO STDOUT' }), /cannot copy from foreign table/);
    assert.deepEqual(await compare(file, 'fdwcopy'), [['public.ft', true]]);
    await psql(source, 'remote2', { sql: "UPDATE public.r SET v = 'TWO' WHERE id = 2" });
    assert.deepEqual(await compare(file, 'fdwcopy'), [['public.ft', false]]);
  });

  test("a target psql cannot read: the table's error is psql's own message, and the others are still read", async () => {
    const psqlOpt = { bin: (await bins()).path('psql'), env: source.env('enumparts') };
    const got = await hashRestoredCopies([{ table: 'public.gone', columns: 'a', rows: 1 }, { table: 'public.plain', columns: 'id, v', rows: 5 }],
      { open: session('enumparts'), settings: UNKNOWN_DUMP_SESSION, encoding: 'UTF8', psql: psqlOpt, psqlRows: 0 });
    assert.match('error' in got[0]! ? got[0].error : '', /^ERROR: {2}relation "public\.gone" does not exist/);
    assert.equal('rows' in got[1]! ? got[1].rows : null, 5);
  });
});
