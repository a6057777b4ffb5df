import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { boundStatement, parsePgRestoreErrors, parsePsqlErrors } from '../../src/restore/restore-errors.js';
import { attachLoggedStatements, readLoggedErrors } from '../../src/restore/server-log-errors.js';

async function scratch(): Promise<{ path: string } & AsyncDisposable> {
  const path = await mkdtemp(join(tmpdir(), 'pgdrill-unit-'));
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}
import { classifyRestoreErrors } from '../../src/restore/classify.js';

test('psql errors keep line, SQLSTATE and the failed statement', () => {
  const errs = parsePsqlErrors([
    'psql:<stdin>:45: ERROR:  42704: role "cutter_ro" does not exist',
    'LOCATION:  get_role_oid, acl.c:5262',
    'STATEMENT:  ALTER TABLE public.t OWNER TO cutter_ro;',
  ], 'dump');
  assert.equal(errs.length, 1);
  assert.equal(errs[0]!.line, 45);
  assert.equal(errs[0]!.sqlstate, '42704');
  assert.match(errs[0]!.statement!, /OWNER TO cutter_ro/);
  const [c] = classifyRestoreErrors(errs);
  assert.equal(c!.classification, 'environment_defect');
});

test('pg_restore errors keep the command', () => {
  const errs = parsePgRestoreErrors([
    'pg_restore: while PROCESSING TOC:',
    'pg_restore: from TOC entry 215; 1259 16390 TABLE t postgres',
    'pg_restore: error: could not execute query: ERROR:  role "ghost" does not exist',
    'Command was: ALTER TABLE public.t OWNER TO ghost;',
    'pg_restore: error: could not read from input file: end of file',
    'pg_restore: warning: errors ignored on restore: 2',
  ]);
  assert.equal(errs.length, 2);
  assert.equal(errs[0]!.message, 'role "ghost" does not exist');
  assert.match(errs[0]!.statement!, /OWNER TO ghost/);
  const classified = classifyRestoreErrors(errs);
  assert.equal(classified[0]!.classification, 'environment_defect');
  assert.equal(classified[1]!.classification, 'backup_defect');
});

test('psql: the statement is the one psql echoed, never the error\'s QUERY, NAME lines or a later warning', () => {
  const errs = parsePsqlErrors([
    'psql:<stdin>:130: ERROR:  42P01: relation "other" does not exist',
    'LINE 1: SELECT $1 + (SELECT count(*) FROM other)::int',
    '                                          ^',
    'QUERY:  SELECT $1 + (SELECT count(*) FROM other)::int',
    'CONTEXT:  SQL function "f" during inlining',
    'SCHEMA NAME:  public',
    'LOCATION:  parserOpenTable, parse_relation.c:1392',
    'psql:<stdin>:130: STATEMENT:  CREATE VIEW public.v AS',
    '  SELECT a,',
    '    b',
    '  FROM public.t;',
    '',
    'WARNING:  25P01: there is no transaction in progress',
  ], 'dump');
  assert.equal(errs.length, 1);
  assert.equal(errs[0]!.statement, 'CREATE VIEW public.v AS\n  SELECT a,\n    b\n  FROM public.t;');
  // Without an echoed statement: none, rather than whatever line came next.
  const bare = parsePsqlErrors(['psql:<stdin>:9: ERROR:  42P06: schema "public" already exists', 'SCHEMA NAME:  public', 'WARNING:  25P01: there is no transaction in progress'], 'dump');
  assert.equal(bare[0]!.statement, null);
});

test('the server log\'s statement wins: matched in order and by message, tab-continued lines joined', async () => {
  await using dir = await scratch();
  const log = join(dir.path, 'postgres.log');
  await writeFile(log, [
    '2026-12-06 09:13:02.968 UTC [20166] LOG:  database system is ready to accept connections',
    '2026-12-06 09:13:03.010 UTC [20170] 42P01 ERROR:  relation "x" does not exist at character 15',
    '2026-12-06 09:13:03.010 UTC [20170] 42P01 STATEMENT:  SELECT * FROM x',
    '2026-12-06 09:13:03.018 UTC [20174] ERROR:  column "nosuchcol" does not exist at character 41',
    '2026-12-06 09:13:03.018 UTC [20174] CONTEXT:  first line',
    '\tsecond line of the context',
    '2026-12-06 09:13:03.018 UTC [20174] STATEMENT:  CREATE VIEW public.v AS',
    '\t  SELECT a,',
    '\t    nosuchcol',
    '\t  FROM public.t;',
    '2026-12-06 09:13:03.020 UTC [20174] LOG:  something else',
    '',
  ].join('\n'));
  const logged = await readLoggedErrors(log, 0);
  assert.deepEqual(logged.map((l) => l.message), ['relation "x" does not exist', 'column "nosuchcol" does not exist']);
  const [e] = attachLoggedStatements(parsePsqlErrors([
    'psql:<stdin>:8: ERROR:  42703: column "nosuchcol" does not exist',
    'psql:<stdin>:8: STATEMENT:  CREATE VIEW public.v AS',
    '  SELECT a,',
  ], 'dump'), logged);
  assert.equal(e!.statement, 'CREATE VIEW public.v AS\n  SELECT a,\n    nosuchcol\n  FROM public.t;');
  // pg_restore's message carries the SQLSTATE prefix too.
  const [p] = attachLoggedStatements(parsePgRestoreErrors(['pg_restore: error: could not execute query: ERROR:  42P01: relation "x" does not exist', 'Command was: SELECT * FROM x']), logged);
  assert.equal(p!.message, 'relation "x" does not exist');
  assert.equal(p!.statement, 'SELECT * FROM x');
  assert.equal(p!.sqlstate, '42P01', 'from the log prefix\'s %e');
  // A link planted instead of the log is not followed.
  await symlink(log, join(dir.path, 'link.log'));
  assert.deepEqual(await readLoggedErrors(join(dir.path, 'link.log'), 0), []);
  // Nor is a FIFO waited on (root's open of one with no writer would block the drill forever).
  const fifo = join(dir.path, 'fifo.log');
  execFileSync('mkfifo', [fifo]);
  assert.deepEqual(await readLoggedErrors(fifo, 0), []);
});

test('a SQL_ASCII name that is not UTF-8 in the server log matches psql\'s message, and the logged statement wins', async () => {
  await using dir = await scratch();
  const log = join(dir.path, 'postgres.log');
  const e9 = Buffer.of(0xe9);
  await writeFile(log, Buffer.concat([
    Buffer.from('2026-12-06 09:13:03.010 UTC [20170] 42P07 ERROR:  relation "caf'), e9, Buffer.from('" already exists\n'),
    Buffer.from('2026-12-06 09:13:03.010 UTC [20170] 42P07 STATEMENT:  CREATE TABLE "caf'), e9, Buffer.from('" (\n\t    x integer\n\t);\n'),
  ]));
  const logged = await readLoggedErrors(log, 0);
  assert.deepEqual(logged.map((l) => l.message), ['relation "caf\udce9" already exists']);
  // psql's stderr is decoded the same way (src/exec/run-process.ts); its echo of a multi-line statement is cut here
  const [e] = attachLoggedStatements(parsePsqlErrors(['psql:<stdin>:8: ERROR:  42P07: relation "caf\udce9" already exists', 'psql:<stdin>:8: STATEMENT:  CREATE TABLE "caf\udce9" ('], 'dump'), logged);
  assert.equal(e!.statement, 'CREATE TABLE "caf\udce9" (\n    x integer\n);');
});

test('the report bounds a long statement and says where the whole one is', () => {
  const long = `INSERT INTO t VALUES ('${'x'.repeat(5000)}');`;
  const b = boundStatement({ message: 'm', sqlstate: null, line: 1, statement: long, phase: 'dump', classification: 'unknown', hint: null });
  assert.equal(b.statement!.length < 2100, true);
  assert.match(b.statement!, /… \[3026 more characters in run\.log\]$/);
});

test('classification table: SQLSTATE and message → environment, backup or unknown', () => {
  const table: [string | null, string, string][] = [
    ['22023', 'security label provider "selinux" is not loaded', 'environment_defect'],
    ['22023', 'no security label providers have been loaded', 'environment_defect'],
    ['22023', 'could not create locale "xx_YY.UTF-8": No such file or directory', 'environment_defect'],
    ['42704', 'collation "de_DE" for encoding "UTF8" does not exist', 'environment_defect'],
    ['0A000', 'ICU is not supported in this build', 'environment_defect'],
    ['0A000', 'compression method lz4 not supported', 'environment_defect'],
    ['0A000', 'compression method zstd not supported', 'environment_defect'],
    ['58P01', 'could not open extension control file "/usr/share/postgresql/15/extension/postgis.control": No such file or directory', 'environment_defect'],
    ['0A000', 'extension "postgis" is not available', 'environment_defect'],
    ['58P01', 'could not access file "/opt/lib/x": No such file or directory', 'environment_defect'],
    ['42883', 'could not find function "f" in file "/usr/lib/postgresql/15/lib/plpgsql.so"', 'environment_defect'],
    ['42704', 'language "plpython3u" does not exist', 'environment_defect'],
    ['42704', 'unrecognized configuration parameter "enable_x"', 'environment_defect'],
    ['53200', 'out of shared memory', 'environment_defect'],
    ['58P01', 'could not open file "base/1/2": No such file or directory', 'environment_defect'],
    ['42P01', 'relation "other" does not exist', 'backup_defect'],
    ['42703', 'column "b" does not exist', 'backup_defect'],
    ['23505', 'could not create unique index "t_a"', 'backup_defect'],
    ['22P02', 'invalid input syntax for type integer: "x"', 'backup_defect'],
    ['XX000', 'cache lookup failed for type 1', 'unknown'],
  ];
  for (const [sqlstate, message, want] of table) {
    const [c] = classifyRestoreErrors([{ message, sqlstate, line: 1, statement: null, phase: 'dump', classification: 'unknown', hint: null }]);
    assert.equal(c!.classification, want, `${sqlstate} ${message}`);
    assert.ok(c!.hint, 'every error has a hint');
  }
});
