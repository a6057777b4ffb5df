import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuardError } from '../../src/errors.js';
import { assertLockTableFits, describeLockTableUse, lockTableCheck, withDumpWorkers, type LockTableUse } from '../../src/source/lock-table.js';

// 1,000 tables with a sequence each, 20 views, on a server sized for 64 × 113 = 7,232 locks. The snapshot session's
// peak: a batch of 50 tables with their 2 indexes each (150).
const base = { tables: 1000, views: 20, sequences: 1000, sessionPeak: 150, relations: 5000, maxLocksPerTransaction: 64, slots: 113, capacity: 7232, dumpWorkers: 0, schemaDump: true };
// pg_dump 2,020 + the schema-only pg_dump 1,020 + the session's 150 + 450 on the catalogs.
const use: LockTableUse = { ...base, need: 3640 };

test("the drill's locks: both pg_dumps' (the schema-only one reads no sequence) and one batch of the snapshot session's", () => {
  assert.equal(withDumpWorkers(use, 'plain', 1).need, 3640);
  assert.match(describeLockTableUse(use), /^1000 table\(s\), 20 view\(s\)\/materialized view\(s\)\/foreign table\(s\), 1000 sequence\(s\): pg_dump 2020 \+ the round trip's schema-only pg_dump 1020 \+ the snapshot session at most 150 \(it counts 50 tables at a time and gives their locks back after each batch\) \+ ~450 on the system catalogs = ~3640 locks held at once, 50% of the source's lock table \(max_locks_per_transaction 64 × 113 server slots = 7232\)$/);
  assert.equal(lockTableCheck(use).status, 'warn'); // 3640 of 7232: more than half
  assert.deepEqual(lockTableCheck(use).evidence, { tables: 1000, views: 20, sequences: 1000, session_peak: 150, dump_workers: 0, need: 3640, capacity: 7232, max_locks_per_transaction: 64, slots: 113 });
});

test("pg_dump's parallel workers (directory format, --jobs > 1) count one more lock per table", () => {
  assert.equal(withDumpWorkers(use, 'plain', 4).need, 3640);
  assert.equal(withDumpWorkers(use, 'custom', 4).need, 3640);
  assert.equal(withDumpWorkers(use, 'directory', 1).need, 3640);
  assert.equal(withDumpWorkers(use, 'directory', undefined).need, 3640);
  const parallel = withDumpWorkers(use, 'directory', 4);
  assert.equal(parallel.need, 4640);
  assert.equal(parallel.dumpWorkers, 4);
  assert.match(describeLockTableUse(parallel), /after each batch\) \+ pg_dump's 4 parallel workers 1000 \+ ~450 on the system catalogs = ~4640 locks held at once, 64% /);
  assert.equal(lockTableCheck(parallel).status, 'warn'); // more than half
  // At a share of 0.6 (4,339 locks) the serial dump fits and the parallel one is refused.
  assertLockTableFits(use, 0.6);
  assert.throws(() => assertLockTableFits(parallel, 0.6), (e) => e instanceof GuardError && /~4640 locks held at once/.test(e.message));
  // Fewer tables: below half.
  assert.equal(lockTableCheck({ ...base, tables: 500, sequences: 500, need: 2140 }).status, 'pass');
});

test("the round trip's source side from the dump: no schema-only pg_dump counted", () => {
  const fromDump = withDumpWorkers(use, 'plain', 1, false);
  assert.equal(fromDump.need, 3640 - 1020);
  assert.equal(fromDump.schemaDump, false);
  assert.match(describeLockTableUse(fromDump), /: pg_dump 2020 \+ the snapshot session at most 150 .* = ~2620 locks held at once/);
  assert.doesNotMatch(describeLockTableUse(fromDump), /schema-only/);
  assert.equal(withDumpWorkers(use, 'directory', 4, false).need, 4640 - 1020);
});
