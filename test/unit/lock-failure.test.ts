import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLockWaitFailure, lockFailureCheck, tableOfLockFailure, type LockBlocker } from '../../src/source/lock-blockers.js';
import { QueryError } from '../../src/pg/client.js';
import { ToolError } from '../../src/errors.js';

// pg_dump's own words when --lock-wait-timeout expires (PostgreSQL 15), and the count that waited for lock_timeout.
const dumpTimeout = new ToolError('pg_dump', [], 1, null,
  'pg_dump: error: query failed: ERROR:  canceling statement due to statement timeout\npg_dump: detail: Query was: LOCK TABLE public.orders IN ACCESS SHARE MODE\n');
const countTimeout = new QueryError('SELECT count(*) FROM ONLY "public"."orders"', '55P03', Object.assign(new Error('canceling statement due to lock timeout'), { code: '55P03' }));
const holder: LockBlocker = { pid: 4242, granted: true, table: 'public.orders', application: 'psql', user: 'app', state: 'idle in transaction', xact_seconds: 12, blocked_by: [] };

test('lock wait failures of pg_dump and of the counts are recognised, with their table', () => {
  assert.equal(isLockWaitFailure(dumpTimeout), true);
  assert.equal(tableOfLockFailure(dumpTimeout), 'public.orders');
  assert.equal(isLockWaitFailure(countTimeout), true);
  assert.equal(tableOfLockFailure(countTimeout), '"public"."orders"');
  // Other failures are not mistaken for lock waits.
  assert.equal(isLockWaitFailure(new ToolError('pg_dump', [], 1, null, 'pg_dump: error: connection to server failed')), false);
  assert.equal(isLockWaitFailure(new QueryError('SELECT 1', '57014', new Error('canceling statement due to statement timeout'))), false);
});

test('the backup.locks check names the table, the holder and a queued waiter', () => {
  const c = lockFailureCheck(countTimeout, [holder, { ...holder, pid: 4343, granted: false, blocked_by: [4141], application: 'migrate', state: 'active' }], 2000);
  assert.equal(c.status, 'fail');
  assert.match(c.detail, /^could not lock table "public"\."orders" within backup\.lock_wait_timeout \(2 s\): pid 4242 holds ACCESS EXCLUSIVE on public\.orders \(application psql, user app, idle in transaction, transaction open 12 s\); pid 4343 waits for ACCESS EXCLUSIVE on public\.orders behind pid 4141/);
  assert.match(lockFailureCheck(dumpTimeout, [], 30_000).detail, /the lock was released before pgdrill could see who held it/);
  assert.match(lockFailureCheck(dumpTimeout, null, 500, new Error('connection refused')).detail, /within backup\.lock_wait_timeout \(500 ms\): the blocking session could not be read \(connection refused\)/);
});
