/**
 * PlainDumpScanner on real pg_dump output: pagila and northwind from /work/shared/data and two unedited
 * PostgreSQL 15.18 dumps in ./fixtures. Covers inventory, COPY counts, trailer, truncation and chunking.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { PlainDumpScanner, scanPlainDumpFile, scannerSink } from '../../src/scan/plain-dump-scanner.js';
import { DATA_DIR, fixture, sample, scan, blocksOf } from './scan-helpers.js';

function countByType(entries: readonly { type: string }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of entries) out[e.type] = (out[e.type] ?? 0) + 1;
  return out;
}

describe('pagila schema (pg_dump text)', () => {
  const text = sample('pagila/pagila-schema.sql');
  const r = scan(text);

  test('inventory has every TOC header with pg_dump\'s type labels', () => {
    assert.deepEqual(countByType(r.inventory.entries), {
      SCHEMA: 1, DOMAIN: 2, TYPE: 1, FUNCTION: 9, AGGREGATE: 1, SEQUENCE: 13, TABLE: 22, VIEW: 7,
      'MATERIALIZED VIEW': 1, 'TABLE ATTACH': 7, CONSTRAINT: 14, 'FK CONSTRAINT': 36, INDEX: 34, TRIGGER: 15, ACL: 1,
    });
    const partitions = r.inventory.entries.filter((e) => e.type === 'TABLE' && e.name.startsWith('payment_p2022_')).map((e) => e.name);
    assert.deepEqual(partitions, ['01', '02', '03', '04', '05', '06', '07'].map((m) => `payment_p2022_${m}`));
  });

  test('entries carry schema, owner and header line; "-" is null; names keep argument lists and non-ASCII', () => {
    const find = (name: string) => r.inventory.entries.find((e) => e.name === name);
    assert.deepEqual(find('public'), { type: 'SCHEMA', schema: null, name: 'public', owner: 'postgres', line: 20 });
    assert.deepEqual(find('bıgınt'), { type: 'DOMAIN', schema: 'public', name: 'bıgınt', owner: 'postgres', line: 29 });
    assert.deepEqual(find('last_day(timestamp with time zone)'),
      { type: 'FUNCTION', schema: 'public', name: 'last_day(timestamp with time zone)', owner: 'postgres', line: 218 });
    assert.equal(find('rental_by_category')?.type, 'MATERIALIZED VIEW');
  });

  test('grants, roles and trailer', () => {
    assert.deepEqual(r.inventory.grants, [{ role: 'PUBLIC', privilege: 'ALL', objectType: 'SCHEMA', object: 'public', line: 1836 }]);
    // Independent count: header owners plus ALTER … OWNER TO lines.
    const s = text.toString();
    const expectedOwner = (s.match(/; Owner: postgres$/gm) ?? []).length + (s.match(/ OWNER TO postgres;$/gm) ?? []).length;
    assert.deepEqual(r.inventory.roles, { postgres: { owner: expectedOwner, grant: 0, other: 0 } });
    assert.deepEqual(r.trailer, { complete: true, restrictKey: null, unrestrictKey: null, dumpedFrom: '12.11', dumpedBy: '15beta2' });
    assert.deepEqual(r.findings, [], 'ordinary plpgsql/sql functions are not findings');
    assert.equal(r.lines, 1842);
    assert.equal(r.bytes, text.length);
  });
});

describe('pagila data (COPY blocks)', () => {
  const text = sample('pagila/pagila-data.sql');
  const r = scan(text);
  const rows = Object.fromEntries(r.copyBlocks.map((b) => [b.table, b.rows]));

  test('every COPY block is counted and terminated', () => {
    assert.equal(r.copyBlocks.length, 21);
    assert.ok(r.copyBlocks.every((b) => b.terminated));
    assert.equal(rows['public.actor'], 200);
    assert.equal(rows['public.rental'], 16044);
    assert.equal(rows['public.film'], 1000);
    assert.equal(rows['public.film_actor'], 5462);
    assert.equal(rows['public.staff'], 1500);
    const payments = ['01', '02', '03', '04', '05', '06', '07'].map((m) => rows[`public.payment_p2022_${m}`]);
    assert.deepEqual(payments, [723, 2401, 2713, 2547, 2677, 2654, 2334]);
    assert.equal(payments.reduce((a, b) => a + b), 16049);
    assert.deepEqual(blocksOf(r)[0], { table: 'public.actor', rows: 200, terminated: true, line: 23 });
  });

  test('data headers, trailer and totals', () => {
    assert.equal(r.inventory.entries.filter((e) => e.type === 'TABLE DATA').length, 21);
    assert.equal(r.trailer.complete, true);
    assert.deepEqual(r.findings, [], 'COPY data (ADAM GRANT, backslashes) is never SQL');
    assert.deepEqual(r.inventory.grants, []);
    assert.equal(r.lines, 49916);
    assert.equal(r.bytes, text.length);
  });

  test('a dump cut inside a COPY block is truncated: block unterminated, trailer incomplete', () => {
    const copyAt = text.indexOf('COPY public.rental');
    const cut = text.indexOf('\n1000\t', copyAt) + 1; // cut at the start of the row with rental_id 1000
    const completeRows = text.subarray(copyAt, cut).toString().split('\n').length - 2; // minus the COPY line and the empty tail
    const t = scan(text.subarray(0, cut));
    const last = t.copyBlocks.at(-1);
    assert.ok(last);
    assert.deepEqual({ table: last.table, terminated: last.terminated }, { table: 'public.rental', terminated: false });
    assert.equal(last.rows, completeRows);
    assert.equal(t.trailer.complete, false);
    assert.ok(t.copyBlocks.slice(0, -1).every((b) => b.terminated));
    // Cut mid-row: the partial row is still data psql would send.
    const mid = scan(text.subarray(0, cut + 5));
    assert.equal(mid.copyBlocks.at(-1)?.rows, completeRows + 1);
  });

  test('a dump cut between statements (all blocks closed) is still incomplete without the trailer', () => {
    const cut = text.indexOf('\n', text.indexOf('\\.', text.indexOf('COPY public.rental'))) + 1;
    const t = scan(text.subarray(0, cut));
    assert.ok(t.copyBlocks.every((b) => b.terminated));
    assert.equal(t.trailer.complete, false);
  });
});

describe('northwind (older pg_dump text, INSERTs)', () => {
  const r = scan(sample('northwind/northwind.sql'));

  test('Owner "-" and Schema "-" are null; no findings for plain strings with backslashes', () => {
    const fk = r.inventory.entries.find((e) => e.name === 'fk_employees_employees');
    assert.deepEqual(fk && { type: fk.type, schema: fk.schema, owner: fk.owner }, { type: 'Constraint', schema: null, owner: null });
    assert.equal(r.inventory.entries.filter((e) => e.type === 'TABLE').length, 14);
    assert.deepEqual(r.inventory.roles, {});
    assert.deepEqual(r.findings, []);
    assert.deepEqual(r.copyBlocks, []);
    assert.equal(r.trailer.complete, true);
  });
});

describe('PostgreSQL 15.18 pg_dump -C output (fixtures/pg15-fixture.sql)', () => {
  const text = fixture('pg15-fixture.sql');
  const r = scan(text);
  const key = /^\\restrict (\S+)$/m.exec(text.toString())![1];

  test('\\restrict/\\unrestrict pairs around \\connect are accepted and the keys recorded', () => {
    assert.equal(r.trailer.restrictKey, key);
    assert.equal(r.trailer.unrestrictKey, key);
    assert.equal(r.trailer.complete, true);
    assert.match(r.trailer.dumpedBy ?? '', /^15\.18 /);
    assert.deepEqual(r.findings, []);
  });

  test('quoted names, BEGIN ATOMIC bodies and tricky COPY data', () => {
    const copyLine = text.toString().split('\n').findIndex((l) => l.startsWith('COPY ')) + 1;
    assert.deepEqual(blocksOf(r), [{ table: '"Sales"."Order Lines"', rows: 4, terminated: true, line: copyLine }]);
    assert.deepEqual(r.inventory.entries.map((e) => `${e.type}:${e.schema ?? '-'}.${e.name}:${e.owner}`), [
      'DATABASE:-.drill_fixture:postgres',
      'SCHEMA:-.Sales:app_owner',
      'FUNCTION:Sales.add_line(integer, text):app_owner',
      'TABLE:Sales.Order Lines:app_owner',
      'COMMENT:Sales.TABLE "Order Lines":app_owner',
      'FUNCTION:Sales.line_count():postgres',
      'VIEW:Sales.notes:postgres',
      'TABLE DATA:Sales.Order Lines:app_owner',
      'CONSTRAINT:Sales.Order Lines Order Lines_pkey:app_owner',
      'ACL:-.SCHEMA "Sales":app_owner',
      'ACL:Sales.FUNCTION add_line(p_id integer, p_note text):app_owner',
      'ACL:Sales.TABLE "Order Lines":app_owner',
      'ACL:Sales.COLUMN "Order Lines"."Note":app_owner',
      'ACL:Sales.COLUMN "Order Lines".qty:app_owner',
      'ACL:Sales.FUNCTION line_count():postgres',
    ]);
  });

  test('grants: comma lists, column privileges, quoted grantees, WITH GRANT OPTION', () => {
    const g = r.inventory.grants.map((x) => `${x.role}|${x.privilege}|${x.objectType}|${x.object}|${x.columns?.join(',') ?? ''}`);
    assert.deepEqual(g, [
      'app_rw|USAGE|SCHEMA|Sales|',
      'Report Reader|USAGE|SCHEMA|Sales|',
      'app_rw|ALL|FUNCTION|Sales.add_line(p_id integer, p_note text)|',
      'app_rw|SELECT|TABLE|Sales.Order Lines|',
      'app_rw|INSERT|TABLE|Sales.Order Lines|',
      'app_rw|UPDATE|TABLE|Sales.Order Lines|',
      'Report Reader|SELECT|TABLE|Sales.Order Lines|Note',
      'Report Reader|SELECT|TABLE|Sales.Order Lines|qty',
      'Report Reader|UPDATE|TABLE|Sales.Order Lines|qty',
    ]);
    assert.deepEqual(r.inventory.roles, {
      postgres: { owner: 7, grant: 0, other: 0 },
      app_owner: { owner: 14, grant: 0, other: 0 },
      app_rw: { owner: 0, grant: 3, other: 0 },
      'Report Reader': { owner: 0, grant: 3, other: 0 },
    });
  });

  test('pg_dumpall --globals-only: role membership as MEMBER grants, cluster trailer', () => {
    const gl = scan(fixture('pg15-globals.sql'));
    assert.deepEqual(gl.inventory.grants.map((x) => `${x.role}|${x.privilege}|${x.objectType}|${x.object}|${x.line}`),
      ['My Role|MEMBER|ROLE|app_ro|38', 'Report Reader|MEMBER|ROLE|app_rw|39']);
    assert.equal(gl.inventory.roles.postgres?.other, 2, 'GRANTED BY postgres');
    assert.equal(gl.trailer.complete, true);
    assert.deepEqual(gl.findings, []);
  });
});

describe('arbitrary chunk boundaries give identical results', () => {
  const hostile = Buffer.from([
    'SET standard_conforming_strings = on;',
    "SELECT 'naïve ☕', E'it\\'s', $fn$ body \\! not $x$ $fn$; \\! touch /tmp/x",
    'COPY public.t (a) FROM stdin;',
    'ünïcode\t\\\\! data',
    '\\.',
    'CREATE FUNCTION f() RETURNS int LANGUAGE c AS \'/tmp/x.so\', \'f\';',
    "-- comment\r\\o |cat",
    '/* /* nested */ still \\! inside */ SELECT 2;',
    '',
  ].join('\n'));
  const inputs: [string, Buffer][] = [
    ['pagila schema', sample('pagila/pagila-schema.sql')],
    ['pg15 fixture', fixture('pg15-fixture.sql')],
    ['hostile sample', hostile],
    ['pagila data (first 400 kB)', sample('pagila/pagila-data.sql').subarray(0, 400_000)],
  ];
  for (const [name, input] of inputs) {
    test(name, () => {
      const whole = scan(input);
      assert.deepEqual(scan(input, undefined, 1), whole, '1-byte chunks');
      assert.deepEqual(scan(input, undefined, 7), whole, '7-byte chunks');
      for (const seed of [1, 42, 9001]) assert.deepEqual(scan(input, undefined, { seed }), whole, `random chunks, seed ${seed}`);
    });
  }
  test('the hostile sample itself is read as psql would', () => {
    const r = scan(hostile);
    assert.deepEqual(r.findings.map((f) => `${f.kind}@${f.line}`), ['meta-command@2', 'untrusted-function@6', 'meta-command@7']);
    assert.deepEqual(blocksOf(r), [{ table: 'public.t', rows: 1, terminated: true, line: 3 }]);
  });
  test('whole pagila data in 64 KiB and odd-sized chunks', () => {
    const data = sample('pagila/pagila-data.sql');
    const whole = scan(data);
    assert.deepEqual(scan(data, undefined, 65536), whole);
    assert.deepEqual(scan(data, undefined, 4093), whole);
  });
});

describe('trailer rules', () => {
  const body = 'SET standard_conforming_strings = on;\nSELECT 1;\n\n--\n-- PostgreSQL database dump complete\n--\n\n';
  test('restrict/unrestrict keys must match', () => {
    assert.equal(scan(`\\restrict abc123\n${body}\\unrestrict abc123\n`).trailer.complete, true);
    const wrong = scan(`\\restrict abc123\n${body}\\unrestrict zzz\n`);
    assert.deepEqual([wrong.trailer.complete, wrong.trailer.restrictKey, wrong.trailer.unrestrictKey], [false, 'abc123', 'zzz']);
    assert.equal(scan(`\\restrict abc123\n${body}`).trailer.complete, false, 'missing \\unrestrict');
  });
  test('SQL after the trailer makes it incomplete; a trailer inside a literal does not count', () => {
    assert.equal(scan(`${body}SELECT 2;\n`).trailer.complete, false);
    assert.equal(scan(`SELECT $$\n-- PostgreSQL database dump complete\n$$;\n`).trailer.complete, false);
    assert.equal(scan('SELECT 1;\n-- Name: x; Type: TABLE; Schema: public; Owner: a\n').inventory.entries.length, 1);
    assert.equal(scan("SELECT '\n-- Name: x; Type: TABLE; Schema: public; Owner: a\n';\n").inventory.entries.length, 0);
  });
  test('input ending inside a statement or literal is incomplete', () => {
    assert.equal(scan(`${body}SELECT 'unterminated\n`).trailer.complete, false);
  });
});

describe('file and stream entry points', () => {
  test('scanPlainDumpFile reads plain and .gz files; scannerSink works with pipeline', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgdrill-scan-'));
    try {
      const text = sample('pagila/pagila-schema.sql');
      const gz = join(dir, 'pagila-schema.sql.gz');
      writeFileSync(gz, gzipSync(text));
      const expected = scan(text);
      assert.deepEqual(await scanPlainDumpFile(join(DATA_DIR, 'pagila/pagila-schema.sql')), expected);
      assert.deepEqual(await scanPlainDumpFile(gz), expected);
      const s = new PlainDumpScanner();
      await pipeline(Readable.from([text.subarray(0, 1000), text.subarray(1000)]), scannerSink(s));
      assert.deepEqual(s.finish(), expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  test('push after finish throws; finish is idempotent', () => {
    const s = new PlainDumpScanner();
    s.push(Buffer.from('SELECT 1;\n'));
    const a = s.finish();
    assert.equal(s.finish(), a);
    assert.throws(() => s.push(Buffer.from('x')));
  });
  test('lines and bytes count a last line without newline', () => {
    const r = scan('SELECT 1;\nSELECT 2;');
    assert.deepEqual([r.lines, r.bytes], [2, 19]);
    assert.deepEqual([scan('').lines, scan('\n').lines], [0, 1]);
  });
});

describe('tablespaces', () => {
  test('SET default_tablespace names the tablespaces objects go to (identifier, quoted, string); \'\' is the default', () => {
    const r = scan([
      "SET default_tablespace = '';",
      'CREATE TABLE public.a (id integer);',
      'SET default_tablespace = fastdisk;',
      'CREATE TABLE public.hot (id integer);',
      'SET default_tablespace = "Slow Disk";',
      'CREATE INDEX i ON public.a (id);',
      "SET default_tablespace = 'archive';",
      'SET default_tablespace = fastdisk;',
      '',
    ].join('\n'));
    assert.deepEqual(r.inventory.tablespaces, ['Slow Disk', 'archive', 'fastdisk']);
    assert.deepEqual(scan(sample('pagila/pagila-schema.sql')).inventory.tablespaces, []);
  });
});
