import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePgRestoreErrors, parsePsqlErrors } from '../../src/restore/restore-errors.js';
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
