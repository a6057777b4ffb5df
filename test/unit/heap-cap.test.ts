import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getHeapStatistics } from 'node:v8';
import { capHeapGrowth } from '../../src/cli/heap-cap.js';

const MB = 1024 * 1024;

test('the heap cap keeps garbage near its slack above what is live (V8 alone let it grow ~130 MB here)', async () => {
  const cap = capHeapGrowth(16 * MB, 10);
  try {
    const used = () => getHeapStatistics().used_heap_size;
    const start = used();
    let max = start;
    // ~20 MB live at any time, each batch kept for 20 rounds: old enough to be promoted, then garbage — like the
    // catalog rows, counts and report pieces of a drill of many tables.
    const window: unknown[][] = [];
    for (let i = 0; i < 800; i++) {
      window.push(Array.from({ length: 10_000 }, (_, j) => ({ i, j, s: `row ${i} ${j} some text` })));
      if (window.length > 20) window.shift();
      await new Promise((r) => setTimeout(r, 1));
      max = Math.max(max, used());
    }
    assert.ok(cap.collections > 0, 'the cap collected');
    assert.ok(max - start < 80 * MB, `heap grew by ${((max - start) / MB).toFixed(0)} MB (${cap.collections} full collections)`);
  } finally {
    cap.stop();
  }
});
