/** The restore sandbox's settings that depend on what is restored. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { locksPerTransaction, relationsInInventory, restoreSandboxSettings } from '../../src/pipeline/restore/restore-stage.js';

test('the restore sandbox\'s lock table: sized by the relations restored in one transaction', () => {
  assert.equal(locksPerTransaction(null), 1024);
  assert.equal(locksPerTransaction(20_000), 1024); // ~80,000 locks: room for 4 times as many
  assert.equal(locksPerTransaction(81_496), 2547); // where 1024 ran out ("out of shared memory", measured)
  assert.equal(restoreSandboxSettings(200_000, 15).max_locks_per_transaction, '6250');
  // Durability and WAL off for the replay; no JIT for the checks' scans (PostgreSQL 11+ has the setting).
  assert.equal(restoreSandboxSettings(null, 15).wal_level, 'minimal');
  assert.equal(restoreSandboxSettings(null, 15).jit, 'off');
  assert.equal(restoreSandboxSettings(null, 15).autovacuum, 'off');
  assert.equal(restoreSandboxSettings(null, 10).jit, undefined);
  const entry = (type: string) => ({ type, schema: 'public', name: 'x', owner: null, line: 1 });
  const inventory = { entries: ['TABLE', 'TABLE', 'MATERIALIZED VIEW', 'INDEX', 'CONSTRAINT', 'SEQUENCE', 'VIEW', 'TABLE DATA', 'COMMENT', 'FUNCTION'].map(entry), grants: [], roles: {}, tablespaces: [] };
  assert.equal(relationsInInventory(inventory), 3 * 3 + 4);
});
