/**
 * Flat memory in the number of objects, not only in the dump's bytes. V8 lets its heap grow to a multiple of what is
 * live before it collects fully, and the C allocator keeps the pages (docs/performance.md has the measurements). The
 * CLI caps that growth: every 250 ms, when the heap holds more than HEAP_SLACK_BYTES above what was live after the
 * last full collection, it collects fully. A process-wide choice, so it is the command's, never the library's: it
 * works only when node runs with `--expose-gc` (the bin line of dist/pgdrill.mjs), and does nothing otherwise.
 */
import { getHeapStatistics } from 'node:v8';
import { exposedGc } from '../backup/reclaim-buffers.js';

/** Garbage allowed on top of the live heap before a full collection (32 MB until 2026-12-06: docs/performance.md, "The heap cap's slack"). */
export const HEAP_SLACK_BYTES = 16 << 20;
/** How often the heap is looked at (a timer, unref'd: it never keeps the process alive). */
export const HEAP_CHECK_MS = 250;

/** What the cap did, for the debug log; `stop` ends it. */
export interface HeapCapStats {
  /** Whether the cap runs (the collector is exposed). */
  readonly active: boolean;
  collections: number;
  ms: number;
  stop(): void;
}

/** Start capping the heap's growth (see above); does nothing when node was not started with `--expose-gc`. */
export function capHeapGrowth(slack = HEAP_SLACK_BYTES, everyMs = HEAP_CHECK_MS): HeapCapStats {
  const gc = exposedGc();
  const stats: HeapCapStats = { active: gc !== null, collections: 0, ms: 0, stop: () => {} };
  if (!gc) return stats;
  let floor = getHeapStatistics().used_heap_size;
  const timer = setInterval(() => {
    if (getHeapStatistics().used_heap_size < floor + slack) return;
    const t0 = performance.now();
    gc(); // a full collection: on Node 20, gc({ type: 'major' }) left such garbage in place where gc() freed it
    stats.ms += performance.now() - t0;
    stats.collections++;
    floor = getHeapStatistics().used_heap_size;
  }, everyMs).unref();
  stats.stop = () => clearInterval(timer);
  return stats;
}
