/**
 * sha256 of a byte stream on a worker thread. Hashing 1 MiB holds a thread ~3 ms on a CPU without SHA extensions —
 * longer than psql takes to drain what waits in its input — so on the main thread, which also feeds the overlapped
 * restore, it would stall the restore a little on every chunk. Here the main thread only copies each chunk into a
 * fixed ring of shared buffers (8 × 1 MiB, allocated once: no garbage per chunk, memory flat) and the worker hashes
 * the slots in the order they were handed over. When every slot is taken, `update` waits for one: a worker behind
 * slows the stream instead of growing a queue.
 */
import { Worker } from 'node:worker_threads';

const SLOT_BYTES = 1 << 20;
const SLOTS = 8;

/** The worker: hashes each slot it is told about, hands it back, and answers `end` with the digest. */
const WORKER = `
(async () => {
  const [{ parentPort, workerData }, { createHash }] = await Promise.all(['node:worker_threads', 'node:crypto'].map((m) => import(m)));
  const ring = Buffer.from(workerData.ring);
  const h = createHash('sha256');
  parentPort.on('message', (m) => {
    if (m.end) {
      parentPort.postMessage({ digest: h.digest('hex') });
      parentPort.close();
      return;
    }
    h.update(ring.subarray(m.slot * ${SLOT_BYTES}, m.slot * ${SLOT_BYTES} + m.len));
    parentPort.postMessage({ free: m.slot });
  });
})();
`;

/** An incremental sha256 computed on its own thread. `update` in stream order, then `digest` once. */
export class OffThreadSha256 {
  private readonly worker: Worker;
  private readonly ring = new SharedArrayBuffer(SLOT_BYTES * SLOTS);
  private readonly view = Buffer.from(this.ring);
  private readonly free: number[] = Array.from({ length: SLOTS }, (_, i) => SLOTS - 1 - i);
  private wake: (() => void) | null = null;
  private failure: Error | null = null;
  private readonly digestP: Promise<string>;

  constructor() {
    this.worker = new Worker(WORKER, { eval: true, workerData: { ring: this.ring } });
    this.digestP = new Promise<string>((resolve, reject) => {
      this.worker.on('message', (m: { free?: number; digest?: string }) => {
        if (m.digest !== undefined) return resolve(m.digest);
        this.free.push(m.free!);
        this.wakeUp();
      });
      const fail = (err: Error) => {
        this.failure ??= err;
        reject(this.failure);
        this.wakeUp();
      };
      this.worker.once('error', fail);
      this.worker.once('exit', (code) => fail(new Error(`the sha256 worker exited (code ${code}) before its digest`)));
    });
    this.digestP.catch(() => {}); // surfaced by update() or digest()
  }

  /** Hand `chunk` to the worker (copied: the caller may pass the chunk on at once). Waits while all slots are taken. */
  async update(chunk: Buffer): Promise<void> {
    for (let off = 0; off < chunk.length; off += SLOT_BYTES) {
      while (!this.free.length) {
        if (this.failure) throw this.failure;
        await new Promise<void>((r) => (this.wake = r));
      }
      if (this.failure) throw this.failure;
      const slot = this.free.pop()!;
      const len = chunk.copy(this.view, slot * SLOT_BYTES, off, Math.min(off + SLOT_BYTES, chunk.length));
      this.worker.postMessage({ slot, len });
    }
  }

  /** The hex digest of everything handed over; call once, after the last `update` resolved. The worker then ends. */
  digest(): Promise<string> {
    if (!this.failure) this.worker.postMessage({ end: true });
    return this.digestP;
  }

  /** Stop the worker (a stream that failed or was abandoned). */
  async close(): Promise<void> {
    await this.worker.terminate();
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }
}
