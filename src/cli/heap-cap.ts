/**
 * Flat memory in the number of objects, not only in the dump's bytes. V8 lets its heap grow to a multiple of what is
 * live before it collects fully, and the C allocator keeps the pages: measured on a drill of 10,000 tables, 42 MB
 * live but 232 MB of heap and 324 MB RSS at the end. The CLI caps that growth: every 250 ms, when the heap holds
 * more than HEAP_SLACK_BYTES above what was live after the last full collection, it collects fully (a few tens of
 * ms for pgdrill's heap; at pgbench scale 50 it hardly ever fires — the dump's bytes are buffers, freed by
 * reclaim-buffers.ts). A process-wide choice, like reclaim-buffers: the CLI makes it, the library leaves it to its host.
 */
import { getHeapStatistics } from 'node:v8';
import { collectAll, enableBufferReclaim } from '../backup/reclaim-buffers.js';

/** Garbage allowed on top of the live heap before a full collection. */
export const HEAP_SLACK_BYTES = 32 << 20;
/** How often the heap is looked at (a timer, unref'd: it never keeps the process alive). */
export const HEAP_CHECK_MS = 250;

/** What the cap did, for the debug log; `stop` ends it. */
export interface HeapCapStats {
  collections: number;
  ms: number;
  stop(): void;
}

/** Start capping the heap's growth (see above); does nothing when the collector cannot be reached. */
export function capHeapGrowth(slack = HEAP_SLACK_BYTES, everyMs = HEAP_CHECK_MS): HeapCapStats {
  const stats: HeapCapStats = { collections: 0, ms: 0, stop: () => {} };
  if (!enableBufferReclaim()) return stats;
  let floor = getHeapStatistics().used_heap_size;
  const timer = setInterval(() => {
    if (getHeapStatistics().used_heap_size < floor + slack) return;
    const t0 = performance.now();
    collectAll();
    stats.ms += performance.now() - t0;
    stats.collections++;
    floor = getHeapStatistics().used_heap_size;
  }, everyMs).unref();
  stats.stop = () => clearInterval(timer);
  return stats;
}
