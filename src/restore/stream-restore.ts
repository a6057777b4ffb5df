/**
 * Restoring a plain dump while pg_dump still writes it: the gate between the dump's byte stream and psql.
 *
 * A plain dump is a psql script, and psql acts on its input one whole line at a time: it reads up to a newline
 * (fgets) and only then runs a backslash command on that line or sends a statement that ends on it; at the end of
 * its input it also acts on a last line without newline. So the gate keeps one invariant: **psql never receives a
 * newline, nor the end of its input, before the scanner has read the whole line it completes and found nothing to
 * refuse.** Every chunk is scanned first (`PlainDumpScanner.push` is synchronous and counts a line's findings by
 * the time it has consumed the line's newline), then:
 *
 * - the bytes up to the chunk's last newline are forwarded; the start of an unfinished line after it is held back
 *   until its newline has been scanned. A line longer than `maxHeldBytes` is forwarded in pieces *without* its
 *   newline, so memory stays bounded and the invariant holds (psql buffers the piece and acts on nothing);
 * - the first finding stops the feed at once: psql is killed (SIGKILL — never a closed stdin, since at the end of
 *   its input psql would act on what it has buffered) and the rest of the dump still flows on to the file, so the
 *   drill fails exactly as it does without overlap (`content.hostile_content`);
 * - the end of psql's input is released only by `release()`, which the drill calls once pg_dump exited 0 and the
 *   trailer, the SHA256SUMS self-check and the content scan passed — the conditions under which the
 *   non-overlapped drill starts its restore. Until then psql has run every complete line and waits.
 *
 * The gate is a Transform placed after the hashing stream (`takeDump`'s `through`), which reads pg_dump's file
 * behind it: the bytes psql reads are the very chunks that were read from the file and hashed, so the file's
 * SHA256SUMS self-check afterwards proves that the restored bytes are the stored ones — less the text of pg_dump's
 * own BEGIN;/COMMIT; lines around large-object data, which the one-transaction replay drops (transaction-lines.ts). A chunk passes on only
 * after psql accepted it: a slow restore slows the reading through stream backpressure instead of growing a
 * buffer, and memory stays a few chunks whatever the size of the dump. A chunk's memory may be used again for a later
 * read once the stream is done with it (src/backup/chunk-pool.ts): what waits in psql's stdin is retained until
 * written, and the start of a line held back here is a copy.
 */
import { Transform, type TransformCallback, type Writable } from 'node:stream';
import { retain } from '../backup/chunk-pool.js';
import { RangeBlanker, type ByteRange } from './transaction-lines.js';

/** What the gate needs of the scanner (PlainDumpScanner): scan a chunk synchronously, count findings, end. */
export interface GateScanner {
  push(chunk: Buffer): void;
  readonly findingCount: number;
  finish(): unknown;
  /** pg_dump's own BEGIN/COMMIT lines around large objects so far (their bytes are dropped from psql's input). Absent: none. */
  readonly pgDumpTransactions?: readonly ByteRange[];
  /** REFRESH lines of materialized views held back from psql, run after the restore (src/restore/deferred-refresh.ts). Absent: none. */
  readonly matviewRefreshes?: readonly ByteRange[];
}

/** Where approved bytes go: psql's stdin, and how to stop psql dead. */
export interface FeedTarget {
  /** psql's input. The gate writes approved bytes and, on `release()`, ends it. */
  readonly stdin: Writable;
  /** Stop the consumer at once without letting it see the end of its input (SIGKILL for psql). */
  kill(): void;
  /** Settles when the consumer has exited; from then on nothing is forwarded. */
  readonly exited: Promise<unknown>;
}

/** Why the gate stopped feeding psql (the dump still flows on to the file). */
export type FeedStop =
  /** the scanner found something pg_dump never writes: psql was killed before the line reached it */
  | 'hostile'
  /** psql exited on its own (ON_ERROR_STOP after an error) */
  | 'consumer-exited'
  /** there was no consumer to feed (the sandbox did not start, or was not isolated) */
  | 'no-consumer'
  /** the stream failed (pg_dump died, a write failed) or was destroyed before its end */
  | 'upstream-failed'
  /** the drill decided not to restore this dump (`stop()`) */
  | 'discarded';

/** Options of the gate. */
export interface ScanGatedFeedOptions {
  readonly scanner: GateScanner;
  /** The consumer, once it is ready (the sandbox started, globals restored); null when there will be none. Until it settles, chunks wait here — and pg_dump waits behind them. */
  readonly target: Promise<FeedTarget | null>;
  /** Longest unfinished line held back before it is forwarded without its newline. Default 1 MiB. */
  readonly maxHeldBytes?: number;
  /** Bytes that may wait in psql's stdin before the gate (and so pg_dump) waits for psql. Default 4 MiB. */
  readonly maxQueuedBytes?: number;
}

const NEWLINE = 0x0a;

/** The gate itself: a pass-through Transform that scans each chunk and forwards what the scan approved to psql. */
export class ScanGatedFeed extends Transform {
  /** Bytes handed to psql so far (every one of them scanned and approved). */
  forwardedBytes = 0;
  /** Why feeding stopped, or null while it goes on / after a clean `release()`. */
  stopped: FeedStop | null = null;
  /** True once the whole dump was scanned and approved and only the end of input is held back. */
  awaitingRelease = false;
  /** True once `release()` ended psql's input. */
  released = false;

  private readonly scanner: GateScanner;
  /** psql replays in one transaction: pg_dump's own BEGIN/COMMIT lines are dropped (src/restore/transaction-lines.ts), and so are the REFRESH lines the restore runs itself. */
  private readonly blanker: RangeBlanker;
  private readonly maxHeld: number;
  private readonly maxQueued: number;
  private readonly targetP: Promise<FeedTarget | null>;
  private target: FeedTarget | null | undefined = undefined;
  private exitedFlag = false;
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** Passes on the chunk that waits for psql to drain its input (at most one: the Transform calls us one chunk at a time). */
  private waiter: (() => void) | null = null;

  constructor(opts: ScanGatedFeedOptions) {
    super();
    this.scanner = opts.scanner;
    this.blanker = new RangeBlanker(opts.scanner.pgDumpTransactions ?? [], opts.scanner.matviewRefreshes ?? []);
    this.maxHeld = opts.maxHeldBytes ?? 1 << 20;
    this.maxQueued = opts.maxQueuedBytes ?? 4 << 20;
    this.targetP = opts.target.then(
      (t) => t,
      () => null, // whoever created the target reports why it is missing; the gate only stops feeding
    );
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.scanner.push(chunk);
    } catch (err) {
      this.stop('upstream-failed');
      return cb(err as Error);
    }
    if (this.target === undefined) {
      // First chunk: wait for psql to be ready. pg_dump waits behind us (backpressure): only a few chunks are held.
      this.targetP.then((t) => this.attach(t)).then(() => this.forward(chunk, cb), (err: Error) => cb(err));
      return;
    }
    this.forward(chunk, cb);
  }

  override _flush(cb: TransformCallback): void {
    const done = () => {
      if (this.stopped === null && this.target) {
        this.scanner.finish(); // judges a last line without newline, as psql would run it at end of input
        if (this.scanner.findingCount > 0) this.stop('hostile');
        else this.awaitingRelease = true;
      }
      cb();
    };
    if (this.target === undefined) this.targetP.then((t) => this.attach(t)).then(done, (err: Error) => cb(err));
    else done();
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    // A stream destroyed before its end (pg_dump failed, the file could not be written) or by an error: psql must not
    // see an end of input. (A stream that ended cleanly is destroyed too, by autoDestroy: then it awaits release().)
    if (!this.released && this.stopped === null && (err || !this.awaitingRelease)) this.stop('upstream-failed');
    cb(err);
  }

  /**
   * End psql's input: forward the held last line (already approved by the scanner's `finish()`) and close stdin,
   * so psql finishes and exits. Only after the whole stream passed the gate; a no-op when feeding stopped.
   * @returns whether psql's input was ended.
   */
  release(): boolean {
    if (!this.awaitingRelease || this.stopped !== null || this.released || !this.target) return false;
    this.released = true;
    this.awaitingRelease = false;
    for (const held of this.held) {
      const piece = this.blanker.rewrite(held);
      this.target.stdin.write(piece);
      this.forwardedBytes += piece.length;
    }
    this.held = [];
    this.heldBytes = 0;
    this.target.stdin.end();
    return true;
  }

  /** Stop feeding psql now and kill it (unless its input was already released). Idempotent; the first reason wins. */
  stop(reason: FeedStop): void {
    if (this.stopped === null && !this.released) this.stopped = reason;
    this.awaitingRelease = false;
    this.held = [];
    this.heldBytes = 0;
    if (!this.released && this.target && !this.exitedFlag) this.target.kill();
  }

  // -----------------------------------------------------------------------------------------------------------

  private attach(t: FeedTarget | null): void {
    if (this.target !== undefined) return;
    this.target = t;
    if (!t) {
      if (this.stopped === null) this.stopped = 'no-consumer';
      return;
    }
    void t.exited.then(
      () => this.onExit(),
      () => this.onExit(),
    );
    if (this.stopped !== null) t.kill(); // stopped (e.g. discarded) before psql was even ready
  }

  private onExit(): void {
    this.exitedFlag = true;
    if (this.stopped === null && !this.released) this.stopped = 'consumer-exited';
    this.waiter?.(); // a chunk waiting for psql to drain goes on to the file
  }

  /** Forward what the scan approved of this chunk, then pass the chunk on (to the file) once psql accepted it. */
  private forward(chunk: Buffer, cb: TransformCallback): void {
    if (this.stopped === null && this.target?.stdin.destroyed) this.stopped = 'consumer-exited'; // psql closed its input
    if (this.stopped !== null || !this.target) return cb(null, chunk);
    if (this.scanner.findingCount > 0) {
      this.stop('hostile');
      return cb(null, chunk);
    }
    const nl = chunk.lastIndexOf(NEWLINE);
    let out: Buffer[];
    if (nl === -1) {
      this.held.push(Buffer.from(chunk)); // a copy: the chunk's memory is not ours beyond this call
      this.heldBytes += chunk.length;
      if (this.heldBytes <= this.maxHeld) return cb(null, chunk);
      out = this.held; // a very long line: forwarded without its newline, psql acts on nothing yet
    } else {
      out = [...this.held, chunk.subarray(0, nl + 1)]; // no copy: written together below
    }
    this.held = nl !== -1 && nl + 1 < chunk.length ? [Buffer.from(chunk.subarray(nl + 1))] : [];
    this.heldBytes = nl === -1 ? 0 : chunk.length - (nl + 1);
    const stdin = this.target.stdin;
    // One writev for the held start of a line and the new lines: a system call per chunk, not per piece.
    stdin.cork();
    for (const approved of out) {
      // Every line of `out` was scanned to its end, or is a long line's piece (never one of pg_dump's BEGIN/COMMIT).
      const piece = this.blanker.rewrite(approved);
      this.forwardedBytes += piece.length;
      stdin.write(piece, retain(piece)); // its memory stays ours until psql's pipe took it
    }
    stdin.uncork();
    // Up to maxQueued bytes may wait for psql: node then refills psql's input while psql works, instead of psql
    // waiting for node after every 16 KiB.
    if (stdin.writableLength <= this.maxQueued) return cb(null, chunk);
    // psql is slower than pg_dump: hold this chunk (and so pg_dump) until psql drained its input, or exited.
    // (One waiter at a time, released by whichever comes first; nothing keeps a reference to the chunk after.)
    const go = () => {
      if (this.waiter !== go) return;
      this.waiter = null;
      stdin.off('drain', go);
      stdin.off('close', go);
      cb(null, chunk);
    };
    this.waiter = go;
    stdin.on('drain', go);
    stdin.on('close', go);
  }
}
