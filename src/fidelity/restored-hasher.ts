/**
 * The hasher of one read-back session (copy-hash-restored.ts): each table's `COPY … TO STDOUT` is hashed on the
 * session's thread while the session has read little (a worker thread costs more to start than a small table to
 * hash), and past `inlineLimit` bytes on the worker of src/scan/copy-hash-worker.ts, the same as the dump's side
 * uses, so the server's COPY output, the read and the hashing overlap and the main thread stays free for the rest
 * of the fidelity stage. A table moves to the worker mid-stream with its hasher's state: the hash is the same.
 */
import { CopyLineHasher, type CopyHash } from '../scan/copy-hash.js';
import { OffThreadCopyHasher } from '../scan/copy-hash-worker.js';

/** As the dump's scan: the first 8 MiB of a session's table data are hashed inline. */
const INLINE_BYTES = 8 * 1024 * 1024;

export class RestoredSessionHasher {
  private off: OffThreadCopyHasher | null = null;
  private readonly inline = new Map<number, CopyHash>();
  private bytes = 0;
  private block = -1;
  private h = new CopyLineHasher();
  private onWorker = false;

  constructor(private readonly inlineLimit = INLINE_BYTES) {}

  /** Table number `block` begins. */
  begin(block: number): void {
    this.block = block;
    this.h = new CopyLineHasher();
    this.onWorker = false;
  }

  /** The table's next bytes. */
  update(chunk: Buffer): void {
    if (!this.onWorker && this.bytes + chunk.length > this.inlineLimit) {
      this.off ??= new OffThreadCopyHasher();
      this.off.start(this.block, this.h.state());
      this.onWorker = true;
    }
    this.bytes += chunk.length;
    if (this.onWorker) this.off!.update(chunk, 0, chunk.length);
    else this.h.update(chunk);
  }

  /** The table ended (also after a failed read: its result is then never asked for). */
  end(): void {
    if (this.onWorker) this.off!.end(this.block);
    else this.inline.set(this.block, this.h.finish());
  }

  /** Every table's hash by its number; the worker, if any, ends. Call once, when the session is done. */
  results(): Map<number, CopyHash> {
    const out = new Map(this.inline);
    for (const [block, r] of this.off?.results() ?? []) out.set(block, r);
    this.off = null;
    return out;
  }
}
