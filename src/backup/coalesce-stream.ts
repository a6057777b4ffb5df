/**
 * Bigger chunks for the one pass. pg_dump writes its output through stdio in 8 KiB pieces, and node reads a pipe as
 * fast as data arrives: a 488 MB dump reaches pgdrill as ~62,000 chunks of ~8 KiB. Every chunk then costs a hash
 * update, a scanner call, a write to psql and a write to the file — per-chunk overhead that cost more CPU than
 * the bytes themselves (measured: ~2.2 s of node CPU for a 488 MB dump just to pass it on). This stage gathers
 * chunks into batches of `targetBytes` (one copy, ~0.1 ms per MiB) and lets a partial batch go after `maxDelayMs`
 * when pg_dump pauses, so the bytes are never held back for long.
 */
import { Transform, type TransformCallback } from 'node:stream';

/** Options of `CoalesceStream`. */
export interface CoalesceOptions {
  /** Batch size. Default 256 KiB. */
  readonly targetBytes?: number;
  /** A partial batch waits at most this long for more input. Default 2 ms. */
  readonly maxDelayMs?: number;
}

/** A Transform that passes the same bytes on, in batches of about `targetBytes`. */
export class CoalesceStream extends Transform {
  private parts: Buffer[] = [];
  private size = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly target: number;
  private readonly delay: number;

  constructor(opts: CoalesceOptions = {}) {
    super();
    this.target = opts.targetBytes ?? 256 * 1024;
    this.delay = opts.maxDelayMs ?? 2;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.size === 0 && chunk.length >= this.target) {
      this.push(chunk); // already big: no copy
      return cb();
    }
    this.parts.push(chunk);
    this.size += chunk.length;
    if (this.size >= this.target) this.emitBatch();
    else this.timer ??= setTimeout(() => this.emitBatch(), this.delay);
    cb();
  }

  override _flush(cb: TransformCallback): void {
    this.emitBatch();
    cb();
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.parts = [];
    cb(err);
  }

  private emitBatch(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.size === 0 || this.destroyed) return;
    const batch = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    this.push(batch);
  }
}
