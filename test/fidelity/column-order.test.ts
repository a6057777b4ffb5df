import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { check, drill, failed } from './helpers.js';

/**
 * Column order is a catalog fact: positional INSERTs and `SELECT *` depend on it, and pg_dump cannot always
 * reproduce it. An inheritance child made before its parent gained a column holds (a, b, c, d); pg_dump writes
 * `CREATE TABLE child (c) INHERITS (parent)`, which makes (a, b, d, c).
 */
const DIFFERS_SQL = `
CREATE TABLE public.parent (a int, b int);
CREATE TABLE public.child (c int) INHERITS (public.parent);
ALTER TABLE public.parent ADD COLUMN d int;
INSERT INTO public.child VALUES (1, 2, 3, 4);`;

/** Odd but faithfully restored: dropped columns (attnums differ in the copy), a merged child, a partition attached in its own order, a typed table. */
const SAME_SQL = `
CREATE TABLE public.dropped (a int, x int, b text, y int, c date);
ALTER TABLE public.dropped DROP COLUMN x;
ALTER TABLE public.dropped DROP COLUMN y;
INSERT INTO public.dropped VALUES (1, 'one', '2020-01-01');
CREATE TABLE public.parent (a int, b int);
ALTER TABLE public.parent ADD COLUMN d int;
CREATE TABLE public.merged (a int, c int, b int) INHERITS (public.parent);
CREATE TABLE public.p (a int, b text) PARTITION BY LIST (a);
CREATE TABLE public.p1 (b text, a int);
ALTER TABLE public.p ATTACH PARTITION public.p1 FOR VALUES IN (1);
INSERT INTO public.p VALUES (1, 'x');
CREATE TYPE public.pair AS (x int, y int);
CREATE TABLE public.typed OF public.pair;`;

describe('column order of each table is compared (live columns by attnum, dropped ones excluded)', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  before(async () => {
    dir = await scratchDir();
    source = await startSource({ parentDir: dir.path });
    await psql(source, 'postgres', { sql: 'CREATE DATABASE differs' });
    await psql(source, 'postgres', { sql: 'CREATE DATABASE same' });
    await psql(source, 'differs', { sql: DIFFERS_SQL });
    await psql(source, 'same', { sql: SAME_SQL });
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  test('an inheritance child whose order pg_dump cannot reproduce: FAIL naming the table and both orders', async () => {
    const { report } = await drill(urlOf(source, 'differs'), dir.path, 'differs');
    assert.deepEqual(failed(report), ['fidelity.catalog']);
    assert.deepEqual(report.fidelity!.differences, [
      { object: 'table public.child', attribute: 'column order', source: 'a, b, c, d', restored: 'a, b, d, c' },
    ]);
    assert.match(check(report, 'fidelity.catalog').detail, /table public\.child: column order: source "a, b, c, d", restored "a, b, d, c"/);
    // The content is equal column by column (hashed by name): only the order differs.
    assert.equal(check(report, 'fidelity.content_hashes').status, 'pass');
  });

  test('dropped columns, a merged child, a partition attached in its own order, a typed table: PASS', async () => {
    const { report } = await drill(urlOf(source, 'same'), dir.path, 'same');
    assert.equal(report.status, 'PASS', failed(report).map((n) => `${n}: ${check(report, n).detail}`).join('\n'));
    assert.deepEqual(report.fidelity!.differences, []);
  });
});
