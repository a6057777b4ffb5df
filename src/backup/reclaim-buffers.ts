/**
 * Flat memory while a dump streams. Every chunk read from pg_dump's pipe is a fresh buffer that is garbage once it
 * was hashed, scanned and written. V8 frees such a buffer only when it collects its small JS object, and with
 * little other allocation going on that happens only after tens of MB of them piled up — pages the C allocator
 * then keeps. A minor GC every few MiB of dump frees them as they come (docs/performance.md has the measurements).
 *
 * The library never changes V8's flags (Node documents that doing so after start is unsafe): the collector is
 * used only when the host process exposes it — `node --expose-gc`, which the `pgdrill` command's bin line passes.
 * Without it, `reclaimBuffers()` does nothing and memory is still bounded, only higher.
 */

type Gc = (opts?: { type?: 'minor' | 'major' }) => void;

/** The collector the host exposed (`--expose-gc`), or null. */
export function exposedGc(): Gc | null {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === 'function' ? (gc as Gc) : null;
}

/** Bytes of streamed dump between two minor GCs (8 MiB: ~60 collections per GB, each well under a millisecond). */
export const RECLAIM_EVERY_BYTES = 8 << 20;

/** A minor GC, when the host exposed the collector (see above); otherwise nothing. */
export function reclaimBuffers(): void {
  exposedGc()?.({ type: 'minor' });
}
