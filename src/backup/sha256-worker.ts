/**
 * sha256 of a byte stream on a worker thread. Hashing 1 MiB holds a thread ~3 ms on a CPU without SHA extensions —
 * longer than psql takes to drain what waits in its input — so on the main thread, which also feeds the overlapped
 * restore, it would stall the restore a little on every chunk. Here the main thread only copies each chunk into a
 * fixed ring of shared buffers (8 × 1 MiB, allocated once: no garbage per chunk, memory flat) and the worker hashes
 * the slots in the order they were handed over. When every slot is taken, `update` waits for one: a worker behind
 * slows the stream instead of growing a queue. `hashFileOffThread` hashes a whole file on a worker the same way.
 */
import { Worker } from 'node:worker_threads';
import { READ_BUFFER } from './sha256sums.js';

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

/** A file's sha256 and the number of bytes it was computed over. */
export interface FileDigest {
  readonly sha256: string;
  readonly bytes: number;
}

/**
 * The worker of `hashFileOffThread`: the reused-buffer loop of `sha256File`, synchronous (it has its thread to
 * itself).
 * Dynamic imports only, so that the text runs whether the worker evaluates it as CommonJS or as a module.
 */
const HASH_WORKER = `
(async () => {
  const [{ parentPort, workerData }, { createHash }, fs, os] = await Promise.all(
    ['node:worker_threads', 'node:crypto', 'node:fs', 'node:os'].map((m) => import(m)));
  // Linux: this thread only, at low priority (it has slack; the restore it runs beside has none).
  try { os.setPriority(Number(fs.readlinkSync('/proc/thread-self').split('/').pop()), 10); } catch {}
  const h = createHash('sha256');
  const fd = fs.openSync(workerData, 'r');
  const buf = Buffer.allocUnsafe(${READ_BUFFER});
  let bytes = 0;
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; bytes += n) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  parentPort.postMessage({ sha256: h.digest('hex'), bytes });
})();
`;

/**
 * `sha256File` on a worker thread, with the number of bytes read. For the re-read of a dump while the main thread
 * feeds the overlapped restore: hashing a 1 MiB buffer blocks a thread for ~3 ms, longer than psql takes to drain what waits in its input, so
 * on the main thread it would stall the restore. On Linux the thread runs at nice 10: the re-read has seconds of
 * slack (it ends long before the restore catches up), the restore's own processes have none. `signal` ends it.
 */
export function hashFileOffThread(path: string, signal?: AbortSignal): Promise<FileDigest> {
  return new Promise((resolve, reject) => {
    const w = new Worker(HASH_WORKER, { eval: true, workerData: path });
    const abort = () => void w.terminate();
    signal?.addEventListener('abort', abort, { once: true });
    let result: FileDigest | null = null;
    w.once('message', (m: FileDigest) => (result = m));
    w.once('error', reject);
    w.once('exit', (code) => {
      signal?.removeEventListener('abort', abort);
      if (result) resolve(result);
      else reject(new Error(`hashing ${path}: the worker exited (${signal?.aborted ? 'aborted' : `code ${code}`}) without a digest`));
    });
  });
}
