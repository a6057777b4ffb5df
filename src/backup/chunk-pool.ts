/**
 * Read buffers used again instead of fresh ones. The one pass reads a plain dump behind pg_dump in chunks of 1 MiB
 * (src/backup/file-follower.ts); a fresh buffer per read makes the kernel hand over and zero new pages for every
 * chunk (CPU taken from the restore beside it), and the garbage buffers pile up until V8 collects them (peak RSS).
 * docs/performance.md has the measurements.
 *
 * A buffer may go back into use only when nothing still reads it: the stream stages after the reader (the hash and
 * the scanner read a chunk synchronously, the gate writes pieces of it to psql's stdin, where they may wait). So
 * each buffer has a count of holders:
 * - the stream: `lend()` hands out the chunk to push; the end of the pipeline gives back that very chunk object
 *   (`giveBack`); any other object (a copy, a slice) counts for nothing;
 * - anyone else keeping a piece past the stage that got it (the gate's writes to psql): `retain(piece)` returns a
 *   release function, called once the piece was written.
 * A buffer returns to its pool when both have let go. A holder that never lets go only costs a fresh buffer later:
 * a mistake can waste memory, never hand out bytes still in use.
 */

/** A pooled buffer and who holds it. */
export interface Lease {
  readonly pool: ChunkPool;
  readonly buf: Buffer;
  /** The object pushed down the stream, until the stream gives it back. */
  streamChunk: Buffer | null;
  /** Holders by `retain`. */
  refs: number;
  /** On the free list (or dropped from it): held by nobody. */
  idle: boolean;
}

/** Every pooled buffer's lease, by its memory: `retain` finds it from any view of that memory. */
const leases = new WeakMap<ArrayBufferLike, Lease>();

/** A free list of equal buffers. */
export class ChunkPool {
  private readonly free: Buffer[] = [];
  /** Buffers allocated (fresh) and buffers handed out again (reused), for tests and the curious. */
  allocated = 0;
  reused = 0;

  /**
   * @param chunkBytes size of every buffer
   * @param maxFree free buffers kept for reuse; more are left to the garbage collector (memory stays bounded)
   */
  constructor(readonly chunkBytes: number, private readonly maxFree = 16) {}

  /** A buffer nobody holds: a free one, or a fresh one. Lend it to the stream (`lend`) or `put` it back. */
  take(): Buffer {
    const b = this.free.pop();
    if (b) {
      this.reused++;
      leases.get(b.buffer)!.idle = false;
      return b;
    }
    this.allocated++;
    const buf = Buffer.allocUnsafeSlow(this.chunkBytes); // memory of its own: a lease per buffer, never shared
    leases.set(buf.buffer, { pool: this, buf, streamChunk: null, refs: 0, idle: false });
    return buf;
  }

  /** The first `length` bytes of a taken buffer, to push down the stream; held until `giveBack(chunk)`. */
  lend(buf: Buffer, length: number): Buffer {
    const lease = leases.get(buf.buffer);
    const chunk = buf.subarray(0, length);
    if (lease?.buf === buf) lease.streamChunk = chunk;
    return chunk;
  }

  /** A taken buffer that was not lent after all. */
  put(buf: Buffer): void {
    const lease = leases.get(buf.buffer);
    if (lease?.buf === buf && lease.streamChunk === null && lease.refs === 0) this.recycle(lease);
  }

  /** The end of the stream is done with `chunk`: only the object `lend` returned counts, once. */
  static giveBack(chunk: Buffer): void {
    const lease = leases.get(chunk.buffer);
    if (!lease || lease.streamChunk !== chunk) return;
    lease.streamChunk = null;
    if (lease.refs === 0) lease.pool.recycle(lease);
  }

  /** @internal A buffer nobody holds any more: free for `take` (once, however it got here). */
  recycle(lease: Lease): void {
    if (lease.idle) return;
    lease.idle = true;
    if (this.free.length < this.maxFree) this.free.push(lease.buf);
  }
}

/**
 * Keep `piece` (a view of a pooled buffer, or any other bytes) readable until the returned function is called; for
 * memory not from a pool both are no-ops. The function releases once, however often it is called.
 */
export function retain(piece: Uint8Array): () => void {
  const lease = leases.get(piece.buffer);
  if (!lease || lease.idle) return noop; // not pooled; or a stale view of a free buffer, which nothing can protect
  lease.refs++;
  let done = false;
  return () => {
    if (done) return;
    done = true;
    if (--lease.refs === 0 && lease.streamChunk === null) lease.pool.recycle(lease);
  };
}

function noop(): void {}
