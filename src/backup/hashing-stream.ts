/**
 * One pass over the dump's bytes: a Transform that hashes, counts and hands each chunk to extra consumers
 * (the plain-dump scanner) while the bytes flow on to the file. The SHA256SUMS self-check is the only re-read.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { RECLAIM_EVERY_BYTES, reclaimBuffers } from './reclaim-buffers.js';

/** A consumer that sees every chunk synchronously (e.g. PlainDumpScanner.push). */
export type ChunkConsumer = (chunk: Buffer) => void;

export class HashingStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;
  private sinceReclaim = 0;

  constructor(private readonly consumers: readonly ChunkConsumer[] = [], private readonly onBytes?: (total: number) => void) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    try {
      for (const c of this.consumers) c(chunk);
    } catch (err) {
      return cb(err as Error);
    }
    this.onBytes?.(this.bytes);
    this.sinceReclaim += chunk.length;
    if (this.sinceReclaim >= RECLAIM_EVERY_BYTES) {
      // The chunks before this one are garbage by now: free their memory as the dump streams (flat peak RSS).
      this.sinceReclaim = 0;
      reclaimBuffers();
    }
    cb(null, chunk);
  }

  /** The hex digest; call once, after the stream finished. */
  digest(): string {
    return this.hash.digest('hex');
  }
}
