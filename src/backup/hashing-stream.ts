/**
 * One pass over the dump's bytes: a Transform that hashes, counts and hands each chunk to extra consumers
 * (the plain-dump scanner) while the bytes flow on to the file. The SHA256SUMS self-check is the only re-read.
 */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { RECLAIM_EVERY_BYTES, reclaimBuffers } from './reclaim-buffers.js';
import { OffThreadSha256 } from './sha256-worker.js';

/** A consumer that sees every chunk synchronously (e.g. PlainDumpScanner.push). */
export type ChunkConsumer = (chunk: Buffer) => void;

/** The sha256 of a small stream (the globals: a few KB), on the calling thread: a worker would cost more to start. */
class InlineSha256 {
  private readonly h = createHash('sha256');
  async update(chunk: Buffer): Promise<void> {
    this.h.update(chunk);
  }
  async digest(): Promise<string> {
    return this.h.digest('hex');
  }
  async close(): Promise<void> {}
}

export class HashingStream extends Transform {
  /**
   * On a worker thread (src/backup/sha256-worker.ts) by default: the main thread keeps feeding the restore meanwhile.
   * Starting the worker costs 0.1–0.3 s of CPU at the start of a drill, where the restore waits for the sandbox: a
   * stream known to be small hashes inline (`offThread` false).
   */
  private readonly hash: OffThreadSha256 | InlineSha256;
  private digestP: Promise<string> | null = null;
  bytes = 0;
  private sinceReclaim = 0;

  constructor(private readonly consumers: readonly ChunkConsumer[] = [], private readonly onBytes?: (total: number) => void, offThread = true) {
    super();
    this.hash = offThread ? new OffThreadSha256() : new InlineSha256();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
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
    this.hash.update(chunk).then(() => cb(null, chunk), cb);
  }

  override _flush(cb: TransformCallback): void {
    this.digestP = this.hash.digest();
    this.digestP.then(() => cb(), cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.digestP) void this.hash.close(); // ended early: stop the worker (after a digest it ends by itself)
    cb(err);
  }

  /** The hex digest, once the stream has ended. */
  digest(): Promise<string> {
    return this.digestP ?? Promise.reject(new Error('HashingStream.digest() before the end of the stream'));
  }
}
