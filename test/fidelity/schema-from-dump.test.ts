/**
 * The round trip's source side and the large objects read from the drill's own dump (src/fidelity/schema-from-dump.ts)
 * instead of a second pg_dump and `lo_get` on production: the schema entries of a full dump equal a schema-only dump
 * of the same database, byte for byte but for the `\restrict` keys — plain (fed in odd chunk sizes), custom and
 * directory — on odd objects and on PostgreSQL's regression database; the large objects' hashes equal the server's,
 * and a changed byte, a malformed or a cut large object in the dump is seen.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runProcess } from '../../src/exec/run-process.js';
import { DumpSchemaExtractor, readArchiveSide, type DumpSideFidelity } from '../../src/fidelity/schema-from-dump.js';
import { diffLargeObjects } from '../../src/fidelity/large-object-hash.js';
import { compareSchemaDumps } from '../../src/fidelity/round-trip.js';
import { bins, psql, scratchDir, startSource } from '../helpers/clusters.js';
import { regressionEntry, startRegressionSource } from '../helpers/regression-db.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';

const ODD_OBJECTS = `
CREATE ROLE sfd_reader;
CREATE TABLE public.looks_like_entries (id int PRIMARY KEY, v text);
INSERT INTO public.looks_like_entries VALUES (1, '--'), (2, '-- Name: x; Type: TABLE; Schema: public; Owner: postgres'),
  (3, E'--\\n-- Data for Name: y; Type: TABLE DATA; Schema: public; Owner: postgres\\n--'), (4, '\\.'), (5, ''), (6, NULL);
CREATE TABLE public.empty_one (a int);
CREATE SEQUENCE public.counter START 40; SELECT nextval('public.counter');
CREATE MATERIALIZED VIEW public.mv AS SELECT id FROM public.looks_like_entries;
CREATE MATERIALIZED VIEW public.mv_empty AS SELECT 1 AS one WITH NO DATA;
CREATE FUNCTION public.commented() RETURNS int LANGUAGE sql AS $$
--
-- a comment inside a body
--
SELECT 1
$$;
COMMENT ON TABLE public.looks_like_entries IS 'odd rows';
GRANT SELECT ON public.looks_like_entries TO sfd_reader;
SELECT pg_catalog.lo_from_bytea(50001, '');
SELECT pg_catalog.lo_from_bytea(50002, decode(repeat('0123456789abcdef', 163840), 'hex'));
SELECT pg_catalog.lo_from_bytea(50100 + g, convert_to('object ' || g, 'UTF8')) FROM generate_series(1, 150) g;
COMMENT ON LARGE OBJECT 50002 IS 'big one';
GRANT SELECT ON LARGE OBJECT 50001 TO sfd_reader;
`;

/** A dump's lines without its `\restrict` / `\unrestrict` keys (random in every dump). */
const unrestricted = (text: string) => text.split('\n').filter((l) => !/^\\(un)?restrict /.test(l)).join('\n');

/** Feed a plain dump to the extractor `size` bytes at a time (each chunk a copy: the pipeline's chunks are reused). */
async function extractPlain(path: string, schemaPath: string | null, size: number): Promise<DumpSideFidelity> {
  const bytes = await readFile(path);
  const e = new DumpSchemaExtractor({ schemaPath, largeObjects: true });
  for (let i = 0; i < bytes.length; i += size) e.push(Buffer.from(bytes.subarray(i, i + size)));
  return e.finish();
}

async function dump(env: Record<string, string>, args: string[]): Promise<void> {
  await runProcess({ bin: (await bins()).path('pg_dump'), args: ['--no-sync', ...args], env });
}

async function serverLargeObjects(c: SandboxCluster, db: string): Promise<{ oid: string; bytes: number; sha256: string }[]> {
  const out = await psql(c, db, { sql: "SELECT oid, length(pg_catalog.lo_get(oid)), encode(sha256(pg_catalog.lo_get(oid)), 'hex') FROM pg_catalog.pg_largeobject_metadata ORDER BY oid" });
  return out.trim().split('\n').map((l) => l.split('|')).map(([oid, bytes, sha256]) => ({ oid: oid!, bytes: Number(bytes), sha256: sha256! }));
}

describe('the source side from the dump (odd objects)', () => {
  let dir: { path: string } & AsyncDisposable;
  let source: SandboxCluster;
  let p: (name: string) => string;
  before(async () => {
    dir = await scratchDir();
    p = (name) => join(dir.path, name);
    source = await startSource({ parentDir: dir.path });
    await psql(source, 'postgres', { sql: 'CREATE DATABASE odd' });
    await psql(source, 'odd', { sql: ODD_OBJECTS });
    const env = source.env('odd');
    await Promise.all([
      dump(env, ['--format=plain', `--file=${p('full.sql')}`]), dump(env, ['--schema-only', '--format=plain', `--file=${p('schema.sql')}`]),
      dump(env, ['--format=custom', `--file=${p('full.dump')}`]), dump(env, ['--format=directory', `--file=${p('full.dir')}`]),
    ]);
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  test('plain, in any chunk size: the schema entries equal the schema-only dump; every large object hashed as the server does', async () => {
    const expected = unrestricted(await readFile(p('schema.sql'), 'utf8'));
    const los = await serverLargeObjects(source, 'odd');
    assert.equal(los.length, 152);
    for (const size of [3, 4096, 1 << 20]) {
      const got = await extractPlain(p('full.sql'), p(`plain-${size}.sql`), size);
      assert.equal(unrestricted(await readFile(p(`plain-${size}.sql`), 'utf8')), expected, `chunks of ${size}`);
      assert.equal(got.largeObjectsError, null);
      assert.deepEqual(got.largeObjects, los, `chunks of ${size}`);
    }
    assert.equal((await compareSchemaDumps(p('schema.sql'), p('plain-4096.sql'))).equal, true);
  });

  for (const format of ['custom', 'directory'] as const) {
    test(`${format}: pg_restore of every entry but TABLE DATA gives the same schema and large objects`, async () => {
      const got = await readArchiveSide({ bins: await bins(), archive: p(format === 'custom' ? 'full.dump' : 'full.dir'), listPath: p(`${format}.list`), schemaPath: p(`${format}.sql`), largeObjects: true });
      assert.equal(unrestricted(await readFile(p(`${format}.sql`), 'utf8')), unrestricted(await readFile(p('schema.sql'), 'utf8')));
      assert.deepEqual(got.largeObjects, await serverLargeObjects(source, 'odd'));
      const onlyLos = await readArchiveSide({ bins: await bins(), archive: p(format === 'custom' ? 'full.dump' : 'full.dir'), listPath: p(`${format}.list`), largeObjects: true });
      assert.deepEqual([onlyLos.schemaPath, onlyLos.largeObjects?.length], [null, 152]);
    });
  }

  test('a large object changed, malformed or cut short in the dump: named, never taken for the server\'s', async () => {
    const text = await readFile(p('full.sql'), 'latin1');
    const changed = text.replace(/(lo_open\('50002'[^]*?lowrite\(0, '\\x0123)/, (m) => m.slice(0, -1) + '4');
    assert.notEqual(changed, text);
    await writeFile(p('changed.sql'), changed, 'latin1');
    const got = await extractPlain(p('changed.sql'), null, 65536);
    assert.deepEqual(diffLargeObjects(await serverLargeObjects(source, 'odd'), got.largeObjects!).map((d) => d.oid), ['50002']);
    await writeFile(p('malformed.sql'), text.replace("lowrite(0, '\\x0123", "lowrite(0, '\\xz123"), 'latin1');
    assert.match((await extractPlain(p('malformed.sql'), null, 65536)).largeObjectsError ?? '', /large object 50002: a lowrite line that is not hex bytea/);
    // Cut after the object's first lowrite line: its lo_close never comes.
    const open = text.indexOf("lo_open('50002'");
    await writeFile(p('cut.sql'), text.slice(0, text.indexOf('\n', text.indexOf('\n', open) + 1) + 1), 'latin1');
    const cut = await extractPlain(p('cut.sql'), null, 65536);
    assert.match(cut.largeObjectsError ?? '', /large object 50002 was never closed/);
    assert.equal(cut.largeObjects, null);
  });
});

test('the regression database: the dump\'s schema entries equal its schema-only dump (plain and custom)', async (t) => {
  const found = await regressionEntry();
  if ('missing' in found) {
    if (process.env.CI === 'true') assert.fail(found.missing);
    return t.skip(found.missing);
  }
  await using dir = await scratchDir();
  await using source = await startRegressionSource(found.entry);
  const p = (name: string) => join(dir.path, name);
  const env = source.env('regression');
  await dump(env, ['--format=plain', `--file=${p('full.sql')}`]);
  await dump(env, ['--schema-only', '--format=plain', `--file=${p('schema.sql')}`]);
  await dump(env, ['--format=custom', `--file=${p('full.dump')}`]);
  await extractPlain(p('full.sql'), p('plain.sql'), 1 << 20);
  await readArchiveSide({ bins: await bins(), archive: p('full.dump'), listPath: p('list'), schemaPath: p('custom.sql') });
  const expected = unrestricted(await readFile(p('schema.sql'), 'latin1'));
  assert.equal(unrestricted(await readFile(p('plain.sql'), 'latin1')), expected);
  assert.equal(unrestricted(await readFile(p('custom.sql'), 'latin1')), expected);
});
