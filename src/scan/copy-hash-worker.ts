/**
 * The COPY-line hashes (copy-hash.ts) on a worker thread. Hashing touches every byte of the table data in
 * JavaScript: measured side by side (bench/scanner-throughput.ts) several times the scan's own cost, which only
 * searches newlines natively. Here the scanner's thread only copies each run of COPY bytes into a fixed ring of
 * shared slots (8 × 256 KiB, allocated once: memory flat) and goes on; the worker hashes the slots in order.
 *
 * The scanner is synchronous (`push` returns with everything counted), so the hand-over is too: when every slot
 * is taken, the scanner's thread waits (`Atomics.wait`) for the worker to free one — the stream slows down instead
 * of a queue growing — and `results` waits for the worker to finish and reads its answers synchronously
 * (`receiveMessageOnPort`). A worker that stopped answering for a minute is an error, never a hang.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { CopyLineHasher, type CopyHash, type CopyHashState } from './copy-hash.js';

const SLOTS = 8;
const SLOT_BYTES = 256 * 1024;
/** Per slot: [state (0 free, 1 full), length, block, kind]. Then the worker's "done" and "failed" flags. */
const FIELDS = 4;
const DONE = SLOTS * FIELDS;
const FAILED = DONE + 1;
const KIND_DATA = 0;
const KIND_START = 1;
const KIND_END = 2;
const KIND_STOP = 3;
/** How long the scanner waits for a slot or the results before it calls the worker dead. */
const STALL_MS = 60_000;

const WORKER = `
(async () => {
  const { workerData } = await import('node:worker_threads');
  // esbuild's keepNames (tsx, in tests) wraps classes in __name(): harmless here.
  const __name = (f) => f;
  const CopyLineHasher = (${CopyLineHasher.toString()});
  const ctrl = new Int32Array(workerData.ctrl);
  const data = new Uint8Array(workerData.data);
  const port = workerData.port;
  let slot = 0;
  let h = null;
  try {
    for (;;) {
      const base = slot * ${FIELDS};
      while (Atomics.load(ctrl, base) === 0) Atomics.wait(ctrl, base, 0);
      const len = ctrl[base + 1], block = ctrl[base + 2], kind = ctrl[base + 3];
      const at = slot * ${SLOT_BYTES};
      if (kind === ${KIND_START}) h = CopyLineHasher.from(Array.from(new Float64Array(workerData.data, at, 7)));
      else if (kind === ${KIND_DATA}) h.update(data, at, at + len);
      else if (kind === ${KIND_END}) port.postMessage({ block, ...h.finish() });
      else {
        Atomics.store(ctrl, base, 0);
        Atomics.store(ctrl, ${DONE}, 1);
        Atomics.notify(ctrl, ${DONE});
        port.close();
        return;
      }
      Atomics.store(ctrl, base, 0);
      Atomics.notify(ctrl, base);
      slot = (slot + 1) % ${SLOTS};
    }
  } catch (err) {
    Atomics.store(ctrl, ${FAILED}, 1);
    Atomics.store(ctrl, ${DONE}, 1);
    for (let i = 0; i <= ${DONE}; i++) Atomics.notify(ctrl, i);
    throw err;
  }
})();
`;

/** Ends a worker whose hasher was dropped without `results()` (a scan abandoned mid-dump). */
const abandoned = new FinalizationRegistry<Worker>((w) => void w.terminate());

/** COPY blocks hashed on a worker thread: `start`, `update`…, `end` per block, in stream order; `results` once. */
export class OffThreadCopyHasher {
  private readonly ctrlBuf = new SharedArrayBuffer((SLOTS * FIELDS + 2) * 4);
  private readonly dataBuf = new SharedArrayBuffer(SLOTS * SLOT_BYTES);
  private readonly ctrl = new Int32Array(this.ctrlBuf);
  private readonly data = new Uint8Array(this.dataBuf);
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private slot = 0;

  constructor() {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(WORKER, { eval: true, workerData: { ctrl: this.ctrlBuf, data: this.dataBuf, port: port2 }, transferList: [port2] });
    this.worker.unref();
    this.worker.on('error', () => {}); // seen through the FAILED flag
    abandoned.register(this, this.worker, this);
  }

  /** A block begins (or goes on from `state`, hashed so far on the scanner's thread). */
  start(block: number, state: CopyHashState): void {
    const at = this.acquire();
    new Float64Array(this.dataBuf, at * SLOT_BYTES, 7).set(state);
    this.publish(KIND_START, 0, block);
  }

  /** The block's next bytes, buf[start, end). */
  update(buf: Buffer, start: number, end: number): void {
    while (start < end) {
      const n = Math.min(SLOT_BYTES, end - start);
      const at = this.acquire();
      this.data.set(buf.subarray(start, start + n), at * SLOT_BYTES);
      this.publish(KIND_DATA, n, 0);
      start += n;
    }
  }

  /** The block ended. */
  end(block: number): void {
    this.acquire();
    this.publish(KIND_END, 0, block);
  }

  /** Every block's hash, by the block number given to `start`; the worker ends. */
  results(): Map<number, CopyHash> {
    this.acquire();
    this.publish(KIND_STOP, 0, 0);
    this.waitWhile(DONE, 0);
    abandoned.unregister(this);
    if (Atomics.load(this.ctrl, FAILED)) throw new Error('the COPY-line hash worker failed');
    const out = new Map<number, CopyHash>();
    for (let m = receiveMessageOnPort(this.port); m; m = receiveMessageOnPort(this.port)) {
      const r = m.message as CopyHash & { block: number };
      out.set(r.block, { rows: r.rows, hash: r.hash });
    }
    this.port.close();
    return out;
  }

  /** The next slot, once the worker has freed it. */
  private acquire(): number {
    this.waitWhile(this.slot * FIELDS, 1);
    return this.slot;
  }

  private publish(kind: number, len: number, block: number): void {
    const base = this.slot * FIELDS;
    this.ctrl[base + 1] = len;
    this.ctrl[base + 2] = block;
    this.ctrl[base + 3] = kind;
    Atomics.store(this.ctrl, base, 1);
    Atomics.notify(this.ctrl, base);
    this.slot = (this.slot + 1) % SLOTS;
  }

  private waitWhile(index: number, value: number): void {
    const t0 = Date.now();
    while (Atomics.load(this.ctrl, index) === value) {
      if (Atomics.load(this.ctrl, FAILED)) throw new Error('the COPY-line hash worker failed');
      if (Date.now() - t0 > STALL_MS) throw new Error(`the COPY-line hash worker did not answer for ${STALL_MS / 1000} s`);
      Atomics.wait(this.ctrl, index, value, 1000);
    }
  }
}
