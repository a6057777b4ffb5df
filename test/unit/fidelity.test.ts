import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareCodePoints, describeDifference, diffCatalogs, diffCatalogStreams, type CatalogDifference } from '../../src/fidelity/catalog-diff.js';
import { CATALOG_AREAS } from '../../src/fidelity/catalog-facts.js';
import { hashSql } from '../../src/fidelity/content-hash.js';
import { sequencesBehind } from '../../src/fidelity/sequences.js';
import { compareSchemaDumps } from '../../src/fidelity/round-trip.js';
import { parseAmcheckOutput } from '../../src/fidelity/amcheck.js';
import { FIDELITY_SESSION_SETTINGS } from '../../src/fidelity/session.js';
import { countWorkers } from '../../src/fidelity/verify-restored.js';
import { whyNotReadOnly } from '../../src/source/audit.js';
import { classifyRestoreErrors } from '../../src/restore/classify.js';
import { renderFidelity } from '../../src/report/fidelity-markdown.js';
import type { RestoreError } from '../../src/report/model.js';

const fact = (object: string, attribute: string, value: string) => ({ object, attribute, value });

test('diffCatalogs: equal, changed, one side only, whole object missing, duplicates as a set', async () => {
  const src = [fact('table a', 'owner', 'x'), fact('table a', 'grant SELECT to r', 'granted by x'), fact('column a.c', 'default', '3'), fact('index i', 'definition', 'CREATE INDEX i'),
    fact('policy a.p', 'roles', 'r1'), fact('policy a.p', 'roles', 'r2')];
  assert.deepEqual(await diffCatalogs(src, [...src].reverse()), []);
  const restored = [fact('table a', 'owner', 'x'), fact('column a.c', 'default', '7'), fact('view v', 'definition', 'SELECT 1'),
    fact('policy a.p', 'roles', 'r2'), fact('policy a.p', 'roles', 'r1')];
  assert.deepEqual(await diffCatalogs(src, restored), [
    { object: 'column a.c', attribute: 'default', source: '3', restored: '7' },
    { object: 'index i', attribute: 'object', source: 'present', restored: null },
    { object: 'table a', attribute: 'grant SELECT to r', source: 'granted by x', restored: null },
    { object: 'view v', attribute: 'object', source: null, restored: 'present' },
  ]);
  assert.equal(describeDifference({ object: 'table a', attribute: 'grant SELECT to r', source: 'granted by x', restored: null }), 'table a: grant SELECT to r: source "granted by x", restored (absent)');
  assert.equal(describeDifference({ object: 'index i', attribute: 'object', source: 'present', restored: null }), 'index i: missing in the restored copy');
});

test('compareCodePoints is the order of UTF-8 bytes (how the catalog query sorts), not of UTF-16 units', () => {
  const words = ['a', 'ab', 'b', 'Z', 'é', 'ü', '\uE000', '\uFFFD', '\u{1F600}', '\u{10000}', 'a\u{1F600}', 'a\uFFFD', '', 'table public.x'];
  for (const a of words) {
    for (const b of words) {
      assert.equal(Math.sign(compareCodePoints(a, b)), Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))), `${a} vs ${b}`);
    }
  }
  assert.ok('\u{1F600}' < '\uFFFD', 'UTF-16 order differs here, which is why the comparison exists');
});

test('diffCatalogStreams: an object split across batches is one object; facts out of order are refused', async () => {
  const batches = (...b: ReturnType<typeof fact>[][]) => (async function* () { yield* b; })();
  const got: CatalogDifference[] = [];
  const counts = await diffCatalogStreams(
    batches([fact('table a', 'owner', 'x')], [fact('table a', 'options', 'fillfactor=70'), fact('table \uFFFD', 'owner', 'x')], [fact('table \u{1F600}', 'owner', 'x')]),
    batches([fact('table a', 'options', 'fillfactor=70'), fact('table a', 'owner', 'y'), fact('table \uFFFD', 'owner', 'x'), fact('table \u{1F600}', 'owner', 'x')]),
    (d) => got.push(d),
  );
  assert.deepEqual(counts, { source: 4, restored: 4 });
  assert.deepEqual(got, [{ object: 'table a', attribute: 'owner', source: 'x', restored: 'y' }]);
  await assert.rejects(
    diffCatalogStreams(batches([fact('table b', 'owner', 'x'), fact('table a', 'owner', 'x')]), batches([]), () => {}),
    /not in code-point order.*"table b" before "table a"/,
  );
});

test('sequencesBehind: ascending, descending, missing, beyond 2^53', () => {
  const s = (sequence: string, position: string, increment = '1') => ({ sequence, position, increment });
  assert.deepEqual(sequencesBehind(
    [s('a', '200'), s('b', '200'), s('down', '-10', '-5'), s('down2', '-10', '-5'), s('gone', '1'), s('big', '9007199254740993')],
    [s('a', '200'), s('b', '5'), s('down', '-20', '-5'), s('down2', '-5', '-5'), s('big', '9007199254740992')],
  ), [
    { sequence: 'b', source: '200', restored: '5' },
    { sequence: 'down2', source: '-10', restored: '-5' },
    { sequence: 'gone', source: '1', restored: null },
    { sequence: 'big', source: '9007199254740993', restored: '9007199254740992' },
  ]);
});

test('compareSchemaDumps: strips \\restrict keys and the server version, masks built-ins\' owner, names the first difference', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pgdrill-rt-'));
  try {
    const head = (key: string, version: string, owner: string) => [
      '--', '-- PostgreSQL database dump', '--', '', `\\restrict ${key}`, '', `-- Dumped from database version ${version}`, '-- Dumped by pg_dump version 15.18', '',
      `-- Name: FUNCTION now(); Type: ACL; Schema: pg_catalog; Owner: ${owner}`,
      '--', '-- Name: film; Type: TABLE; Schema: public; Owner: postgres', '--', '', 'CREATE TABLE public.film (',
    ];
    const a = join(dir, 'a.sql');
    const b = join(dir, 'b.sql');
    await writeFile(a, [...head('AAA111', '15.18', 'postgres'), '    rental_duration smallint DEFAULT 3 NOT NULL', ');', '', '\\unrestrict AAA111', ''].join('\n'));
    await writeFile(b, [...head('BBB222', '15.17', 'pgdrill'), '    rental_duration smallint DEFAULT 3 NOT NULL', ');', '', '\\unrestrict BBB222', ''].join('\n'));
    const same = await compareSchemaDumps(a, b);
    assert.equal(same.equal, true);
    assert.deepEqual(same.stripped.map((s) => [s.source, s.restored]), [[2, 2], [1, 1], [1, 1], [0, 0]]);
    await writeFile(b, [...head('BBB222', '15.18', 'postgres'), '    rental_duration smallint DEFAULT 7 NOT NULL', ');', '', '\\unrestrict BBB222', ''].join('\n'));
    const diff = await compareSchemaDumps(a, b);
    assert.equal(diff.equal, false);
    assert.equal(diff.section, 'Name: film; Type: TABLE; Schema: public; Owner: postgres');
    assert.deepEqual(diff.differences[0], { source_line: 16, restored_line: 16, source: '    rental_duration smallint DEFAULT 3 NOT NULL', restored: '    rental_duration smallint DEFAULT 7 NOT NULL' });
    assert.equal(diff.differences.length, 1, 'equal lines after the difference are not listed');
    // One dump longer than the other: the difference is at the other's end.
    await writeFile(b, [...head('BBB222', '15.18', 'postgres'), '    rental_duration smallint DEFAULT 3 NOT NULL', ');', '', 'CREATE VIEW public.extra AS SELECT 1;', '\\unrestrict BBB222', ''].join('\n'));
    const longer = await compareSchemaDumps(a, b);
    assert.deepEqual(longer.differences[0], { source_line: null, restored_line: 19, source: null, restored: 'CREATE VIEW public.extra AS SELECT 1;' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('compareSchemaDumps splits lines as readline does: CRLF, a lone CR, a CRLF across a read, no newline at the end', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pgdrill-rt-'));
  try {
    // Lines that put a "\r\n" across the 64 KiB boundary of the file's first read.
    const body = Array.from({ length: 3000 }, (_, i) => `CREATE TABLE public.t${i} (a int);`);
    const lf = join(dir, 'lf.sql');
    const crlf = join(dir, 'crlf.sql');
    await writeFile(lf, `--\n-- Name: t; Type: TABLE; Schema: public; Owner: postgres\n--\n${body.join('\n')}\nlast line`);
    let text = `--\r\n-- Name: t; Type: TABLE; Schema: public; Owner: postgres\r\n--\r\n${body.join('\r\n')}\r\nlast line`;
    const at = text.indexOf('\r\n', 65536 - 40);
    text = text.slice(0, at) + ' '.repeat(65535 - at) + text.slice(at);
    assert.equal(text.slice(65535, 65537), '\r\n');
    const padded = join(dir, 'padded.sql');
    await writeFile(crlf, text);
    await writeFile(padded, text.replace(/\r\n/g, '\n'));
    const same = await compareSchemaDumps(padded, crlf);
    assert.equal(same.equal, true, JSON.stringify(same.differences));
    assert.equal(same.lines_compared, 3 + body.length + 1);
    // A lone CR ends a line too: "a\rb" is two lines, as in readline.
    await writeFile(crlf, text.replace('last line', 'last\rline'));
    const cr = await compareSchemaDumps(padded, crlf);
    assert.deepEqual(cr.differences, [
      { source_line: 3004, restored_line: 3004, source: 'last line', restored: 'last' },
      { source_line: null, restored_line: 3005, source: null, restored: 'line' },
    ]);
    assert.equal((await compareSchemaDumps(lf, lf)).lines_compared, 3 + body.length + 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('compareSchemaDumps reads each dump in its own encoding: LATIN1 and SQL_ASCII bytes that are not UTF-8 still differ', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pgdrill-rt-'));
  try {
    for (const [encoding, shown] of [['LATIN1', 'COMMENT ON TABLE public.t IS \'caf\u00e9\';'], ['SQL_ASCII', "COMMENT ON TABLE public.t IS 'caf\\xe9';"]] as const) {
      const dump = (last: number) => Buffer.concat([Buffer.from(`SET client_encoding = '${encoding}';\n--\n-- Name: TABLE t; Type: COMMENT; Schema: public; Owner: postgres\n--\n\nCOMMENT ON TABLE public.t IS 'caf`), Buffer.of(last), Buffer.from("';\n")]);
      const a = join(dir, 'a.sql');
      const b = join(dir, 'b.sql');
      await writeFile(a, dump(0xe9));
      await writeFile(b, dump(0xe9));
      assert.equal((await compareSchemaDumps(a, b)).equal, true, encoding);
      await writeFile(b, dump(0xea));
      const diff = await compareSchemaDumps(a, b, undefined, { differencesPath: join(dir, 'diff.txt') });
      assert.equal(diff.equal, false, encoding);
      assert.equal(diff.differences[0]?.source?.replace(/\udce9/, '\\xe9'), shown, encoding);
      if (encoding === 'SQL_ASCII') assert.match(await readFile(join(dir, 'diff.txt'), 'utf8'), /caf\\xe9';\n\+ 6: .*caf\\xea'/);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('compareSchemaDumps: names every differing object (a count, each with its lines), all of them in the differences file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pgdrill-rt-'));
  try {
    const entry = (name: string, type: string, body: string[], owner = 'postgres') => ['--', `-- Name: ${name}; Type: ${type}; Schema: public; Owner: ${owner}`, '--', '', ...body, ''];
    const head = ['--', '-- PostgreSQL database dump', '--', '', 'SET statement_timeout = 0;', ''];
    const tail = ['--', '-- PostgreSQL database dump complete', '--', ''];
    const a = join(dir, 'a.sql');
    const b = join(dir, 'b.sql');
    const file = join(dir, 'differences.txt');
    await writeFile(a, [...head,
      ...entry('actor', 'TABLE', ['CREATE TABLE public.actor (', '    id integer,', '    name text', ');']),
      ...entry('film', 'TABLE', ['CREATE TABLE public.film (', '    id integer DEFAULT 3,', '    title text', ');']),
      ...entry('gone', 'VIEW', ['CREATE VIEW public.gone AS', ' SELECT 1;']),
      ...entry('zeta', 'TABLE', ['CREATE TABLE public.zeta (', '    a integer', ');']),
      ...tail,
    ].join('\n'));
    await writeFile(b, [...head,
      ...entry('actor', 'TABLE', ['CREATE TABLE public.actor (', '    id integer,', '    name text', ');']),
      ...entry('film', 'TABLE', ['CREATE TABLE public.film (', '    id integer DEFAULT 7,', '    title text,', '    extra text', ');']),
      ...entry('zeta', 'TABLE', ['CREATE TABLE public.zeta (', '    a integer', ');'], 'someone'),
      ...entry('new', 'VIEW', ['CREATE VIEW public.new AS', ' SELECT 2;']),
      ...tail,
    ].join('\n'));
    const cmp = await compareSchemaDumps(a, b, undefined, { differencesPath: file });
    assert.equal(cmp.equal, false);
    assert.equal(cmp.objects_differing, 4);
    assert.deepEqual(cmp.objects.map((o) => [o.section, o.kind]), [
      ['Name: film; Type: TABLE; Schema: public; Owner: postgres', 'differs'],
      ['Name: gone; Type: VIEW; Schema: public; Owner: postgres', 'missing in the restored copy'],
      ['Name: zeta; Type: TABLE; Schema: public; Owner: postgres', 'differs'],
      ['Name: new; Type: VIEW; Schema: public; Owner: postgres', 'only in the restored copy'],
    ]);
    // Each object with its own differing lines, paired by hunk; equal lines (the title column) are not listed.
    assert.deepEqual(cmp.objects[0]!.lines.map((d) => [d.source, d.restored]), [
      ['    id integer DEFAULT 3,', '    id integer DEFAULT 7,'],
      ['    title text', '    title text,'],
      [null, '    extra text'],
    ]);
    assert.deepEqual(cmp.objects[2]!.lines.map((d) => [d.source, d.restored]), [
      ['-- Name: zeta; Type: TABLE; Schema: public; Owner: postgres', '-- Name: zeta; Type: TABLE; Schema: public; Owner: someone'],
    ]);
    assert.equal(cmp.section, 'Name: film; Type: TABLE; Schema: public; Owner: postgres');
    assert.deepEqual(cmp.differences, cmp.objects[0]!.lines);
    const text = await readFile(file, 'utf8');
    assert.match(text, /^# pgdrill round trip: 4 object\(s\) differ/);
    for (const o of cmp.objects) assert.ok(text.includes(`## ${o.section} — ${o.kind}`), o.section);
    assert.match(text, /^- \d+:  SELECT 1;$/m);
    assert.match(text, /^\+ \d+:  SELECT 2;$/m);
    // Equal dumps write no file and list nothing.
    const same = await compareSchemaDumps(a, a);
    assert.deepEqual([same.equal, same.objects_differing, same.objects, same.differences_path], [true, 0, [], null]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('parseAmcheckOutput: relations from --verbose, findings from stdout', () => {
  const stderr = [
    'pg_amcheck: including database "pagila"',
    'pg_amcheck: checking heap table "pagila.public.actor"',
    'pg_amcheck: checking btree index "pagila.public.actor_f_idx"',
    'pg_amcheck: checking btree index "pagila.public.actor_pkey"',
  ];
  const stdout = [
    'btree index "pagila.public.actor_f_idx":',
    '    ERROR:  XX001: heap tuple (0,1) from table "actor" lacks matching index tuple within index "actor_f_idx"',
    '    HINT:  Retrying verification using the function bt_index_parent_check() might provide a more specific error.',
    '    LOCATION:  bt_tuple_present_callback, verify_nbtree.c:2582',
    'query was: SELECT "public".bt_index_check(index := c.oid, heapallindexed := true)',
    'FROM pg_catalog.pg_class c WHERE c.oid = 16871',
    'heap table "pagila.public.actor", block 0, offset 3:',
    '    xmin 12345 precedes relation freeze threshold 0:23456',
    '',
  ].join('\n');
  assert.deepEqual(parseAmcheckOutput('pagila', stdout, stderr), [
    { relation: 'public.actor', kind: 'heap table', status: 'corrupt', messages: ['block 0, offset 3', 'xmin 12345 precedes relation freeze threshold 0:23456'] },
    { relation: 'public.actor_f_idx', kind: 'btree index', status: 'corrupt', messages: [
      'ERROR:  XX001: heap tuple (0,1) from table "actor" lacks matching index tuple within index "actor_f_idx"',
      'HINT:  Retrying verification using the function bt_index_parent_check() might provide a more specific error.',
    ] },
    { relation: 'public.actor_pkey', kind: 'btree index', status: 'ok', messages: [] },
  ]);
});

test('parseAmcheckOutput: names with quotes and dots (pg_amcheck prints them unquoted inside its quotes)', () => {
  const stderr = ['pg_amcheck: checking heap table "o"q.public.my"t"', 'pg_amcheck: checking btree index "o"q.public.my"t_pkey"'];
  const stdout = 'heap table "o"q.public.my"t", block 0, offset 1:\n    bad tuple\n';
  assert.deepEqual(parseAmcheckOutput('o"q', stdout, stderr), [
    { relation: 'public.my"t', kind: 'heap table', status: 'corrupt', messages: ['block 0, offset 1', 'bad tuple'] },
    { relation: 'public.my"t_pkey', kind: 'btree index', status: 'ok', messages: [] },
  ]);
});

test('countWorkers: the restored counts take parallel workers only from cores the other checks leave free', () => {
  assert.equal(countWorkers(2, 2), 0); // 2 cores, amcheck -j 2: a serial count
  assert.equal(countWorkers(1, 2), 0); // the count's own core and amcheck's take both
  assert.equal(countWorkers(2, 4), 1);
  assert.equal(countWorkers(4, 16), 2); // at most PostgreSQL's default
  assert.equal(countWorkers(0, 1), 0);
});

test('every catalog query is ASCII: it is sent to databases in any encoding (a LATIN1 one cannot take a "…")', () => {
  // eslint-disable-next-line no-control-regex
  for (const a of CATALOG_AREAS) assert.match(a.sql, /^[\x00-\x7f]*$/, a.area);
  // eslint-disable-next-line no-control-regex
  for (const s of FIDELITY_SESSION_SETTINGS) assert.match(s, /^[\x00-\x7f]*$/, s);
});

test('every statement the fidelity capture sends to the source passes the read-only audit', () => {
  const statements = [
    ...FIDELITY_SESSION_SETTINGS, ...CATALOG_AREAS.map((a) => a.sql),
    hashSql({ schema: 'public', name: 'we"ird' }, [{ column: 'm', base: 'money' }, { column: 'x', base: 'int4' }]),
    'SAVEPOINT pgdrill_fidelity_1', 'RELEASE SAVEPOINT pgdrill_fidelity_1', 'ROLLBACK TO SAVEPOINT pgdrill_fidelity_2',
  ];
  for (const s of statements) assert.equal(whyNotReadOnly(s), null, s.slice(0, 200));
  assert.match(hashSql({ schema: 'public', name: 't' }, [{ column: 'm', base: 'money' }]), /ROW\("m"::pg_catalog\.numeric\)::text/);
});

test('restore errors: the environment causes added with the fidelity checks, and a hint for every error', () => {
  const e = (message: string, sqlstate: string | null = null): RestoreError => ({ message, sqlstate, statement: null, line: 1, phase: 'dump', classification: 'unknown', hint: null });
  const out = classifyRestoreErrors([
    e('could not open extension control file "/usr/share/postgresql/15/extension/postgis.control": No such file or directory', '58P01'),
    e('extension "hstore" has no installation script nor update path for version "1.6"', '22023'),
    e('could not access file "$libdir/pg_partman_bgw": No such file or directory', '58P01'),
    e('language "plpython3u" does not exist', '42704'),
    e('character with byte sequence 0xe2 0x82 0xac in encoding "UTF8" has no equivalent in encoding "LATIN1"', '22P05'),
    e('could not extend file "base/16384/16385": No space left on device', '53100'),
    e('something nobody has seen before', 'XX000'),
  ]);
  assert.deepEqual(out.map((x) => x.classification), ['environment_defect', 'environment_defect', 'environment_defect', 'environment_defect', 'environment_defect', 'environment_defect', 'unknown']);
  assert.ok(out.every((x) => x.hint && x.hint.length > 20), JSON.stringify(out.map((x) => x.hint)));
});

test('renderFidelity: differences, round trip lines and amcheck findings as tables', () => {
  const md = renderFidelity({
    deep: true, differences: [{ object: 'table public.actor', attribute: 'grant SELECT to app_reader', source: 'granted by postgres', restored: null }], differences_omitted: 0,
    hashes: { tables: 2, equal: 1, source_ms: 5, restored_ms: 4 },
    catalog: { source_facts: 10, restored_facts: 9, sequences_checked: 1, source_ms: 3, restored_ms: 2 },
    round_trip: { equal: false, source_path: '/r/fidelity/source-schema.sql', restored_path: '/r/fidelity/restored-schema.sql', lines_compared: 40, stripped: [], section: 'Name: actor; Type: ACL', ms: 9,
      differences: [{ source_line: 41, restored_line: 41, source: 'GRANT SELECT ON TABLE public.actor TO app_reader;', restored: '' }] },
    amcheck: { exit_code: 2, relations_checked: 3, corrupt: 1, error: null, ms: 7, relations: [{ relation: 'public.i', kind: 'btree index', status: 'corrupt', messages: ['lacks matching index tuple'] }] },
    extensions_missing: [{ name: 'postgis', version: '3.4.2' }],
  });
  assert.match(md, /content_hashes: 1\/2 tables equal/);
  assert.match(md, /\| table public\.actor \| grant SELECT to app_reader \| `granted by postgres` \| _\(absent\)_ \|/);
  assert.match(md, /Round trip: first differing lines \(in `Name: actor; Type: ACL`\)/);
  assert.match(md, /\| public\.i \| btree index \| `lacks matching index tuple` \|/);
  assert.match(md, /extensions_missing: postgis 3\.4\.2 \(environment defect\)/);
});
