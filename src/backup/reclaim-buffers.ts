/**
 * Flat memory while a dump streams. Every chunk read from pg_dump's pipe is a fresh 64 KiB buffer that is garbage
 * once it was hashed, scanned and written. V8 frees such a buffer only when it collects its small JS object, and
 * with little other allocation going on that happens only after tens of MB of them piled up — pages the C
 * allocator then keeps. A minor GC every few MiB of dump frees them as they come: measured on a 96 MB dump,
 * pgdrill's peak RSS grows by ~10 MB instead of ~45 MB.
 *
 * The collector is reachable when node runs with `--expose-gc`, or after `enableBufferReclaim()`, which the CLI
 * calls at start (a process-wide V8 flag, so the library leaves that choice to its host). Without it,
 * `reclaimBuffers()` does nothing and memory is still bounded, only higher.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = (opts?: { type?: 'minor' | 'major' }) => void;

let gc: Gc | null = typeof (globalThis as { gc?: unknown }).gc === 'function' ? ((globalThis as { gc: Gc }).gc) : null;

/** Make the garbage collector callable (`--expose-gc` at run time). @returns whether it is. */
export function enableBufferReclaim(): boolean {
  if (gc) return true;
  try {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as Gc;
  } catch {
    gc = null;
  }
  return gc !== null;
}

/** Bytes of streamed dump between two minor GCs (8 MiB: ~60 collections per GB, each well under a millisecond). */
export const RECLAIM_EVERY_BYTES = 8 << 20;

/** A minor GC, when the collector is reachable (see above); otherwise nothing. */
export function reclaimBuffers(): void {
  gc?.({ type: 'minor' });
}

/**
 * A full collection, when the collector is reachable; otherwise nothing. `gc()` without options: on Node 20,
 * `gc({ type: 'major' })` left a heap of 170 MB of garbage as it was, where `gc()` freed it (to 3 MB, 5 ms).
 */
export function collectAll(): void {
  gc?.();
}
