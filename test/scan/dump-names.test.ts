/**
 * Names in a dump's `-- Name:` headers as pg_dump writes them: in the dump's client encoding, with newlines as
 * spaces, and sometimes holding the header's own separators. Unit tests of the scanner and of the content check's
 * matching; test/drill/dump-names.test.ts runs the same cases through real pg_dump output.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CatalogObject } from '../../src/catalog/objects.js';
import { checkAgainstSourceCatalog } from '../../src/inventory/expectations.js';
import { decodeBytes, displayName, dumpEncoding } from '../../src/scan/dump-encoding.js';
import { parseHeaderLine } from '../../src/scan/dump-headers.js';
import { scan } from './scan-helpers.js';

const latin1 = (s: string) => Buffer.from(s, 'latin1');

function dump(encoding: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`SET client_encoding = '${encoding}';\nSET standard_conforming_strings = on;\n\n`), body]);
}

function header(name: Buffer, type: string, schema: Buffer | string): Buffer {
  return Buffer.concat([Buffer.from('--\n-- Name: '), name, Buffer.from(`; Type: ${type}; Schema: `), typeof schema === 'string' ? Buffer.from(schema) : schema, Buffer.from('; Owner: postgres\n--\n\n')]);
}

describe('the dump\'s client encoding decodes its names', () => {
  test('LATIN1: café.façade decoded from single bytes, in every chunking', () => {
    const body = Buffer.concat([header(latin1('façade'), 'TABLE', latin1('café')), latin1('CREATE TABLE café.façade (t text);\nGRANT SELECT ON TABLE café.façade TO "rôle";\n')]);
    for (const chunking of [undefined, 1, 7, { seed: 3 }]) {
      const r = scan(dump('LATIN1', body), {}, chunking);
      assert.equal(r.inventory.encoding, 'LATIN1');
      assert.deepEqual(r.inventory.entries.map((e) => [e.type, e.schema, e.name]), [['TABLE', 'café', 'façade']]);
      assert.deepEqual(r.inventory.grants.map((g) => [g.role, g.object]), [['rôle', 'café.façade']]);
      assert.deepEqual(r.findings, []);
    }
  });

  test('EUC_JP: two- and three-byte characters split across chunks; WIN1252 €; LATIN5 Ğ; KOI8R', () => {
    const eucjp = Buffer.from([0xc9, 0xbd, 0xa1, 0xa6, 0x8f, 0xb0, 0xa1]); // 表・ and a JIS X 0212 three-byte char
    const expected = new TextDecoder('euc-jp').decode(eucjp);
    for (const chunking of [1, 2, 3, 5]) {
      const r = scan(dump('EUC_JP', header(eucjp, 'TABLE', 'public')), {}, chunking);
      assert.equal(r.inventory.entries[0]?.name, expected);
      assert.doesNotMatch(expected, /\ufffd/);
    }
    assert.equal(scan(dump('WIN1252', header(Buffer.from([0x80, 0x41]), 'VIEW', 'public'))).inventory.entries[0]?.name, '€A');
    assert.equal(scan(dump('LATIN5', header(Buffer.from([0xd0, 0xe9]), 'VIEW', 'public'))).inventory.entries[0]?.name, 'Ğé');
    assert.equal(scan(dump('KOI8R', header(Buffer.from([0xc1]), 'VIEW', 'public'))).inventory.entries[0]?.name, 'а');
    // UTF8 stays the default without a SET
    assert.equal(scan(header(Buffer.from('naïve'), 'TABLE', 'public')).inventory.entries[0]?.name, 'naïve');
  });

  test('SQL_ASCII: read as its sessions read it — UTF-8 as characters, other bytes shown as \\xNN escapes (nothing guessed, nothing lost)', () => {
    const r = scan(dump('SQL_ASCII', Buffer.concat([header(Buffer.from([0x63, 0x61, 0x66, 0xe9]), 'TABLE', 'public'), header(Buffer.from('a\\b'), 'TABLE', 'public'), header(Buffer.from('café'), 'TABLE', 'public')])));
    assert.equal(r.inventory.encoding, 'SQL_ASCII');
    assert.deepEqual(r.inventory.entries.map((e) => e.name), ['caf\\xe9', 'a\\b', 'café']);
    assert.deepEqual(r.findings, []);
  });

  test('SQL_ASCII: a LANGUAGE internal function is allowed by its name as the report shows it (f\\xe9)', () => {
    const body = Buffer.concat([Buffer.from('CREATE FUNCTION public."f'), Buffer.of(0xe9), Buffer.from('"() RETURNS bigint LANGUAGE internal WINDOW AS \'window_row_number\';\n')]);
    assert.deepEqual(scan(dump('SQL_ASCII', body)).findings.map((f) => [f.kind, f.text.replace(/\udce9/g, '\\xe9').split(':')[0]]), [['untrusted-function', 'function public.f\\xe9 in LANGUAGE internal']]);
    assert.deepEqual(scan(dump('SQL_ASCII', body), { allow: { functions: ['public.f\\xe9'] } }).findings, []);
  });

  test('encoding names as PostgreSQL accepts them; unknown ones read byte for byte', () => {
    assert.equal(dumpEncoding('iso-8859-1').name, 'LATIN1');
    assert.equal(dumpEncoding('Win1252').name, 'WIN1252');
    assert.equal(dumpEncoding('euc_jp').decoded, true);
    assert.equal(dumpEncoding('MULE_INTERNAL').decoded, false);
    assert.equal(dumpEncoding('LATIN10').decoded, false);
    assert.equal(dumpEncoding('NO_SUCH').decoded, false);
    // LATIN1 is ISO 8859-1, not WHATWG's windows-1252: 0x80 is U+0080
    assert.equal(decodeBytes(dumpEncoding('LATIN1'), Buffer.from([0x80, 0xe9])), '\u0080é');
    assert.equal(displayName(dumpEncoding('SQL_ASCII'), 'x\udcff\u00ff'), 'x\\xffÿ');
  });
});

describe('header readings', () => {
  test('a name holding "; Type:" or the whole separator sequence is still found', () => {
    const h = parseHeaderLine('-- Name: a; Type: b; Type: TABLE; Schema: public; Owner: postgres');
    assert.ok(h?.kind === 'entry');
    assert.deepEqual([h.name, h.type, h.schema, h.owner, h.alternatives], ['a; Type: b', 'TABLE', 'public', 'postgres', undefined]);
    const evil = parseHeaderLine('-- Name: x; Type: VIEW; Schema: public; Owner: me; Type: TABLE; Schema: public; Owner: postgres');
    assert.ok(evil?.kind === 'entry');
    // the first reading gives the name the separators (names come from anywhere; role names rarely hold them)
    assert.deepEqual([evil.name, evil.type, evil.schema, evil.owner], ['x; Type: VIEW; Schema: public; Owner: me', 'TABLE', 'public', 'postgres']);
    const all = [evil, ...(evil.alternatives ?? [])].map((r) => `${r.type} ${r.schema}.${r.name}`);
    assert.ok(all.includes('TABLE public.x; Type: VIEW; Schema: public; Owner: me'), all.join(' | '));
    const ts = parseHeaderLine('-- Name: t; Type: TABLE; Schema: s; Owner: o; Tablespace: fast');
    assert.ok(ts?.kind === 'entry');
    assert.deepEqual([ts.name, ts.schema, ts.owner], ['t', 's', 'o']);
    const data = parseHeaderLine('-- Data for Name: t; Type: TABLE DATA; Schema: s; Owner: -');
    assert.ok(data?.kind === 'entry');
    assert.deepEqual([data.name, data.type, data.owner], ['t', 'TABLE DATA', null]);
  });

  test('a hostile header full of separators: a bounded number of readings, read in linear time', () => {
    const line = `-- Name: x${'; Type: TABLE; Schema: s; Owner: o'.repeat(1800)}`;
    const t0 = performance.now();
    for (let i = 0; i < 100; i++) {
      const h = parseHeaderLine(line);
      assert.ok(h?.kind === 'entry' && (h.alternatives?.length ?? 0) <= 7);
    }
    assert.ok(performance.now() - t0 < 5000, 'quadratic?');
    const noSchema = parseHeaderLine(`-- Name: x${'; Type: '.repeat(8000)}; Schema: s; Owner: o`);
    assert.equal(noSchema, null);
  });

  test('a header longer than 8 KiB (a function of 100 long-named arguments) is read whole', () => {
    const args = Array.from({ length: 100 }, (_, i) => `"${'s'.repeat(60)}${i}"."${'t'.repeat(60)}"[]`).join(', ');
    const r = scan(`--\n-- Name: f(${args}); Type: FUNCTION; Schema: public; Owner: postgres\n--\n`);
    assert.ok(args.length > 12000);
    assert.equal(r.inventory.entries[0]?.name, `f(${args})`);
  });
});

describe('content.source_catalog matches what pg_dump writes', () => {
  const obj = (type: CatalogObject['type'], schema: string, name: string, encoding = 'UTF8', bytes?: Buffer): CatalogObject => ({
    type, schema, name, owner: 'postgres',
    bytes: { schema: Buffer.from(schema).toString('latin1'), name: (bytes ?? Buffer.from(name)).toString('latin1'), encoding },
  });

  test('newlines and carriage returns as spaces; tabs kept; a removed object is still missing', () => {
    const inv = scan(Buffer.concat([
      header(Buffer.from('new line'), 'TABLE', 'public'), header(Buffer.from('cr  lf'), 'TABLE', 'we ird'), header(Buffer.from('tab\there'), 'VIEW', 'public'),
      header(Buffer.from('newcnt(*)'), 'AGGREGATE', 'public'), header(Buffer.from('p(integer)'), 'PROCEDURE', 'public'),
    ])).inventory;
    const source = [obj('table', 'public', 'new\nline'), obj('table', 'we\nird', 'cr\r\nlf'), obj('view', 'public', 'tab\there'), obj('function', 'public', 'newcnt(*)'), obj('procedure', 'public', 'p(integer)')];
    const ok = checkAgainstSourceCatalog(inv, source);
    assert.equal(ok.status, 'pass', ok.detail);
    const gone = checkAgainstSourceCatalog(inv, [...source, obj('table', 'public', 'other\nline'), obj('procedure', 'public', 'p(text)')]);
    assert.equal(gone.status, 'fail');
    assert.deepEqual(gone.evidence?.missing, ['table public.other line', 'procedure public.p(text)']);
  });

  test('LATIN1 and SQL_ASCII: the catalog\'s stored bytes decoded as the dump is; a removed object is still missing', () => {
    const l1 = scan(dump('LATIN1', header(latin1('façade(text)'), 'FUNCTION', latin1('café')))).inventory;
    const fn = { ...obj('function', 'café', 'façade(text)'), bytes: { schema: 'café', name: 'façade(text)', encoding: 'LATIN1' } };
    assert.equal(checkAgainstSourceCatalog(l1, [fn]).status, 'pass');
    const missing = checkAgainstSourceCatalog(l1, [fn, { ...fn, name: 'façade(integer)', bytes: { ...fn.bytes, name: 'façade(integer)' } }]);
    assert.deepEqual(missing.evidence?.missing, ['function café.façade(integer)']);
    // the same dump taken with pg_dump --encoding=UTF8 from the LATIN1 server: names compared as characters
    const u8 = scan(dump('UTF8', header(Buffer.from('façade(text)'), 'FUNCTION', Buffer.from('café')))).inventory;
    assert.equal(checkAgainstSourceCatalog(u8, [fn]).status, 'pass');

    const raw = Buffer.from([0x63, 0x61, 0x66, 0xe9]);
    const sa = scan(dump('SQL_ASCII', header(raw, 'TABLE', 'public'))).inventory;
    const t = obj('table', 'public', 'caf\udce9', 'SQL_ASCII', raw); // as a session reads it (src/pg/server-bytes.ts)
    assert.equal(checkAgainstSourceCatalog(sa, [t]).status, 'pass');
    const other = obj('table', 'public', 'x', 'SQL_ASCII', Buffer.from([0x63, 0x61, 0x66, 0xe8]));
    assert.deepEqual(checkAgainstSourceCatalog(sa, [t, other]).evidence?.missing, ['table public.caf\\xe8']);
  });
});
