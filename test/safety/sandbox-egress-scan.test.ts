/**
 * The pure parts of the egress defence (docs/jail.md › Egress): what the scan refuses, the COPY block spans a replay
 * can hold back, and the blanker that keeps their newlines. The drills are in sandbox-egress.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { scan as scanText } from '../scan/scan-helpers.js';
import { RangeBlanker } from '../../src/restore/transaction-lines.js';
import { declaredForeignTables, foreignDataBlocks, foreignDataRanges, relationKey } from '../../src/pipeline/restore/foreign-data.js';
import { raisedByFunction, whyHeldBack } from '../../src/restore/deferred-refresh.js';
import { isHeldBackUnpopulated } from '../../src/fidelity/catalog-diff.js';

const PREAMBLE = "SET client_encoding = 'UTF8';\nSET standard_conforming_strings = on;\n";
/** The scan of PREAMBLE + text (body line 1 is line 3), the same in one chunk, 1-byte and random chunks. */
const scan = async (text: string) => {
  const whole = scanText(PREAMBLE + text);
  assert.deepEqual(scanText(PREAMBLE + text, undefined, 1), whole, '1-byte chunks change the result');
  assert.deepEqual(scanText(PREAMBLE + text, undefined, { seed: 11 }), whole, 'random chunks change the result');
  return whole;
};
const refused = async (text: string) => (await scan(text)).findings.map((f) => `${f.kind}@${f.line}`);

test('lifting the foreign-table restriction is refused: SET, set_config, ALTER ROLE/DATABASE … SET, dynamic SQL', async () => {
  assert.deepEqual(await refused("SET restrict_nonsystem_relation_kind = '';\n"), ['other@3']);
  assert.deepEqual(await refused("SELECT pg_catalog.set_config('restrict_nonsystem_relation_kind', '', false);\n"), ['other@3']);
  assert.deepEqual(await refused('ALTER DATABASE app SET "restrict_nonsystem_relation_kind" TO DEFAULT;\n'), ['other@3']);
  assert.deepEqual(await refused("CREATE FUNCTION public.f() RETURNS void LANGUAGE plpgsql AS $$BEGIN EXECUTE 'RESET restrict_nonsystem_relation_kind'; END$$;\n"), ['other@3']);
});

test('subscriptions: pg_dump\'s form passes; connect = true, ENABLE, REFRESH, CONNECTION are refused', async () => {
  const pgDumpForm = "CREATE SUBSCRIPTION s CONNECTION 'host=/tmp dbname=prod' PUBLICATION p WITH (connect = false, slot_name = 's');\nALTER SUBSCRIPTION s OWNER TO app;\n";
  assert.deepEqual(await refused(pgDumpForm), []);
  assert.deepEqual(await refused("CREATE SUBSCRIPTION s CONNECTION 'host=/tmp dbname=prod' PUBLICATION p;\n"), ['other@3']);
  assert.deepEqual(await refused("CREATE SUBSCRIPTION s CONNECTION 'host=/tmp' PUBLICATION p WITH (connect = true);\n"), ['other@3']);
  assert.deepEqual(await refused(`${pgDumpForm}ALTER SUBSCRIPTION s ENABLE;\n`), ['other@5']);
  assert.deepEqual(await refused(`${pgDumpForm}ALTER SUBSCRIPTION "s" REFRESH PUBLICATION;\n`), ['other@5']);
  assert.deepEqual(await refused(`${pgDumpForm}ALTER SUBSCRIPTION s CONNECTION 'host=/var/run/postgresql';\n`), ['other@5']);
  assert.deepEqual(await refused("DO $$BEGIN EXECUTE 'ALTER SUBSCRIPTION s ENABLE'; END$$;\n"), ['other@3']);
});

test('a COPY block of pg_dump\'s form has a span from its COPY line through its \\. line; other forms have none', async () => {
  const body = 'COPY public.ft (id, v) FROM stdin;\n1\ta\n2\tb\n\\.\nSELECT 1; COPY public.t (id) FROM stdin;\n3\n\\.\nCOPY public.u (id) FROM stdin;\n4\n';
  const r = await scan(body);
  const start = Buffer.byteLength(PREAMBLE);
  const full = PREAMBLE + body;
  const [ft, t, u] = r.copyBlocks;
  assert.deepEqual(ft!.span, { start, end: start + Buffer.byteLength('COPY public.ft (id, v) FROM stdin;\n1\ta\n2\tb\n\\.\n') });
  assert.equal(full.slice(ft!.span.start, ft!.span.end).split('\n').length, 5);
  assert.equal(t!.span, undefined, 'another statement on the COPY line');
  assert.equal(u!.span, undefined, 'a block the dump ends inside');
});

test('held-back ranges keep their newlines; the BEGIN/COMMIT ranges (no newline) are dropped as before', () => {
  const text = Buffer.from('a;\nCOPY x FROM stdin;\n1\n\\.\nb;\nBEGIN;\nc;\n');
  const copy = { start: 3, end: 3 + 'COPY x FROM stdin;\n1\n\\.\n'.length };
  const begin = { start: text.indexOf('BEGIN;'), end: text.indexOf('BEGIN;') + 6 };
  for (const size of [1, 3, text.length]) {
    const blanker = new RangeBlanker([copy, begin]);
    const out: Buffer[] = [];
    for (let i = 0; i < text.length; i += size) out.push(blanker.rewrite(text.subarray(i, i + size)));
    assert.equal(Buffer.concat(out).toString(), 'a;\n\n\n\nb;\n\nc;\n', `chunks of ${size}`);
  }
});

test('the foreign tables a dump declares, and only their spanned blocks are held back', async () => {
  const body = '--\n-- Name: ft; Type: FOREIGN TABLE; Schema: public; Owner: app\n--\n\nCREATE FOREIGN TABLE public.ft (id int) SERVER s;\n' +
    'COPY public.ft (id) FROM stdin;\n1\n\\.\nCOPY public.t (id) FROM stdin;\n2\n\\.\n';
  const r = await scan(body);
  const foreign = declaredForeignTables(r.inventory);
  assert.deepEqual([...foreign], [relationKey('public', 'ft')]);
  assert.deepEqual(foreignDataRanges(foreignDataBlocks(r.copyBlocks, r.inventory, (k) => foreign.has(k))), [r.copyBlocks[0]!.span]);
});

/** A plain dump's foreign table (as its headers and statements write it) with one COPY block, then ordinary tables' blocks. */
const foreignAndOrdinary = (schema: string, name: string, qualified: string, ordinary: readonly string[]) =>
  `--\n-- Name: ${name.replace(/\n/g, ' ')}; Type: FOREIGN TABLE; Schema: ${schema}; Owner: app\n--\n\nCREATE FOREIGN TABLE ${qualified} (id int) SERVER s;\n` +
  `--\n-- Data for Name: ${name.replace(/\n/g, ' ')}; Type: TABLE DATA; Schema: ${schema}; Owner: app\n--\n\nCOPY ${qualified} (id) FROM stdin;\n1\n\\.\n` +
  ordinary.map((q, i) => `--\n-- Data for Name: t${i}; Type: TABLE DATA; Schema: x; Owner: app\n--\n\nCOPY ${q} (id) FROM stdin;\n2\n\\.\n`).join('');

test('foreign tables are matched by exact schema and name: odd names held back, ordinary tables of the same unquoted spelling kept', async () => {
  const cases: [string, string, string, string[]][] = [
    ['public', 'Odd "Name"', 'public."Odd ""Name"""', ['public.odd', 'public."Odd ""name"""']],
    ['public', 'a.b', 'public."a.b"', ['"public.a".b', 'public.a']],
    ['my schema', 'spaced name', '"my schema"."spaced name"', ['"my schema".spaced', 'public."spaced name"']],
    ['public', 'naïve', 'public."naïve"', ['public.naive']],
    ['s1', 'orders', 's1.orders', ['s2.orders', 'public.orders']],
    ['public', 'line\nbreak', 'public."line\nbreak"', ['public."line"']],
  ];
  for (const [schema, name, qualified, ordinary] of cases) {
    const r = await scan(foreignAndOrdinary(schema, name, qualified, ordinary));
    const foreign = declaredForeignTables(r.inventory);
    const held = foreignDataBlocks(r.copyBlocks, r.inventory, (k) => foreign.has(k));
    assert.deepEqual(held.map((h) => h.block.table), [qualified], `${qualified}: only the foreign table's block`);
  }
});

test('--load-via-partition-root: a foreign leaf\'s block names the root; its data header names the leaf, and only it is held back', async () => {
  const body = '--\n-- Name: m_remote; Type: FOREIGN TABLE; Schema: public; Owner: app\n--\n\nCREATE FOREIGN TABLE public.m_remote PARTITION OF public.m FOR VALUES IN (2) SERVER s;\n' +
    '--\n-- Data for Name: m_local; Type: TABLE DATA; Schema: public; Owner: app\n--\n\nCOPY public.m (id) FROM stdin;\n1\n\\.\n' +
    '--\n-- Data for Name: m_remote; Type: TABLE DATA; Schema: public; Owner: app\n--\n\nCOPY public.m (id) FROM stdin;\n2\n2\n\\.\n';
  const r = await scan(body);
  const foreign = declaredForeignTables(r.inventory);
  const held = foreignDataBlocks(r.copyBlocks, r.inventory, (k) => foreign.has(k));
  assert.deepEqual(held.map((h) => [h.label, h.block.rows]), [['public.m_remote', 2]]);
});

test('REFRESH lines of materialized views are listed once a foreign table is declared, pg_dump\'s form only', async () => {
  const mv = (name: string, stmt: string) => `--\n-- Name: ${name}; Type: MATERIALIZED VIEW DATA; Schema: public; Owner: app\n--\n\n${stmt}\n`;
  const before = mv('early', 'REFRESH MATERIALIZED VIEW public.early;');
  const ft = '--\n-- Name: ft; Type: FOREIGN TABLE; Schema: public; Owner: app\n--\n\nCREATE FOREIGN TABLE public.ft (id int) SERVER s;\n';
  const body = before + ft + mv('a', 'REFRESH MATERIALIZED VIEW public.a;') + mv('Odd mv', 'REFRESH MATERIALIZED VIEW "my s"."Odd ""mv""";') +
    mv('c', 'REFRESH MATERIALIZED VIEW public.c; SELECT 1;') + mv('d', 'REFRESH MATERIALIZED VIEW CONCURRENTLY public.d;') +
    '--\n-- Name: t; Type: TABLE; Schema: public; Owner: app\n--\n\nREFRESH MATERIALIZED VIEW public.e;\n';
  const r = await scan(body);
  const full = Buffer.from(PREAMBLE + body);
  assert.deepEqual((r.matviewRefreshes ?? []).map((l) => [l.statement, full.subarray(l.start, l.end).toString()]), [
    ['REFRESH MATERIALIZED VIEW public.a;', 'REFRESH MATERIALIZED VIEW public.a;'],
    ['REFRESH MATERIALIZED VIEW "my s"."Odd ""mv""";', 'REFRESH MATERIALIZED VIEW "my s"."Odd ""mv""";'],
  ]);
  assert.equal((await scan(before)).matviewRefreshes, undefined, 'no foreign table: nothing listed');
});

test('a blanker drops ranges of several growing lists in byte order', () => {
  const text = Buffer.from('a;\nBEGIN;\nREFRESH x;\nCOMMIT;\nREFRESH y;\nz;\n');
  const at = (s: string) => ({ start: text.indexOf(s), end: text.indexOf(s) + s.length });
  for (const size of [1, 4, text.length]) {
    const refresh: { start: number; end: number }[] = [];
    const blanker = new RangeBlanker([at('BEGIN;'), at('COMMIT;')], refresh);
    const out: Buffer[] = [];
    for (let i = 0; i < text.length; i += size) {
      if (i + size > text.indexOf('REFRESH x') && !refresh.length) refresh.push(at('REFRESH x;'), at('REFRESH y;')); // listed as the scan reaches them
      out.push(blanker.rewrite(text.subarray(i, i + size)));
    }
    assert.equal(Buffer.concat(out).toString(), 'a;\n\n\n\n\nz;\n', `chunks of ${size}`);
  }
});

test('a refused refresh is held back only for a foreign table, or an unpopulated view held back before', () => {
  const held = [{ label: 'public.mv1', name: 'mv1', line: 1, reads: 'foreign table' }];
  assert.equal(whyHeldBack('55000', 'access to non-system foreign table is restricted', []), 'foreign table');
  assert.equal(raisedByFunction({ file: 'pl_exec.c', routine: 'exec_stmt_raise' }), true, 'a RAISE of the same text is not the server\'s refusal');
  assert.equal(raisedByFunction({ file: 'foreign.c', routine: 'GetFdwRoutine' }), false);
  assert.equal(whyHeldBack('55000', 'materialized view "mv1" has not been populated', held), 'public.mv1');
  assert.equal(whyHeldBack('55000', 'materialized view "other" has not been populated', held), null, 'a view pgdrill did not hold back');
  assert.equal(whyHeldBack('42501', 'permission denied for table t', held), null);
  assert.equal(whyHeldBack('22012', 'division by zero', held), null);
  const d = (object: string, attribute: string, source: string, restored: string) => ({ object, attribute, source, restored });
  const set = new Set(['public.mv1']);
  assert.ok(isHeldBackUnpopulated(d('materialized view public.mv1', 'populated', 'true', 'false'), set));
  assert.ok(!isHeldBackUnpopulated(d('materialized view public.mv2', 'populated', 'true', 'false'), set), 'not held back');
  assert.ok(!isHeldBackUnpopulated(d('materialized view public.mv1', 'definition', 'a', 'b'), set), 'another attribute');
  assert.ok(!isHeldBackUnpopulated(d('materialized view public.mv1', 'populated', 'false', 'true'), set), 'the other way round');
});
