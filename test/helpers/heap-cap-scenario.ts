/**
 * Run by test/unit/heap-cap.test.ts in a child started with `node --expose-gc` (as the pgdrill command is): ~20 MB
 * live at any time, each batch kept for 20 rounds — old enough to be promoted, then garbage, like the catalog rows,
 * counts and report pieces of a drill of many tables. Prints `{ collections, grewBytes, active }` as JSON. Argument:
 * `cap` to run it with the heap cap, `none` without.
 */
import { getHeapStatistics } from 'node:v8';
import { capHeapGrowth } from '../../src/cli/heap-cap.js';

const MB = 1024 * 1024;
const cap = process.argv[2] === 'cap' ? capHeapGrowth(16 * MB, 10) : null;
const used = () => getHeapStatistics().used_heap_size;
const start = used();
let max = start;
const window: unknown[][] = [];
for (let i = 0; i < 800; i++) {
  window.push(Array.from({ length: 10_000 }, (_, j) => ({ i, j, s: `row ${i} ${j} some text` })));
  if (window.length > 20) window.shift();
  await new Promise((r) => setTimeout(r, 1));
  max = Math.max(max, used());
}
cap?.stop();
console.log(JSON.stringify({ collections: cap?.collections ?? 0, grewBytes: max - start, active: cap?.active ?? false }));
