/**
 * compareSchemaDumps and pg_dump's session-state lines (round-trip.ts STATE_LINES): printed between entries where the
 * entries before left another state, they are dropped and the state in effect is written into the entries it applies
 * to. Two dumps that place them differently compare equal; an object under another state differs, named; a state-like
 * line inside an entry (a function body, a comment) is text like any other.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareSchemaDumps, schemaDumpArgs, STATE_LINES_WHY } from '../../src/fidelity/round-trip.js';
import { pgDumpArgs } from '../../src/backup/pg-dump.js';

const entry = (header: string, ...body: string[]) => ['--', `-- Name: ${header}`, '--', '', ...body, '', ''];
const TS = (t: string) => [`SET default_tablespace = ${t};`, ''];
const AM = (a: string) => [`SET default_table_access_method = ${a};`, ''];
const head = ['--', '-- PostgreSQL database dump', '--', '', "SELECT pg_catalog.set_config('search_path', '', false);", 'SET check_function_bodies = false;', ''];
const tail = ['--', '-- PostgreSQL database dump complete', '--', ''];
const T = entry('t; Type: TABLE; Schema: public; Owner: postgres; Tablespace: fast', 'CREATE TABLE public.t (', '    id integer', ');');
const F = entry('f(); Type: FUNCTION; Schema: public; Owner: postgres', 'CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS $$', 'SET default_tablespace = fast;', 'SELECT 1', '$$;');
const S = entry('s; Type: SEQUENCE; Schema: public; Owner: postgres', 'CREATE SEQUENCE public.s;');
const I = entry('i; Type: INDEX; Schema: public; Owner: postgres', 'CREATE INDEX i ON public.t USING btree (id);');

async function compare(a: string[], b: string[]) {
  const dir = await mkdtemp(join(tmpdir(), 'pgdrill-rt-state-'));
  try {
    await writeFile(join(dir, 'a.sql'), a.join('\n'));
    await writeFile(join(dir, 'b.sql'), b.join('\n'));
    return await compareSchemaDumps(join(dir, 'a.sql'), join(dir, 'b.sql'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('state lines printed before other entries, or repeated: equal, and counted as stripped', async () => {
  // a: the index's state printed just before it; b: before the sequence (a full dump's data entries in between), twice.
  const a = [...head, ...AM('heap'), ...TS('fast'), ...T, ...F, ...S, ...TS("''"), ...I, ...tail];
  const b = [...head, ...AM('heap'), ...TS('fast'), ...T, ...F, ...TS("''"), ...S, ...TS("''"), ...I, ...tail];
  const cmp = await compare(a, b);
  assert.equal(cmp.equal, true, JSON.stringify(cmp.objects));
  assert.deepEqual(cmp.stripped.find((s) => s.why === STATE_LINES_WHY), { why: STATE_LINES_WHY, source: 3, restored: 4 });
});

test('an index or a table under another state: that entry differs, its state line named', async () => {
  const a = [...head, ...AM('heap'), ...TS('fast'), ...T, ...F, ...S, ...TS("''"), ...I, ...tail];
  // The index left in the table's tablespace (no SET before it).
  const kept = await compare(a, [...head, ...AM('heap'), ...TS('fast'), ...T, ...F, ...S, ...I, ...tail]);
  assert.equal(kept.equal, false);
  assert.deepEqual(kept.objects.map((o) => [o.section, o.kind]), [['Name: i; Type: INDEX; Schema: public; Owner: postgres', 'differs']]);
  assert.deepEqual(kept.objects[0]!.lines.map((l) => [l.source, l.restored]), [["-- state: SET default_tablespace = '';", '-- state: SET default_tablespace = fast;']]);
  // The table in another access method: the table differs, not the function or sequence after it.
  const am = await compare(a, [...head, ...AM('heap2'), ...TS('fast'), ...T, ...F, ...S, ...TS("''"), ...I, ...tail]);
  assert.deepEqual(am.objects.map((o) => o.section), ['Name: t; Type: TABLE; Schema: public; Owner: postgres; Tablespace: fast']);
  assert.deepEqual(am.objects[0]!.lines.map((l) => [l.source, l.restored]), [['-- state: SET default_table_access_method = heap;', '-- state: SET default_table_access_method = heap2;']]);
});

test("a state-like line inside an entry is the entry's text: a function body that differs by it differs", async () => {
  const a = [...head, ...TS('fast'), ...T, ...F, ...tail];
  const noLine = F.filter((l) => !l.startsWith('SET default_tablespace'));
  const cmp = await compare(a, [...head, ...TS('fast'), ...T, ...noLine, ...tail]);
  assert.deepEqual(cmp.objects.map((o) => o.section), ['Name: f(); Type: FUNCTION; Schema: public; Owner: postgres']);
});

test("the main dump takes no option that changes its entries' text which the copy's schema-only dump does not take", () => {
  // The round trip's source side is the main dump's text: an option that changes it (--no-owner, --no-comments,
  // --no-tablespaces, --quote-all-identifiers, --exclude-…) must be given to the copy's schema dump too.
  const neutral = /^--(no-password|lock-wait-timeout=|snapshot=|format=|file=|jobs=)/;
  const copy = new Set(schemaDumpArgs({ snapshot: 'S', lockWaitTimeoutMs: 1000 }));
  for (const format of ['plain', 'custom', 'directory'] as const) {
    const main = pgDumpArgs({ format, snapshot: 'S', lockWaitTimeoutMs: 1000, jobs: 4 }, '/x');
    assert.deepEqual(main.filter((a) => !neutral.test(a) && !copy.has(a)), [], `${format}: ${main.join(' ')}`);
  }
});
