/**
 * The round trip's source side read from the drill's own dump (schema-from-dump.ts) against a schema-only pg_dump,
 * where pg_dump's session-state lines (SET default_tablespace, SET default_table_access_method) fall elsewhere: a
 * full dump prints the state the next entry needs after the data entries, which the extractor drops. Compared with
 * the state replayed into each entry (round-trip.ts STATE_LINES), the texts are equal; a schema really changed in the
 * copy (an index dropped, a default changed, another tablespace, owner or access method) still differs, named.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runProcess } from '../../src/exec/run-process.js';
import { DumpSchemaExtractor, readArchiveSide } from '../../src/fidelity/schema-from-dump.js';
import { compareSchemaDumps, STATE_LINES_WHY } from '../../src/fidelity/round-trip.js';
import { bins, psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { check, drill, failed } from './helpers.js';

/** Objects whose state lines land after the data entries in a full dump: the last table before the data is in a tablespace. */
const STATEFUL = `
CREATE ACCESS METHOD heap2 TYPE TABLE HANDLER heap_tableam_handler;
CREATE ROLE st_owner;
CREATE SCHEMA s2;
CREATE TABLE public.a (id int PRIMARY KEY, v text DEFAULT 'x');
CREATE TABLE public.other_am (id int PRIMARY KEY) USING heap2;
CREATE TABLE public.pt (id int, k int) PARTITION BY RANGE (k);
CREATE TABLE public.pt1 PARTITION OF public.pt FOR VALUES FROM (0) TO (10) TABLESPACE fast;
CREATE MATERIALIZED VIEW public.mv TABLESPACE fast AS SELECT id FROM public.a;
CREATE MATERIALIZED VIEW public.mv2 USING heap2 AS SELECT id FROM public.a;
CREATE SEQUENCE s2.sq; SELECT nextval('s2.sq');
CREATE TABLE s2.zz_last (id int PRIMARY KEY USING INDEX TABLESPACE pg_default, v text) USING heap2 TABLESPACE fast;
CREATE INDEX zz_last_v ON s2.zz_last (v);
CREATE INDEX a_v ON public.a (v) TABLESPACE fast;
ALTER TABLE s2.zz_last OWNER TO st_owner;
INSERT INTO public.a VALUES (1, 'one'), (2, 'two'); INSERT INTO s2.zz_last VALUES (1, 'x'); INSERT INTO public.pt VALUES (1, 1);
REFRESH MATERIALIZED VIEW public.mv;
SELECT pg_catalog.lo_from_bytea(70001, 'bytes');
`;

describe('state lines: a full dump\'s schema entries against a schema-only dump', () => {
  let dir: { path: string } & AsyncDisposable;
  let source: SandboxCluster;
  let p: (name: string) => string;
  const dump = async (db: string, args: string[]) => runProcess({ bin: (await bins()).path('pg_dump'), args: ['--no-sync', ...args], env: source.env(db) });
  before(async () => {
    dir = await scratchDir();
    await chmod(dir.path, 0o755); // the source's OS user must reach its tablespace directory
    p = (name) => join(dir.path, name);
    const location = p('fast disk');
    await mkdir(location);
    source = await startSource({ parentDir: dir.path, shared: [location] });
    if (source.osUser) await chown(location, source.osUser.uid, source.osUser.gid);
    await psql(source, 'postgres', { sql: `CREATE TABLESPACE fast LOCATION '${location}'` });
    await psql(source, 'postgres', { sql: 'CREATE DATABASE st' });
    await psql(source, 'st', { sql: STATEFUL });
    await dump('st', ['--format=plain', `--file=${p('full.sql')}`]);
    await dump('st', ['--format=custom', `--file=${p('full.dump')}`]);
    await dump('st', ['--schema-only', '--format=plain', `--file=${p('schema.sql')}`]);
    const e = new DumpSchemaExtractor({ schemaPath: p('plain.sql') });
    e.push(await readFile(p('full.sql')));
    await e.finish();
    await readArchiveSide({ bins: await bins(), archive: p('full.dump'), listPath: p('list'), schemaPath: p('custom.sql') });
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  test("the extractor keeps the state lines that ended a dropped data entry: the text equals the schema-only dump's, and compares equal (plain and custom)", async () => {
    const unrestricted = (t: string) => t.split('\n').filter((l) => !/^\\(un)?restrict /.test(l)).join('\n');
    const schema = unrestricted(await readFile(p('schema.sql'), 'utf8'));
    // The case this file is about: the full dump prints a state line after its data entries.
    const full = await readFile(p('full.sql'), 'utf8');
    assert.match(full.slice(full.indexOf('-- Data for Name: ')), /\nSET default_tablespace = '';\n\n--\n-- Name: a a_pkey; Type: CONSTRAINT/);
    for (const side of ['plain.sql', 'custom.sql']) {
      assert.equal(unrestricted(await readFile(p(side), 'utf8')), schema, side);
      const cmp = await compareSchemaDumps(p(side), p('schema.sql'));
      assert.equal(cmp.equal, true, `${side}: ${JSON.stringify(cmp.objects.slice(0, 3))}`);
      const state = cmp.stripped.find((s) => s.why === STATE_LINES_WHY)!;
      assert.ok(state.source > 0 && state.restored > 0, JSON.stringify(state));
    }
  });

  const mutations: [string, string, RegExp, RegExp][] = [
    ['an index dropped', 'DROP INDEX s2.zz_last_v', /^Name: zz_last_v; Type: INDEX; Schema: s2;/, /CREATE INDEX zz_last_v/],
    ['a default changed', "ALTER TABLE public.a ALTER COLUMN v SET DEFAULT 'y'", /^Name: a; Type: TABLE; Schema: public;/, /DEFAULT 'y'/],
    ['an index moved to another tablespace', 'ALTER INDEX s2.zz_last_v SET TABLESPACE fast', /^Name: zz_last_v; Type: INDEX; Schema: s2;/, /Tablespace: fast|SET default_tablespace = fast/],
    ['a table moved to the default tablespace', 'ALTER TABLE s2.zz_last SET TABLESPACE pg_default', /^Name: zz_last; Type: TABLE; Schema: s2;/, /SET default_tablespace = ''/],
    ['another owner', 'ALTER TABLE public.a OWNER TO st_owner', /^Name: a; Type: TABLE; Schema: public;/, /OWNER TO st_owner|Owner: st_owner/],
    ['another table access method', 'ALTER TABLE public.other_am SET ACCESS METHOD heap', /^Name: other_am; Type: TABLE; Schema: public;/, /SET default_table_access_method = heap;/],
    ['a materialized view in another access method', 'ALTER MATERIALIZED VIEW public.mv2 SET ACCESS METHOD heap', /^Name: mv2; Type: MATERIALIZED VIEW; Schema: public;/, /SET default_table_access_method = heap;/],
  ];
  for (const [what, sql, entry, line] of mutations) {
    test(`${what}: the comparison fails and names the entry`, async () => {
      const db = `m${mutations.findIndex((m) => m[0] === what)}`;
      await psql(source, 'postgres', { sql: `CREATE DATABASE ${db} TEMPLATE st` });
      await psql(source, db, { sql });
      await dump(db, ['--schema-only', '--format=plain', `--file=${p(`${db}.sql`)}`]);
      for (const side of ['plain.sql', 'custom.sql']) {
        const cmp = await compareSchemaDumps(p(side), p(`${db}.sql`));
        assert.equal(cmp.equal, false, `${what} (${side}) not seen`);
        const named = cmp.objects.find((o) => entry.test(o.section));
        assert.ok(named, `${what}: ${cmp.objects.map((o) => o.section).join(' | ')}`);
        assert.ok(named.lines.some((l) => line.test(l.source ?? '') || line.test(l.restored ?? '')), `${what}: ${JSON.stringify(named.lines)}`);
      }
    });
  }

  test('a drill of it PASSes with the source side from the dump; a tablespace changed in the copy FAILs the round trip, named', async () => {
    const url = urlOf(source, 'st');
    for (const format of ['plain', 'custom'] as const) {
      const { report } = await drill(url, dir.path, `ok-${format}`, undefined, false, { backup: { format } });
      assert.deepEqual(failed(report), [], `${format}: ${report.checks.filter((c) => c.status === 'fail').map((c) => c.detail).join('; ')}`);
      assert.equal(report.fidelity!.round_trip!.equal, true);
      assert.match(check(report, 'fidelity.round_trip').detail, /the drill's own dump .* lines equal/);
      assert.equal(check(report, 'fidelity.round_trip').evidence!.source_from, 'dump');
      // The source side came from the dump: no schema-only pg_dump session on the source.
      assert.ok(!report.production.audit.some((a) => a.sql.includes('--schema-only')), `${format}: ${report.production.audit.map((a) => a.sql).join(' | ')}`);
    }
    // The escape: PGDRILL_ROUND_TRIP_FROM_DUMP=0 takes the schema-only pg_dump in the snapshot again.
    process.env.PGDRILL_ROUND_TRIP_FROM_DUMP = '0';
    try {
      const { report } = await drill(url, dir.path, 'escape', undefined, false);
      assert.deepEqual(failed(report), []);
      assert.ok(report.production.audit.some((a) => a.by === 'pg_dump' && a.sql.includes('--schema-only')));
      assert.equal(check(report, 'fidelity.round_trip').evidence!.source_from, 'pg_dump');
    } finally {
      delete process.env.PGDRILL_ROUND_TRIP_FROM_DUMP;
    }
    const { report } = await drill(url, dir.path, 'moved', 'ALTER INDEX s2.zz_last_v SET TABLESPACE fast; ALTER TABLE public.other_am SET ACCESS METHOD heap', false);
    assert.deepEqual(failed(report), ['fidelity.catalog', 'fidelity.round_trip']);
    const sections = report.fidelity!.round_trip!.objects!.map((o) => o.section);
    assert.ok(sections.some((s) => /^Name: zz_last_v; Type: INDEX; Schema: s2;/.test(s)), sections.join(' | '));
    assert.ok(sections.some((s) => /^Name: other_am; Type: TABLE; Schema: public;/.test(s)), sections.join(' | '));
  });
});
