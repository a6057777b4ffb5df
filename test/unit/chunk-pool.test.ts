/**
 * The read buffers used again (src/backup/chunk-pool.ts): a buffer returns to its pool only when the stream gave
 * back the very chunk it was lent and every `retain` was released; anything else leaves it out of the pool.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkPool, retain } from '../../src/backup/chunk-pool.js';

test('a lent chunk given back returns its buffer to the pool, and only then', () => {
  const pool = new ChunkPool(1024);
  const a = pool.take();
  const chunk = pool.lend(a, 100);
  assert.equal(chunk.length, 100);
  assert.notEqual(pool.take(), a, 'still lent: a fresh buffer');
  ChunkPool.giveBack(chunk);
  assert.equal(pool.take(), a, 'given back: used again');
  assert.equal(pool.reused, 1);
});

test('a retained piece keeps the buffer out of the pool until released; releasing twice counts once', () => {
  const pool = new ChunkPool(1024);
  const a = pool.take();
  const chunk = pool.lend(a, 1024);
  const r1 = retain(chunk.subarray(10, 20));
  const r2 = retain(chunk.subarray(500));
  ChunkPool.giveBack(chunk);
  r1();
  r1();
  assert.notEqual(pool.take(), a, 'one piece still retained');
  r2();
  assert.equal(pool.take(), a);
});

test('only the lent object counts: a slice or a copy given back, or a second give-back, frees nothing', () => {
  const pool = new ChunkPool(1024);
  const a = pool.take();
  const chunk = pool.lend(a, 1024);
  ChunkPool.giveBack(chunk.subarray(0, 10));
  ChunkPool.giveBack(Buffer.from(chunk));
  assert.notEqual(pool.take(), a);
  ChunkPool.giveBack(chunk);
  ChunkPool.giveBack(chunk);
  const b = pool.take();
  assert.equal(b, a);
  assert.notEqual(pool.take(), a, 'in the free list once, not twice');
});

test('retain of bytes not from a pool, or of a free buffer, does nothing', () => {
  const pool = new ChunkPool(64);
  retain(Buffer.from('not pooled'))();
  const a = pool.take();
  pool.put(a);
  const stale = retain(a); // a view kept past its give-back: nothing can protect it, and it must not free it twice
  stale();
  assert.equal(pool.take(), a);
  assert.notEqual(pool.take(), a);
});

test('the free list is bounded: buffers beyond it are left to the garbage collector', () => {
  const pool = new ChunkPool(64, 2);
  const bufs = [pool.take(), pool.take(), pool.take()];
  for (const b of bufs) ChunkPool.giveBack(pool.lend(b, 64));
  pool.take();
  pool.take();
  pool.take();
  assert.equal(pool.reused, 2);
  assert.equal(pool.allocated, 4);
});
