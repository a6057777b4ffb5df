/**
 * The pure parts of the egress defence (docs/jail.md › Egress): what the scan refuses, the COPY block spans a replay
 * can hold back, and the blanker that keeps their newlines. The drills are in sandbox-egress.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { scan as scanText } from '../scan/scan-helpers.js';
import { RangeBlanker } from '../../src/restore/transaction-lines.js';
import { declaredForeignTables, foreignDataRanges } from '../../src/pipeline/restore/foreign-data.js';

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
  assert.deepEqual([...foreign], ['public.ft']);
  assert.deepEqual(foreignDataRanges(r.copyBlocks, foreign), [r.copyBlocks[0]!.span]);
});
