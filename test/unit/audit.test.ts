import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auditViolations, whyNotReadOnly } from '../../src/source/audit.js';
import { OBJECTS_SQL } from '../../src/catalog/objects.js';
import { FINGERPRINT_SQL } from '../../src/catalog/fingerprint.js';
import { TABLES_SQL } from '../../src/catalog/tables.js';
import { READ_ONLY_AFTER_LOGIN } from '../../src/pg/client.js';
import { CATALOG_FETCH_ROWS, CATALOG_SQL } from '../../src/fidelity/catalog-facts.js';

test("pgdrill's own statements are read-only by the audit rule", () => {
  for (const sql of [
    OBJECTS_SQL, FINGERPRINT_SQL, TABLES_SQL, "SET client_encoding = 'SQL_ASCII'", 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', 'SELECT pg_export_snapshot()',
    'ROLLBACK', "SET lock_timeout = '30000ms'", 'SET statement_timeout = 0', 'SET max_parallel_workers_per_gather = 0', 'SET jit = off', 'SELECT count(*) FROM ONLY "public"."actor"',
    `DECLARE pgdrill_catalog NO SCROLL CURSOR FOR ${CATALOG_SQL}`, `FETCH FORWARD ${CATALOG_FETCH_ROWS} FROM pgdrill_catalog`, 'CLOSE pgdrill_catalog',
    ...READ_ONLY_AFTER_LOGIN, 'SHOW default_transaction_read_only', 'SHOW transaction_read_only',
  ]) {
    assert.equal(whyNotReadOnly(sql), null, sql.slice(0, 60));
  }
});

test('production.audit_read_only: the audit check fails on anything that writes', () => {
  for (const sql of [
    'INSERT INTO t VALUES (1)', 'UPDATE t SET a = 1', 'DELETE FROM t', 'CREATE TABLE x (a int)', 'GRANT SELECT ON t TO r',
    "SELECT set_config('default_transaction_read_only', 'off', false)", "SELECT nextval('s')", 'SET default_transaction_read_only = off',
    'SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE', "SET default_transaction_read_only = 'off'", 'SET default_transaction_read_only = onion', 'COPY t FROM stdin', 'SELECT * FROM t FOR UPDATE',
    'WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d', 'BEGIN',
    "DECLARE pgdrill_catalog NO SCROLL CURSOR FOR SELECT nextval('s')", 'DECLARE pgdrill_c NO SCROLL CURSOR FOR SELECT * FROM t FOR UPDATE',
    'DECLARE pgdrill_c CURSOR WITH HOLD FOR SELECT 1', 'FETCH FORWARD 10 FROM their_cursor', 'MOVE FORWARD 10 FROM pgdrill_c',
  ]) {
    assert.notEqual(whyNotReadOnly(sql), null, sql);
  }
  const v = auditViolations([
    { at: '', by: 'pgdrill', sql: 'SELECT 1' },
    { at: '', by: 'pgdrill', sql: 'TRUNCATE t' },
    { at: '', by: 'pg_dump', sql: 'pg_dump --snapshot=x' },
  ]);
  assert.equal(v.length, 1);
  assert.equal(v[0]!.entry.sql, 'TRUNCATE t');
});
