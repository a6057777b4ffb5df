/**
 * Cross-major normalisations (src/fidelity/cross-major.ts): each rule makes its legitimate difference compare equal
 * (the forms below are what the servers printed: a 13, 14 or 15 source restored into 14–18), applies only between the
 * majors it names, is counted, and leaves every other difference — of the same object too — a finding.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diffCatalogs } from '../../src/fidelity/catalog-diff.js';
import type { CatalogFact } from '../../src/fidelity/catalog-facts.js';
import { CROSS_MAJOR_RULES, CrossMajorNormaliser, jsonbText, rulesBetween, sameButUnqualified } from '../../src/fidelity/cross-major.js';
import { compareSchemaDumps, dumpedByMajor } from '../../src/fidelity/round-trip.js';
import { emptyFidelity } from '../../src/fidelity/verify-restored.js';
import { renderFidelity } from '../../src/report/fidelity-markdown.js';

const fact = (object: string, attribute: string, value: string): CatalogFact => ({ object, attribute, value });

async function diffAcross(sourceMajor: number, sandboxMajor: number, source: CatalogFact[], restored: CatalogFact[]) {
  const n = new CrossMajorNormaliser(sourceMajor, sandboxMajor);
  const side = (facts: CatalogFact[], s: 'source' | 'restored') => facts.map((f) => n.fact(f, s)).filter((f): f is CatalogFact => f !== null);
  const differences = (await diffCatalogs(side(source, 'source'), side(restored, 'restored'))).filter((d) => !n.explains(d));
  return { differences, applied: n.applied() };
}

const VIEW_15 = ' SELECT t.id,\n    (t.f * (2)::double precision) AS g\n   FROM app.t\n  WHERE (t.f > (0.5)::double precision);';
const VIEW_16 = ' SELECT id,\n    (f * (2)::double precision) AS g\n   FROM app.t\n  WHERE (f > (0.5)::double precision);';

test('rules apply only between the majors that changed: none for the same major or a sandbox not newer', () => {
  assert.deepEqual(rulesBetween(15, 15), []);
  assert.deepEqual(rulesBetween(16, 15), []);
  assert.deepEqual(rulesBetween(15, 16).map((r) => r.id), ['view-column-qualification', 'xmlserialize-no-indent']);
  assert.deepEqual(rulesBetween(13, 18).map((r) => r.id), CROSS_MAJOR_RULES.map((r) => r.id));
  assert.equal(new CrossMajorNormaliser(15, 15).active, false);
  assert.equal(new CrossMajorNormaliser(15, 15).describe('facts'), '');
  const ids = CROSS_MAJOR_RULES.map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length, 'rule ids are unique');
});

test('15 → 18: NOT NULL constraints, MAINTAIN and unqualified view columns compare equal, and are counted', async () => {
  const source = [fact('column app.t.id', 'not null', 'true'), fact('table app.t', 'grant SELECT to r', 'granted by o'), fact('view app.v', 'definition', VIEW_15)];
  const restored = [
    fact('column app.t.id', 'not null', 'true'), fact('constraint app.t.t_id_not_null', 'definition', 'NOT NULL id'),
    fact('constraint app.posint.posint_not_null', 'definition', 'NOT NULL'),
    fact('table app.t', 'grant SELECT to r', 'granted by o'), fact('table app.t', 'grant MAINTAIN to o', 'granted by o'),
    fact('view app.v', 'definition', VIEW_16),
  ];
  const { differences, applied } = await diffAcross(15, 18, source, restored);
  assert.deepEqual(differences, []);
  const by = new Map(applied.map((a) => [a.id, a]));
  assert.deepEqual([...by.keys()], ['view-column-qualification', 'xmlserialize-no-indent', 'domain-not-null-constraint', 'maintain-privilege', 'not-null-constraint']);
  assert.equal(by.get('not-null-constraint')!.catalog_facts, 1);
  assert.deepEqual(by.get('not-null-constraint')!.examples, ['constraint app.t.t_id_not_null']);
  assert.equal(by.get('maintain-privilege')!.catalog_facts, 1);
  assert.equal(by.get('domain-not-null-constraint')!.catalog_facts, 1);
  assert.ok(by.get('view-column-qualification')!.catalog_facts >= 1);
  for (const a of applied) assert.deepEqual([a.source_major, a.sandbox_major], [15, 18]);
});

test('normalisation hides nothing else: a lost column NOT NULL, a lost grant, a view on other columns, a source-side MAINTAIN still differ', async () => {
  const source = [fact('column app.t.id', 'not null', 'true'), fact('table app.t', 'owner', 'o'), fact('table app.t', 'grant SELECT to r', 'granted by o'), fact('view app.v', 'definition', VIEW_15)];
  const restored = [
    fact('column app.t.id', 'not null', 'false'), fact('table app.t', 'owner', 'o'),
    fact('table app.t', 'grant MAINTAIN to o', 'granted by o'),
    fact('view app.v', 'definition', VIEW_16.replace('(f > ', '(g > ')),
    fact('constraint app.t.t_chk', 'definition', 'CHECK ((id > 0))'),
  ];
  const { differences } = await diffAcross(15, 18, source, restored);
  assert.deepEqual(differences.map((d) => `${d.object} ${d.attribute}`), [
    'column app.t.id not null', 'constraint app.t.t_chk object', 'table app.t grant SELECT to r', 'view app.v definition',
  ]);
  // The same forms between two servers of one major are findings, not normalised.
  const same = await diffAcross(18, 18, [fact('view app.v', 'definition', VIEW_15)], [fact('view app.v', 'definition', VIEW_16), fact('constraint app.t.t_id_not_null', 'definition', 'NOT NULL id')]);
  assert.equal(same.differences.length, 2);
  assert.deepEqual(same.applied, []);
});

test('sameButUnqualified: only qualifiers naming a relation of the query may be missing; nothing else may change', () => {
  assert.ok(sameButUnqualified(VIEW_15, VIEW_16));
  assert.ok(!sameButUnqualified(VIEW_16, VIEW_15), 'a qualifier the source lacks is not explained');
  assert.ok(sameButUnqualified(' SELECT x.id\n   FROM app.t x\n  WHERE (x.id IN ( SELECT d.v\n           FROM app.d d));', ' SELECT id\n   FROM app.t x\n  WHERE (id IN ( SELECT d.v\n           FROM app.d d));'));
  // A CTE, a function in FROM (named by the function, quoted as a keyword), a materialized view's WITH NO DATA.
  assert.ok(sameButUnqualified(' WITH RECURSIVE nums(n) AS (\n         VALUES (1)\n        )\n SELECT nums.n\n   FROM nums;', ' WITH RECURSIVE nums(n) AS (\n         VALUES (1)\n        )\n SELECT n\n   FROM nums;'));
  assert.ok(sameButUnqualified(' SELECT "xmltable".a\n   FROM XMLTABLE((\'/rows\'::text) PASSING (\'<rows/>\'::xml) COLUMNS a integer);', ' SELECT a\n   FROM XMLTABLE((\'/rows\'::text) PASSING (\'<rows/>\'::xml) COLUMNS a integer);'));
  assert.ok(sameButUnqualified('CREATE MATERIALIZED VIEW public.mv AS\n SELECT t.grandtot\n   FROM public.t\n  WITH NO DATA;', 'CREATE MATERIALIZED VIEW public.mv AS\n SELECT grandtot\n   FROM public.t\n  WITH NO DATA;'));
  // In a join, a column that changed its relation is another view, though both qualifiers name relations of it.
  const join = ' SELECT a.id,\n    b.a\n   FROM (app.t a\n     JOIN app.u b ON ((a.id = b.a)));';
  assert.ok(!sameButUnqualified(join, join.replace('SELECT a.id', 'SELECT b.id')));
  assert.ok(!sameButUnqualified(join, join.replace('SELECT a.id', 'SELECT id').replace('ON ((a.id', 'ON ((id').replace('b.a)))', 'b.b)))')));
  // A schema or a type's schema is no relation's name; another column is another view.
  assert.ok(!sameButUnqualified(' SELECT (t.m)::app.mood AS m\n   FROM app.t;', ' SELECT (m)::mood AS m\n   FROM app.t;'));
  assert.ok(!sameButUnqualified(VIEW_15, VIEW_16.replace('(f > ', '(g > ')));
});

test('16 prints XMLSERIALIZE with NO INDENT: removed on the restored side only, for 15 → 16', async () => {
  const src = ' SELECT XMLSERIALIZE(CONTENT \'good\'::xml AS text) AS "xmlserialize";';
  const restored = ' SELECT XMLSERIALIZE(CONTENT \'good\'::xml AS text NO INDENT) AS "xmlserialize";';
  assert.deepEqual((await diffAcross(15, 16, [fact('view public.x', 'definition', src)], [fact('view public.x', 'definition', restored)])).differences, []);
  assert.equal((await diffAcross(16, 16, [fact('view public.x', 'definition', src)], [fact('view public.x', 'definition', restored)])).differences.length, 1);
  assert.equal((await diffAcross(15, 16, [fact('view public.x', 'definition', src)], [fact('view public.x', 'definition', restored.replace('NO INDENT', 'INDENT'))])).differences.length, 1);
});

test('ICU collations of 13/14 (locale in collcollate) equal their 15+ form (colllocale); other fields still compared', async () => {
  const src13 = jsonbText({ collctype: 'de-DE', collcollate: 'de-DE', collencoding: -1, collprovider: 'i', collisdeterministic: true });
  const restored = jsonbText({ colllocale: 'de-DE', collencoding: -1, collprovider: 'i', collisdeterministic: true });
  assert.equal(restored, '{"colllocale": "de-DE", "collencoding": -1, "collprovider": "i", "collisdeterministic": true}');
  assert.deepEqual((await diffAcross(13, 15, [fact('collation app.de', 'definition', src13)], [fact('collation app.de', 'definition', restored)])).differences, []);
  const other = restored.replace('"collisdeterministic": true', '"collisdeterministic": false');
  assert.equal((await diffAcross(13, 15, [fact('collation app.de', 'definition', src13)], [fact('collation app.de', 'definition', other)])).differences.length, 1);
  const libc = jsonbText({ collctype: 'C', collcollate: 'C', collencoding: 6, collprovider: 'c', collisdeterministic: true });
  assert.deepEqual((await diffAcross(13, 15, [fact('collation app.c', 'definition', libc)], [fact('collation app.c', 'definition', libc)])).differences, []);
});

test('round trip across majors: GRANT ALL of 17, unqualified views of 16, multiranges of 14; a real change still differs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pgdrill-cross-major-'));
  try {
    const entry = (name: string, type: string, body: string[]) => ['--', `-- Name: ${name}; Type: ${type}; Schema: app; Owner: postgres`, '--', '', ...body, '', ''];
    const source = [
      ...entry('fr', 'TYPE', ['CREATE TYPE app.fr AS RANGE (', '    subtype = double precision', ');']),
      ...entry('v', 'VIEW', ['CREATE VIEW app.v AS', ...VIEW_15.split('\n')]),
      ...entry('TABLE t', 'ACL', ['GRANT SELECT,INSERT,REFERENCES,DELETE,TRIGGER,TRUNCATE,UPDATE ON TABLE app.t TO app_reader;']),
      ...entry('DEFAULT PRIVILEGES FOR TABLES', 'DEFAULT ACL', ['ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA app GRANT SELECT,INSERT,REFERENCES,DELETE,TRIGGER,TRUNCATE,UPDATE ON TABLES TO app_reader;']),
    ];
    const restored = [
      ...entry('fr', 'TYPE', ['CREATE TYPE app.fr AS RANGE (', '    subtype = double precision,', '    multirange_type_name = app.fr_multirange', ');']),
      ...entry('v', 'VIEW', ['CREATE VIEW app.v AS', ...VIEW_16.split('\n')]),
      ...entry('TABLE t', 'ACL', ['GRANT ALL ON TABLE app.t TO app_reader;']),
      ...entry('DEFAULT PRIVILEGES FOR TABLES', 'DEFAULT ACL', ['ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA app GRANT ALL ON TABLES TO app_reader;']),
    ];
    const [a, b] = [join(dir, 'a.sql'), join(dir, 'b.sql')];
    await writeFile(a, source.join('\n'));
    await writeFile(b, restored.join('\n'));
    assert.equal((await compareSchemaDumps(a, b)).objects_differing, 4, 'without the normaliser every one differs');
    const n = new CrossMajorNormaliser(13, 18);
    const cmp = await compareSchemaDumps(a, b, undefined, { normaliser: n });
    assert.equal(cmp.equal, true, JSON.stringify(cmp.objects));
    const rt = new Map(n.applied().map((x) => [x.id, x.round_trip_objects]));
    assert.equal(rt.get('multirange-type-name'), 1);
    assert.equal(rt.get('maintain-privilege'), 2);
    assert.ok(rt.get('view-column-qualification')! >= 1);
    // A grant that lost a privilege is no GRANT ALL; a view on another column is another view.
    await writeFile(b, restored.join('\n').replace('GRANT ALL ON TABLE app.t', 'GRANT SELECT ON TABLE app.t').replace('WHERE (f > ', 'WHERE (g > '));
    const after = await compareSchemaDumps(a, b, undefined, { normaliser: new CrossMajorNormaliser(13, 18) });
    assert.deepEqual(after.objects.map((o) => o.section), ['Name: v; Type: VIEW; Schema: app; Owner: postgres', 'Name: TABLE t; Type: ACL; Schema: app; Owner: postgres']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('dumpedByMajor: the major of the pg_dump that wrote a schema dump, from its header (two majors cannot be compared by text)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pgdrill-dumped-by-'));
  try {
    const header = (v: string) => ['--', '-- PostgreSQL database dump', '--', '', '\\restrict abc', '', '-- Dumped from database version 15.18', `-- Dumped by pg_dump version ${v}`, '', 'SET statement_timeout = 0;'].join('\n');
    await writeFile(join(dir, '18.sql'), header('18.6 (Debian 18.6-3)'));
    await writeFile(join(dir, '15.sql'), header('15.18 (Debian 15.18-0+deb12u1)'));
    await writeFile(join(dir, 'none.sql'), 'SELECT 1;\n');
    assert.equal(await dumpedByMajor(join(dir, '18.sql')), 18);
    assert.equal(await dumpedByMajor(join(dir, '15.sql')), 15);
    assert.equal(await dumpedByMajor(join(dir, 'none.sql')), null);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('report.md lists every normalisation with its majors, counts and first objects', () => {
  const n = new CrossMajorNormaliser(15, 17);
  n.fact(fact('table app.t', 'grant MAINTAIN to o', 'granted by o'), 'restored');
  const md = renderFidelity({ ...emptyFidelity(false), normalisations: n.applied() });
  assert.match(md, /normalised 15→17: maintain-privilege \(since 17\): 1 catalog fact\(s\), 0 round-trip object\(s\), e\.g\. table app\.t/);
  assert.match(md, /normalised 15→17: view-column-qualification \(since 16\): 0 catalog fact\(s\)/);
  assert.doesNotMatch(renderFidelity(emptyFidelity(false)), /normalised/);
});
