import { describe, test } from 'node:test';
import { readFile } from 'node:fs/promises';
import assert from 'node:assert/strict';
import { psql, urlOf, usePagila } from '../helpers/clusters.js';
import { check, drill, failed } from './helpers.js';
import { renderHtml } from '../../src/report/html.js';
import type { Report } from '../../src/report/model.js';

/** How fidelity.row_counts took the restored rows: read back by the content hashes, or count(*). */
function countedBy(r: Report): { read_back: number; count: number } {
  return check(r, 'fidelity.row_counts').evidence!.counted_by as { read_back: number; count: number };
}

describe('fidelity checks name the culprit (pagila, restored copy changed before the checks)', () => {
  const fx = usePagila();

  test('a view definition changed: the catalog names the view, the round trip its entry', async () => {
    // Same columns (SELECT *), different rows: CREATE OR REPLACE VIEW accepts it.
    const { report } = await drill(urlOf(fx.source, 'pagila'), fx.dir, 'view', `DO $$ BEGIN
      EXECUTE 'CREATE OR REPLACE VIEW public.film_list AS SELECT * FROM (' || rtrim(pg_get_viewdef('public.film_list'::regclass), ';') || ') AS s WHERE s.fid > 10';
    END $$`);
    assert.deepEqual(failed(report), ['fidelity.catalog', 'fidelity.round_trip']);
    const diffs = report.fidelity!.differences;
    assert.deepEqual(diffs.map((d) => [d.object, d.attribute]), [['view public.film_list', 'definition']]);
    assert.doesNotMatch(diffs[0]!.source!, /fid > 10/);
    assert.match(diffs[0]!.restored!, /s\.fid > 10/);
    assert.match(check(report, 'fidelity.catalog').detail, /view public\.film_list: definition: source ".*", restored ".*"/);
    assert.match(report.fidelity!.round_trip!.section ?? '', /Name: film_list; Type: VIEW; Schema: public/);
  });

  test('rows missing from a restored table: the exact counts name the table and both counts', async () => {
    // Without --deep: the counts alone see it (with it, the content hashes would too).
    const { report } = await drill(urlOf(fx.source, 'pagila'), fx.dir, 'rows', 'DELETE FROM public.film_actor WHERE actor_id = 1', false, { source: { witness: 'counts' } });
    // The content hash of the dump's COPY lines (no --deep needed) sees it too.
    assert.deepEqual(failed(report), ['fidelity.row_counts', 'fidelity.content_hashes']);
    const row = report.tables.find((t) => t.schema === 'public' && t.name === 'film_actor')!;
    assert.ok(row.source_rows! > row.restored_rows!, JSON.stringify(row));
    assert.equal(row.match, false);
    assert.deepEqual(report.tables.filter((t) => !t.match).map((t) => t.name), ['film_actor']);
    const by = countedBy(report);
    assert.equal(check(report, 'fidelity.row_counts').detail, `1 table(s) differ: public.film_actor source ${row.source_rows}, dump ${row.dump_rows} vs restored ${row.restored_rows} (restored rows: ${by.read_back} read back whole by the content hashes' COPY … TO STDOUT (its rows), ${by.count} by count(*))`);
    assert.deepEqual(check(report, 'fidelity.row_counts').evidence!.evidence, ['dump-stream', 'source-snapshot']);
    // Every table the read-back read was counted by it (no second scan), the others (no COPY data) by count(*).
    assert.equal(by.read_back, report.tables.filter((t) => t.restored_copy_hash).length);
    assert.ok(by.read_back > 10, JSON.stringify(by));
    assert.equal(by.read_back + by.count, report.tables.filter((t) => t.restored_rows !== null).length);
    assert.match(check(report, 'fidelity.content_hashes').detail, /^1 difference\(s\) in content: public\.film_actor \(dump c2:\w+… \d+ rows, restored c2:\w+… \d+ rows\)/);
  });

  test('a row added to a restored table: counted by the read-back, the exact counts name the table', async () => {
    const { report } = await drill(urlOf(fx.source, 'pagila'), fx.dir, 'row-added', "INSERT INTO public.language (name) VALUES ('Klingon')", false, { source: { witness: 'counts' } });
    assert.deepEqual(failed(report), ['fidelity.row_counts', 'fidelity.content_hashes']);
    const row = report.tables.find((t) => t.schema === 'public' && t.name === 'language')!;
    assert.deepEqual([row.source_rows, row.dump_rows, row.restored_rows, row.match], [6, 6, 7, false]);
    assert.match(check(report, 'fidelity.row_counts').detail, /^1 table\(s\) differ: public\.language source 6, dump 6 vs restored 7 /);
  });

  test('a table the read-back cannot read (a column renamed in the copy): its rows counted by count(*), not taken from a failed read', async () => {
    const { report } = await drill(urlOf(fx.source, 'pagila'), fx.dir, 'unreadable', 'ALTER TABLE public.actor RENAME COLUMN last_name TO surname', false, { source: { witness: 'counts' } });
    assert.deepEqual(failed(report), ['fidelity.content_hashes', 'fidelity.catalog', 'fidelity.round_trip']);
    assert.equal(check(report, 'fidelity.row_counts').status, 'pass');
    const actor = report.tables.find((t) => t.name === 'actor')!;
    assert.deepEqual([actor.source_rows, actor.restored_rows, actor.restored_copy_hash], [200, 200, null]);
    assert.match(check(report, 'fidelity.content_hashes').detail, /public\.actor could not be read back with COPY … TO STDOUT: .*last_name/);
    const by = countedBy(report);
    assert.equal(by.read_back, report.tables.filter((t) => t.restored_copy_hash).length, 'actor is not among them');
    assert.equal(by.read_back + by.count, report.tables.filter((t) => t.restored_rows !== null).length);
  });

  test("a value changed in the copy, the source witness off: only the dump stream's hash sees it, and names the table", async () => {
    // Same row count, one value changed: nothing on the source is read beyond pg_dump's own COPY.
    const { report } = await drill(urlOf(fx.source, 'pagila'), fx.dir, 'stream-value', "UPDATE public.actor SET last_name = last_name || ' ' WHERE actor_id = 7", false, { source: { witness: 'none' } });
    assert.deepEqual(failed(report), ['fidelity.content_hashes']);
    const c = check(report, 'fidelity.content_hashes');
    assert.deepEqual(c.evidence!.evidence, ['dump-stream']);
    assert.deepEqual(c.evidence!.differ, ['public.actor']);
    assert.match(c.detail, /public\.actor \(dump c2:\w+… 200 rows, restored c2:\w+… 200 rows\)/);
    const actor = report.tables.find((t) => t.name === 'actor')!;
    assert.equal(actor.source_rows, null, 'witness none: no count(*) on the source');
    assert.notEqual(actor.dump_hash, actor.restored_copy_hash);
    assert.deepEqual(check(report, 'fidelity.row_counts').evidence!.evidence, ['dump-stream']);
    assert.deepEqual(report.fidelity!.hashes!.evidence, ['dump-stream']);
  });

  test('source.witness: hashes — the source server hashes too, and a changed row fails both evidences', async () => {
    const { report } = await drill(urlOf(fx.source, 'pagila'), fx.dir, 'witness-hashes', "UPDATE public.category SET name = 'Changed' WHERE category_id = 3", false, { source: { witness: 'hashes' } });
    assert.deepEqual(failed(report), ['fidelity.content_hashes']);
    const c = check(report, 'fidelity.content_hashes');
    assert.deepEqual(c.evidence!.evidence, ['dump-stream', 'source-snapshot']);
    assert.match(c.detail, /public\.category \(dump c2:.*public\.category \(source /);
    const cat = report.tables.find((t) => t.name === 'category')!;
    assert.notEqual(cat.source_hash, cat.restored_hash);
    // One read of each table on the source: the hash's own count(*) counts it, no count(*) pass beside.
    assert.ok(!report.production.audit.some((a) => /^SELECT count\(\*\) FROM ONLY /.test(a.sql)), 'no separate count pass');
    assert.ok(report.tables.filter((t) => t.source_hash).length > 10);
    for (const t of report.tables) assert.equal(t.source_rows, t.dump_rows, `${t.schema}.${t.name}: counted by its hash`);
  });

  test('an object missing from the restored copy: restore.objects names it (the catalog and the round trip too)', async () => {
    const { report } = await drill(urlOf(fx.source, 'pagila'), fx.dir, 'objects', 'DROP VIEW public.actor_info', false);
    assert.deepEqual(failed(report), ['restore.objects', 'fidelity.catalog', 'fidelity.round_trip']);
    assert.match(check(report, 'restore.objects').detail, /^1 source object\(s\) missing after restore: view:public\.actor_info$/);
    assert.deepEqual(report.restore!.missing_objects, ['view:public.actor_info']);
  });

  test('a sequence behind the snapshot: the catalog names the sequence and both positions', async () => {
    const { report } = await drill(urlOf(fx.source, 'pagila'), fx.dir, 'sequence', "SELECT setval('public.actor_actor_id_seq', 5)");
    assert.deepEqual(failed(report), ['fidelity.catalog']);
    assert.deepEqual(report.fidelity!.differences, [
      { object: 'sequence public.actor_actor_id_seq', attribute: 'position (not behind)', source: '200', restored: '5' },
    ]);
    // Schema-only dumps carry no sequence values: the round trip cannot see it, the catalog check does.
    assert.equal(check(report, 'fidelity.round_trip').status, 'pass');
  });

  test('a sequence ahead of the snapshot is not a difference (sequences are not transactional)', async () => {
    const { report } = await drill(urlOf(fx.source, 'pagila'), fx.dir, 'ahead', "SELECT setval('public.actor_actor_id_seq', 5000)");
    assert.equal(report.status, 'PASS', failed(report).join(', '));
    assert.equal(check(report, 'fidelity.catalog').status, 'pass');
  });

  test('an index that no longer matches its heap: amcheck names the index', async () => {
    // A function declared IMMUTABLE that changes after the index was built: the index holds the old values, so
    // bt_index_check(heapallindexed) finds heap tuples without their index entry.
    const { report } = await drill(urlOf(fx.source, 'pagila'), fx.dir, 'amcheck', `
      CREATE FUNCTION public.f_idx(int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT $1';
      CREATE INDEX actor_f_idx ON public.actor (public.f_idx(actor_id));
      CREATE OR REPLACE FUNCTION public.f_idx(int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT -$1';`);
    const c = check(report, 'fidelity.amcheck');
    assert.equal(c.status, 'fail');
    assert.match(c.detail, /corruption in 1 relation\(s\): btree index public\.actor_f_idx: .*lacks matching index tuple/);
    const am = report.fidelity!.amcheck!;
    assert.equal(am.exit_code, 2);
    assert.ok((c.evidence!.args as string[]).includes('--heapallindexed'), '--deep runs --heapallindexed');
    assert.deepEqual(am.relations.filter((r) => r.status === 'corrupt').map((r) => r.relation), ['public.actor_f_idx']);
    assert.equal(check(report, 'fidelity.content_hashes').status, 'pass');
  });

  test('without --deep, pg_amcheck checks structure (no --heapallindexed) and still names a broken index', async () => {
    // A B-tree built with one ordering and checked with another (its comparison function was replaced): the
    // item order invariant no longer holds. The structural check finds it without --heapallindexed.
    const { report } = await drill(urlOf(fx.source, 'pagila'), fx.dir, 'amcheck-structure', `
      CREATE FUNCTION public.drill_cmp(int, int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT CASE WHEN $1 < $2 THEN -1 WHEN $1 > $2 THEN 1 ELSE 0 END';
      CREATE OPERATOR CLASS public.drill_ops FOR TYPE int USING btree AS
        OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >, FUNCTION 1 public.drill_cmp(int, int);
      CREATE INDEX rental_drill_idx ON public.rental (rental_id public.drill_ops);
      CREATE OR REPLACE FUNCTION public.drill_cmp(int, int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT CASE WHEN $1 < $2 THEN 1 WHEN $1 > $2 THEN -1 ELSE 0 END';`, false);
    const c = check(report, 'fidelity.amcheck');
    assert.equal(c.status, 'fail');
    assert.match(c.detail, /btree index public\.rental_drill_idx: .*item order invariant violated/);
    assert.ok(!(c.evidence!.args as string[]).includes('--heapallindexed'), 'no --heapallindexed without --deep');
    // Content hashes need no --deep: they come from the dump's own stream.
    assert.equal(check(report, 'fidelity.content_hashes').status, 'pass');
  });

  test('large objects: restored with owner, grant, comment and bytes they compare equal; one missing, another owner, other bytes are named', async () => {
    // 424244: 2.5 MiB, read in three slices.
    await psql(fx.source, 'pagila', { sql: `CREATE ROLE lo_owner; CREATE ROLE lo_reader;
      SELECT pg_catalog.lo_from_bytea(424242, 'first'), pg_catalog.lo_from_bytea(424243, 'second');
      SELECT pg_catalog.lo_from_bytea(424244, decode(repeat('ab', 2621440), 'hex'));
      ALTER LARGE OBJECT 424242 OWNER TO lo_owner; GRANT SELECT ON LARGE OBJECT 424243 TO lo_reader;
      COMMENT ON LARGE OBJECT 424243 IS 'kept';` });
    try {
      const same = await drill(urlOf(fx.source, 'pagila'), fx.dir, 'lo-same');
      assert.equal(same.report.status, 'PASS', failed(same.report).join(', '));
      assert.match(check(same.report, 'fidelity.content_hashes').detail, /every content hash equal .*; 3 large object\(s\) \(2621451 bytes, sha256 from the dump\)/);
      assert.deepEqual([same.report.fidelity!.hashes!.large_objects, same.report.fidelity!.hashes!.large_objects_differ], [3, 0]);
      // One byte changed in the third slice: only the content hashes see it (the catalog compares owners, grants, comments).
      const bytes = await drill(urlOf(fx.source, 'pagila'), fx.dir, 'lo-bytes', "SELECT pg_catalog.lo_put(424244, 2200000, '\\x58'::bytea)");
      assert.deepEqual(failed(bytes.report), ['fidelity.content_hashes']);
      const hashes = check(bytes.report, 'fidelity.content_hashes');
      assert.match(hashes.detail, /^1 difference\(s\) in content: large object 424244 \(source 2621440 bytes sha256 [0-9a-f]{12}…, restored 2621440 bytes sha256 [0-9a-f]{12}…\) — evidence: /);
      assert.deepEqual(hashes.evidence!.large_objects_differ, ['424244']);
      assert.equal(bytes.report.fidelity!.hashes!.large_objects_differ, 1);
      assert.match(renderHtml(bytes.report), /✖<\/span> DIFFERENT<\/span> \d+ of \d+ tables equal; 3 large objects, 1 differ/);
      const { report } = await drill(urlOf(fx.source, 'pagila'), fx.dir, 'lo-changed',
        'SELECT pg_catalog.lo_unlink(424243); ALTER LARGE OBJECT 424242 OWNER TO lo_reader', false);
      assert.deepEqual(failed(report), ['fidelity.catalog']);
      const diffs = report.fidelity!.differences.map((d) => [d.object, d.attribute, d.source, d.restored]);
      assert.deepEqual(diffs.filter((d) => d[1] === 'owner' || d[1] === 'object'), [
        ['large object 424242', 'owner', 'lo_owner', 'lo_reader'],
        ['large object 424243', 'object', 'present', null],
      ]);
      // The owner's implicit grants (a NULL ACL compares as the owner's default) moved with it.
      assert.ok(diffs.some((d) => d[0] === 'large object 424242' && d[1] === 'grant SELECT to lo_owner' && d[3] === null), JSON.stringify(diffs));
    } finally {
      await psql(fx.source, 'pagila', { sql: 'SELECT pg_catalog.lo_unlink(424242), pg_catalog.lo_unlink(424243), pg_catalog.lo_unlink(424244); DROP ROLE lo_owner; DROP ROLE lo_reader;' });
    }
  });

  test('objects named outside ASCII are compared in code-point order: no false difference, and a change is named', async () => {
    // UTF-16 order (JavaScript's <) puts "t😀" before "t\uFFFD"; the catalog query's UTF-8 byte order puts it after.
    await psql(fx.source, 'pagila', { sql: 'CREATE TABLE public."t\u{1F600}" (a int); CREATE TABLE public."t\uFFFD" (a int); CREATE TABLE public."té" (a int);' });
    const { report } = await drill(urlOf(fx.source, 'pagila'), fx.dir, 'unicode', 'ALTER TABLE public."t\uFFFD" SET (fillfactor = 70)', false);
    assert.deepEqual(failed(report), ['fidelity.catalog', 'fidelity.round_trip']);
    assert.deepEqual(report.fidelity!.differences.map((d) => [d.attribute, d.source, d.restored]), [['options', null, 'fillfactor=70']]);
    assert.match(report.fidelity!.differences[0]!.object, /^table public\.("t\uFFFD"|t\uFFFD)$/);
  });
  test('two objects changed: the round trip counts them and names each with its lines (all of them in the run directory)', async () => {
    const { report } = await drill(urlOf(fx.source, 'pagila'), fx.dir, 'round-trip-two', `
      ALTER TABLE public.film ALTER COLUMN rental_duration SET DEFAULT 7;
      COMMENT ON TABLE public.actor IS 'changed in the copy';`, false);
    assert.deepEqual(failed(report), ['fidelity.catalog', 'fidelity.round_trip']);
    const rt = report.fidelity!.round_trip!;
    assert.equal(rt.objects_differing, 2);
    assert.deepEqual(rt.objects!.map((o) => [o.section, o.kind]), [
      ['Name: film; Type: TABLE; Schema: public; Owner: postgres', 'differs'],
      ['Name: TABLE actor; Type: COMMENT; Schema: public; Owner: postgres', 'only in the restored copy'],
    ]);
    assert.deepEqual(rt.objects![0]!.lines.map((d) => [d.source?.trim(), d.restored?.trim()]), [
      ['rental_duration smallint DEFAULT 3 NOT NULL,', 'rental_duration smallint DEFAULT 7 NOT NULL,'],
    ]);
    assert.ok(rt.objects![1]!.lines.some((d) => d.source === null && /COMMENT ON TABLE public\.actor IS 'changed in the copy';/.test(d.restored ?? '')));
    const c = check(report, 'fidelity.round_trip');
    assert.match(c.detail, /^schema-only dumps differ in 2 object\(s\): in "Name: film; Type: TABLE;.*DEFAULT 3.*DEFAULT 7.*; in "Name: TABLE actor; Type: COMMENT;.*only in the restored copy/);
    const file = await readFile(rt.differences_path!, 'utf8');
    assert.match(file, /## Name: film; Type: TABLE; Schema: public; Owner: postgres — differs\n- \d+:     rental_duration smallint DEFAULT 3 NOT NULL,\n\+ \d+:     rental_duration smallint DEFAULT 7 NOT NULL,/);
    assert.match(file, /## Name: TABLE actor; Type: COMMENT; Schema: public; Owner: postgres — only in the restored copy/);
  });
});
