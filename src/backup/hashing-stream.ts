/**
 * One pass over the dump's bytes: a Transform that hashes, counts and hands each chunk to extra consumers
 * (the plain-dump scanner) while the bytes flow on to the file. The SHA256SUMS self-check is the only re-read.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
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

let shaInstructions: boolean | undefined;

/**
 * Whether this CPU has SHA-256 instructions (x86 `sha_ni`, Arm `sha2`), from /proc/cpuinfo, read once; false where
 * that cannot be read. With them OpenSSL hashes ~1.4 GB/s (measured on this project's EPYC): a 1 MiB chunk holds the
 * thread ~0.7 ms, less than handing it to a worker costs — in a drill the copy into the worker's shared ring ran at
 * ~1.3 GB/s (V8's `relaxed_memmove` in `perf`, beside the restore), and the worker's start took 0.1–0.3 s of CPU;
 * in all ~0.55 s of CPU more per 465 MB dump than hashing inline (pgbench scale 50). Without them (~380 MB/s)
 * hashing inline would stall the feed to psql for ~3 ms per chunk: the worker is the faster choice there.
 */
export function hasSha256Instructions(): boolean {
  if (shaInstructions === undefined) {
    let info = '';
    try {
      info = readFileSync('/proc/cpuinfo', 'latin1');
    } catch {
      // not Linux: no way to tell; the worker is right everywhere, only slower than needed on some CPUs
    }
    shaInstructions = /^(?:flags|Features)\s*:.*\b(?:sha_ni|sha2)\b/m.test(info);
  }
  return shaInstructions;
}

export class HashingStream extends Transform {
  /**
   * On a worker thread (src/backup/sha256-worker.ts) where the CPU lacks SHA instructions, so that the main thread
   * keeps feeding the restore meanwhile; inline where it has them (see `hasSha256Instructions`) and for a stream
   * known to be small (`offThread` false: starting the worker costs 0.1–0.3 s of CPU where the restore waits for
   * the sandbox).
   */
  private readonly hash: OffThreadSha256 | InlineSha256;
  private digestP: Promise<string> | null = null;
  bytes = 0;
  private sinceReclaim = 0;

  constructor(private readonly consumers: readonly ChunkConsumer[] = [], private readonly onBytes?: (total: number) => void, offThread = !hasSha256Instructions()) {
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
