import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readBackCounts, type StreamReadBack } from '../../src/fidelity/content-hash-check.js';
import type { RestoredCopyHash } from '../../src/fidelity/copy-hash-restored.js';

/** A read-back that ended with these results (or failed as a whole). */
const ended = (results: RestoredCopyHash[] | Error): StreamReadBack => {
  const restored = results instanceof Error ? Promise.reject(results) : Promise.resolve(results);
  restored.catch(() => {});
  return { restored, t0: 0, tables: new Set(['public.a', 'public.b', 'public.c', 'public.dq"uote']) };
};

describe('row counts taken from the read-back (src/fidelity/content-hash-check.ts readBackCounts)', () => {
  test('only tables read whole and without error give a count; a quoted name keeps its quote', async () => {
    const c = readBackCounts(ended([
      { table: 'public.a', columns: 'id', rows: 3, hash: 'c2:0000000000000001', ms: 1, whole: true },
      { table: 'public.b', columns: 'id', error: 'ERROR:  column "id" does not exist' },
      { table: 'public.c', columns: 'id', rows: 2, hash: 'c2:0000000000000002', ms: 1, whole: false },
      { table: 'public."dq""uote"', columns: null, rows: 0, hash: 'c2:0000000000000000', ms: 1, whole: true },
    ]))!;
    assert.deepEqual([...c.tables], ['public.a', 'public.b', 'public.c', 'public.dq"uote'], 'every table it reads waits for it');
    assert.deepEqual([...(await c.rows)], [['public.a', 3], ['public.dq"uote', 0]], 'a failed or partial read counts nothing: count(*) does');
  });

  test('a read-back that failed as a whole (interrupted, a session refused) gives no count at all', async () => {
    const c = readBackCounts(ended(new Error('connection refused')))!;
    assert.deepEqual([...(await c.rows)], []);
  });

  test('no read-back (no hashed COPY block): none', () => {
    assert.equal(readBackCounts(null), null);
  });
});
