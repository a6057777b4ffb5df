import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isRecoveryConflict, recoveryConflictCheck, standbyCheck } from '../../src/source/standby.js';

test('guard.standby: pass with hot_standby_feedback or replay that waits; warn otherwise', () => {
  assert.equal(standbyCheck({ hotStandbyFeedback: true, maxStandbyStreamingDelay: '30s', maxStandbyArchiveDelay: '30s' }).status, 'pass');
  assert.equal(standbyCheck({ hotStandbyFeedback: false, maxStandbyStreamingDelay: '-1', maxStandbyArchiveDelay: '-1' }).status, 'pass');
  const warn = standbyCheck({ hotStandbyFeedback: false, maxStandbyStreamingDelay: '-1', maxStandbyArchiveDelay: '30s' });
  assert.equal(warn.status, 'warn');
  assert.match(warn.detail, /hot_standby_feedback off, max_standby_streaming_delay -1, max_standby_archive_delay 30s/);
});

test("backup.recovery_conflict quotes the server's line, not pg_dump's whole output", () => {
  const err = new Error('pg_dump exited with code 1: pg_dump: error: Dumping the contents of table "t" failed: PQgetResult() failed.\npg_dump: detail: Error message from server: ERROR:  canceling statement due to conflict with recovery\nDETAIL:  User query might have needed to see row versions that must be removed.\npg_dump: detail: Command was: COPY public.t (g) TO stdout;');
  assert.ok(isRecoveryConflict(err));
  assert.ok(!isRecoveryConflict(new Error('canceling statement due to lock timeout')));
  const c = recoveryConflictCheck(err, null);
  assert.equal(c.status, 'fail');
  assert.match(c.detail, /^the standby cancelled the dump to replay WAL from the primary \(ERROR: canceling statement due to conflict with recovery DETAIL: User query might have needed to see row versions that must be removed\.\) — no backup was kept\. Set hot_standby_feedback = on/);
});
