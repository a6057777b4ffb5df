/**
 * One pass over the dump's bytes: a Transform that hashes, counts and hands each chunk to extra consumers
 * (the plain-dump scanner) while the bytes flow on to the file. The SHA256SUMS self-check is the only re-read.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { RECLAIM_EVERY_BYTES, reclaimBuffers } from './reclaim-buffers.js';
import { OffThreadSha256 } from './sha256-worker.js';

/** A consumer that sees every chunk synchronously (e.g. PlainDumpScanner.push). */
export type ChunkConsumer = (chunk: Buffer) => void;

export class HashingStream extends Transform {
  /** On a worker thread (src/backup/sha256-worker.ts): the main thread keeps feeding the restore meanwhile. */
  private readonly hash = new OffThreadSha256();
  private digestP: Promise<string> | null = null;
  bytes = 0;
  private sinceReclaim = 0;

  constructor(private readonly consumers: readonly ChunkConsumer[] = [], private readonly onBytes?: (total: number) => void) {
    super();
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
