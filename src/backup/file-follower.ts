/**
 * Reading a file while another process appends to it: pg_dump writes the dump itself (`--file`), and pgdrill's
 * one pass (hash, scan, the overlapped restore's gate) reads behind it, in chunks of up to 1 MiB.
 *
 * Why not pg_dump's stdout: a pipe hands node pg_dump's 8 KiB writes one by one (~62,000 reads for a 488 MB dump),
 * and node then writes the file itself; both cost CPU that a 2-core machine takes from the restore. Reading the
 * page cache behind pg_dump costs a few hundred large reads. pg_dump also no longer waits for the restore: it
 * ends at its own pace and releases the source's snapshot early.
 *
 * The end: the writer's exit is signalled with `writerFinished()`; a read that returns nothing after that signal
 * (sampled before the read) means every byte has been read. Until then an empty read waits `pollMs` and retries.
 * Linux makes appended bytes visible to readers only up to the file size it has already updated, so a read
 * never sees a half-copied write; the SHA256SUMS self-check re-reads the whole file anyway.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { ChunkPool } from './chunk-pool.js';

/** Options of `FileFollower`. */
export interface FileFollowerOptions {
  /** Largest read. Default 1 MiB. */
  readonly chunkBytes?: number;
  /** Wait before reading again when caught up with the writer. Default 5 ms. */
  readonly pollMs?: number;
  /**
   * Read into buffers of this pool (src/backup/chunk-pool.ts): the end of the pipeline must then give every chunk
   * back (`ChunkPool.giveBack`), and whoever keeps a piece longer must `retain` it. Default: a fresh buffer per read.
   */
  readonly pool?: ChunkPool;
}

/** A Readable of a file's bytes as another process appends them. */
export class FileFollower extends Readable {
  private fh: FileHandle | null = null;
  private pos = 0;
  private writerDone = false;
  private spare: Buffer | null = null;
  private readonly chunkBytes: number;
  private readonly pollMs: number;
  private readonly pool: ChunkPool | null;

  constructor(private readonly path: string, o: FileFollowerOptions = {}) {
    super({ highWaterMark: 0 });
    this.pool = o.pool ?? null;
    this.chunkBytes = this.pool?.chunkBytes ?? o.chunkBytes ?? 1 << 20;
    this.pollMs = o.pollMs ?? 5;
  }

  /** The writer exited successfully: read to the end of the file, then end. */
  writerFinished(): void {
    this.writerDone = true;
  }

  /** Bytes read so far. */
  get bytesRead(): number {
    return this.pos;
  }

  override _construct(cb: (err?: Error | null) => void): void {
    open(this.path, 'r').then((fh) => ((this.fh = fh), cb()), cb);
  }

  override _read(): void {
    void this.readOnce();
  }

  /** One chunk for one `_read()`: read, or wait for the writer and read again, or end. */
  private async readOnce(): Promise<void> {
    try {
      for (;;) {
        if (this.destroyed) return;
        const done = this.writerDone; // sampled before the read: what the writer wrote before it exited is visible
        const buf = this.spare ?? this.pool?.take() ?? Buffer.allocUnsafe(this.chunkBytes);
        this.spare = null;
        const { bytesRead } = await this.fh!.read(buf, 0, buf.length, this.pos);
        if (this.destroyed) return;
        if (bytesRead > 0) {
          this.pos += bytesRead;
          if (bytesRead >= buf.length / 4) return void this.push(this.pool ? this.pool.lend(buf, bytesRead) : buf.subarray(0, bytesRead));
          // A small read (caught up with the writer): copy it, and keep the big buffer for the next read, so that
          // chunks waiting downstream never pin 1 MiB each for a few KiB of data.
          this.spare = buf;
          return void this.push(Buffer.from(buf.subarray(0, bytesRead)));
        }
        this.spare = buf;
        if (done) return void this.push(null);
        await new Promise((r) => setTimeout(r, this.pollMs));
      }
    } catch (err) {
      this.destroy(err as Error);
    }
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.spare) this.pool?.put(this.spare);
    this.spare = null;
    const fh = this.fh;
    this.fh = null;
    if (!fh) return cb(err);
    fh.close().then(() => cb(err), () => cb(err));
  }
}
