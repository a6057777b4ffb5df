/** The line a job given up after its retries is recorded with (src/fleet/exhausted-jobs.ts): no cluster. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exhaustedMessage, type ExhaustedJob } from '../../src/fleet/exhausted-jobs.js';

const at = (m: number) => new Date(Date.UTC(2026, 11, 6, 20, m, 0, 123));
const job: ExhaustedJob = { id: 'j-1', database: 'billing', retryCount: 3, startedOn: at(30), createdOn: at(0), failedOn: at(31), output: { error: 'connection terminated' } };

test('the dead workers, each with its host and start; pgdrill failures around the drill apart', () => {
  assert.equal(
    exhaustedMessage({ ...job, retryCount: 2 }, [
      { worker: 'vm1:10', host: 'vm1', startedOn: at(1), ended: null, detail: null },
      { worker: 'vm2:20', host: 'vm2', startedOn: at(10), ended: null, detail: null },
      { worker: 'vm3:30', host: 'vm3', startedOn: at(20), ended: 'error', detail: 'the coordination database went away' },
    ]),
    "given up after 3 attempts: the drill's worker died 2 times (its lease ran out): vm1:10 on vm1, started 2026-12-06T20:01:00Z; " +
      'vm2:20 on vm2, started 2026-12-06T20:10:00Z; and pgdrill failed around the drill 1 time: vm3:30 on vm3, started 2026-12-06T20:20:00Z: the coordination database went away',
  );
  assert.match(exhaustedMessage({ ...job, retryCount: 0 }, [{ worker: 'vm1:10', host: 'vm1', startedOn: at(1), ended: null, detail: null }]), /^given up after 1 attempt: the drill's worker died 1 time \(/);
  // Counted by pg-boss but not written down (its worker could not reach the coordination database): counted, not listed.
  assert.match(exhaustedMessage(job, [{ worker: 'vm1:10', host: 'vm1', startedOn: at(1), ended: null, detail: null }]), /^given up after 4 attempts: the drill's worker died 1 time \(/);
});

test('attempts not written (workers of an older pgdrill): told from pg-boss\'s counts and its last output', () => {
  assert.equal(
    exhaustedMessage(job, []),
    "given up after 4 attempts: the drill's worker died or failed each time (its attempts were not recorded); the last started 2026-12-06T20:30:00Z; the last failed: connection terminated",
  );
  assert.equal(exhaustedMessage({ ...job, retryCount: 0, startedOn: null, output: null }, []), "given up after 1 attempt: the drill's worker died or failed each time (its attempts were not recorded)");
});
