/** PsqlLexer on its own: where psql would send statements, and what it sees as tokens. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PsqlLexer, type LexerSink } from '../../src/scan/psql-lexer.js';
import { scan } from './scan-helpers.js';

/** Lexes `text` line by line like the scanner does; returns sent statements (token values joined) and events. */
function lex(text: string) {
  const statements: string[] = [];
  const meta: string[] = [];
  const anomalies: string[] = [];
  let current: string[] = [];
  const sink: LexerSink = {
    token: (kind, value) => current.push(kind === 'string' ? `'${value}'` : kind === 'qident' ? `"${value}"` : value),
    statementEnd: () => { statements.push(current.join(' ')); current = []; },
    metaCommand: (t) => meta.push(t),
    literalText: () => {},
    anomaly: (reason) => anomalies.push(reason),
  };
  const lexer = new PsqlLexer(sink);
  const lines = text.split('\n');
  lines.forEach((l, i) => {
    lexer.beginLine(i + 1);
    lexer.feed(l);
    lexer.endLine();
  });
  lexer.endInput();
  return { statements, meta, anomalies, pending: current.join(' '), idle: lexer.idle };
}

describe('statement boundaries follow psql', () => {
  test('semicolons inside parentheses, quotes, comments and dollar quotes do not end a statement', () => {
    const r = lex("SELECT (1;\n2);\nSELECT ';', \";\", $x$;$x$ -- ;\n/* ; */ ;");
    assert.deepEqual(r.statements, ['SELECT ( 1 ; 2 ) ;', "SELECT ';' , \";\" , ';' ;"]);
  });
  test('CREATE FUNCTION … BEGIN ATOMIC … END is one statement (psql\'s heuristic), CASE … END inside it too', () => {
    const r = lex('CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n SELECT CASE WHEN true THEN 1 END;\n SELECT 2;\nEND;\nSELECT 3;');
    assert.equal(r.statements.length, 2);
    assert.match(r.statements[0] ?? '', /^CREATE OR REPLACE FUNCTION .* END ;$/);
    assert.equal(r.statements[1], 'SELECT 3 ;');
  });
  test('BEGIN outside CREATE FUNCTION/PROCEDURE is an ordinary statement', () => {
    assert.deepEqual(lex('BEGIN;\nCOMMIT;').statements, ['BEGIN ;', 'COMMIT ;']);
    assert.deepEqual(lex('CREATE TABLE begin (a int);').statements, ['CREATE TABLE begin ( a int ) ;']);
  });
  test('tokens: E\'\' escapes decoded, \'\' doubled, quoted identifiers unquoted, U& decoded, casts and params', () => {
    const r = lex("SELECT E'a\\'b', 'it''s', \"x\"\"y\", U&'\\0041', $1::int, b'01', n'z';");
    assert.deepEqual(r.statements, ["SELECT 'a'b' , 'it's' , \"x\"y\" , 'A' , $ :: int , '01' , 'z' ;"]);
  });
  test('E\'\' escapes \\x, \\u, \\U without hex digits do not throw (found by the psql differential test)', () => {
    // Random input `E'U&…` once made decodeEscapeString call String.fromCodePoint(NaN): a RangeError out of the scanner.
    const r = lex("SELECT E'\\U&x', E'\\u', E'\\x', E'\\uZZZZ', E'\\x4' \\echo MARK");
    assert.deepEqual(r.meta, ['\\echo MARK']);
    assert.equal(r.pending, "SELECT 'U&x' , 'u' , 'x' , 'uZZZZ' , '\x04'");
  });
  test('an exponent letter without digits goes on as a name: 1e$a$ opens no dollar quote (found by the psql differential test)', () => {
    // Random input `1e''''1e$$ \\echo …` once hid a command psql runs: the lexer dropped the `e` and opened a dollar quote.
    assert.deepEqual(lex('SELECT 1e$a$ \\echo MARK').meta, ['\\echo MARK']);
    assert.deepEqual(lex('SELECT 1e$$ x\n\\echo MARK').meta, ['\\echo MARK']);
    assert.deepEqual(lex('SELECT 1e--x \\echo MARK').meta, ['\\echo MARK'], '`1e-` is one token: `-x` is no comment');
    assert.deepEqual(lex('SELECT 1.e$q$ \\echo MARK').meta, ['\\echo MARK']);
  });
  test('a name glued to a number or parameter is one junk token: 1b\'…\', 1e\'…\', $1b\'…\' are plain literals (psql 15.18)', () => {
    // With standard_conforming_strings off a plain literal takes \' as a quote, B'' and E'' differ: psql runs the command.
    for (const glued of ["1b'\\''", "1e'\\''", "$1b'\\''", "1.x'\\''"]) {
      const r = scan(`SET standard_conforming_strings = off;\nSELECT ${glued} \\echo MARK\n';\n`);
      assert.deepEqual(r.findings.filter((f) => f.kind === 'meta-command').map((f) => `${f.line}:${f.text}`), ['2:\\echo MARK'], glued);
    }
  });
  test('a string continued over a CR within a line is one literal', () => {
    assert.deepEqual(lex("SELECT 'a'\r'b';").statements, ["SELECT 'ab' ;"]);
  });
  test('input that ends inside a literal or comment is not idle', () => {
    assert.equal(lex("SELECT 'abc").idle, false);
    assert.equal(lex('/* open').idle, false);
    assert.equal(lex('SELECT 1;').idle, true);
  });
  test('backslash commands: text to end of line, \\\\; and \\\\: do not end the statement', () => {
    const r = lex('SELECT 1 \\; SELECT 2;\nSELECT 3 \\gexec extra');
    assert.deepEqual(r.meta, ['\\;', '\\gexec extra']);
    assert.deepEqual(r.statements, ['SELECT 1 SELECT 2 ;']);
    assert.equal(r.pending, 'SELECT 3');
  });
});
