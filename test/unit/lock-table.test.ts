import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuardError } from '../../src/errors.js';
import { assertLockTableFits, describeLockTableUse, lockTableCheck, withDumpWorkers, type LockTableUse } from '../../src/source/lock-table.js';

// 1,000 tables with one index each, on a server sized for 64 × 113 = 7,232 locks.
const use: LockTableUse = { tables: 1000, indexes: 1000, relations: 4000, maxLocksPerTransaction: 64, slots: 113, capacity: 7232, dumpWorkers: 0, need: 4000 };

test("pg_dump's parallel workers (directory format, --jobs > 1) count one more lock per table", () => {
  assert.equal(withDumpWorkers(use, 'plain', 4).need, 4000);
  assert.equal(withDumpWorkers(use, 'custom', 4).need, 4000);
  assert.equal(withDumpWorkers(use, 'directory', 1).need, 4000);
  assert.equal(withDumpWorkers(use, 'directory', undefined).need, 4000);
  const parallel = withDumpWorkers(use, 'directory', 4);
  assert.equal(parallel.need, 5000);
  assert.equal(parallel.dumpWorkers, 4);
  assert.match(describeLockTableUse(parallel), /^1000 table\(s\) × 4 \(pg_dump, .*, pg_dump's 4 parallel workers\) \+ their 1000 index\(es\) .* = ~5000 locks held at once, 69% /);
  assert.equal(lockTableCheck(use).status, 'warn'); // 4000 of 7232: more than half already
  // At a share of 0.6 (4,339 locks) the serial dump fits and the parallel one is refused.
  assertLockTableFits(use, 0.6);
  assert.throws(() => assertLockTableFits(parallel, 0.6), (e) => e instanceof GuardError && /~5000 locks held at once/.test(e.message));
});
