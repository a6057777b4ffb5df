/**
 * The catalog fingerprint (production untouched): what changes it and what must not. Built-in functions are one item
 * (their count, OIDs and rows' xmin: any change to one of their rows changes it; docs/safety.md, "The catalog
 * fingerprint"); functions created in the database a line each, by body too.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { catalogFingerprint } from '../../src/catalog/fingerprint.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { psql, scratchDir, startSource } from '../helpers/clusters.js';

describe('catalog fingerprint', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  before(async () => {
    dir = await scratchDir();
    source = await startSource({ parentDir: dir.path });
    await psql(source, 'postgres', { sql: 'CREATE DATABASE shop' });
    await psql(source, 'shop', {
      sql: `CREATE TABLE public.orders (id int PRIMARY KEY, total numeric); INSERT INTO public.orders SELECT g, g FROM generate_series(1, 100) g;
            CREATE FUNCTION public.tax(numeric) RETURNS numeric LANGUAGE sql AS 'SELECT $1 * 0.2';`,
    });
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  async function fingerprint(): Promise<{ fingerprint: string; items: number }> {
    await using db = await source.open('shop');
    return await catalogFingerprint(db);
  }

  /** The fingerprint before and after `sql` (run through psql on shop). */
  async function around(sql: string): Promise<[{ fingerprint: string; items: number }, { fingerprint: string; items: number }]> {
    const a = await fingerprint();
    await psql(source, 'shop', { sql });
    return [a, await fingerprint()];
  }

  test('unchanged catalog: equal; data changes, ANALYZE, VACUUM and another session\'s temp objects leave it equal', async () => {
    const a = await fingerprint();
    for (const sql of ['INSERT INTO public.orders VALUES (101, 1)', 'ANALYZE public.orders', 'VACUUM public.orders']) await psql(source, 'shop', { sql });
    await using other = await source.open('shop');
    await other.query('CREATE TEMP TABLE scratch (x int)');
    await other.query('CREATE TEMP VIEW scratch_v AS SELECT 1 AS one');
    const b = await fingerprint();
    assert.deepEqual(a, b);
    assert.ok(a.items > 300, `${a.items} items`);
  });

  test('VACUUM FREEZE, VACUUM FULL and ANALYZE of pg_proc leave it equal (they keep its rows\' xmin)', async () => {
    const a = await fingerprint();
    for (const sql of ['VACUUM FREEZE pg_catalog.pg_proc', 'VACUUM FULL pg_catalog.pg_proc', 'ANALYZE pg_catalog.pg_proc']) await psql(source, 'shop', { sql });
    assert.deepEqual(await fingerprint(), a);
  });

  test('a built-in function\'s body edited by hand, or the function renamed, changes it', async () => {
    const [a, b] = await around("UPDATE pg_catalog.pg_proc SET prosrc = prosrc WHERE oid = 'pg_catalog.pg_sleep(double precision)'::regprocedure");
    assert.notEqual(a.fingerprint, b.fingerprint);
    assert.equal(a.items, b.items);
    const [c, d] = await around('ALTER FUNCTION pg_catalog.pg_sleep(double precision) RENAME TO pg_sleep_renamed');
    assert.notEqual(c.fingerprint, d.fingerprint);
    await psql(source, 'shop', { sql: 'ALTER FUNCTION pg_catalog.pg_sleep_renamed(double precision) RENAME TO pg_sleep' });
  });

  test('a function\'s body replaced in place (same name, owner, ACL) changes it', async () => {
    const [a, b] = await around(`CREATE OR REPLACE FUNCTION public.tax(numeric) RETURNS numeric LANGUAGE sql AS 'SELECT $1 * 0.25'`);
    assert.notEqual(a.fingerprint, b.fingerprint);
    assert.equal(a.items, b.items);
  });

  test('a grant on a built-in function changes it, and a grant back changes it again', async () => {
    const [a, b] = await around('REVOKE EXECUTE ON FUNCTION pg_catalog.pg_sleep(double precision) FROM PUBLIC');
    assert.notEqual(a.fingerprint, b.fingerprint);
    const [, c] = await around('GRANT EXECUTE ON FUNCTION pg_catalog.pg_sleep(double precision) TO PUBLIC');
    assert.notEqual(c.fingerprint, b.fingerprint);
  });

  test('a built-in function\'s owner changed changes it', async () => {
    const [a, b] = await around('CREATE ROLE fp_owner; ALTER FUNCTION pg_catalog.pg_sleep(double precision) OWNER TO fp_owner');
    assert.notEqual(a.fingerprint, b.fingerprint);
    await psql(source, 'shop', { sql: 'ALTER FUNCTION pg_catalog.pg_sleep(double precision) OWNER TO postgres; DROP ROLE fp_owner' });
  });

  test('a column added, a table created, a role created: each changes it', async () => {
    for (const sql of ['ALTER TABLE public.orders ADD COLUMN note text', 'CREATE TABLE public.more (x int)', 'CREATE ROLE fp_new']) {
      const [a, b] = await around(sql);
      assert.notEqual(a.fingerprint, b.fingerprint, sql);
    }
  });
});
