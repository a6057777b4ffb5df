/**
 * An order-independent content hash of a COPY block's data lines, computed on the raw bytes as they stream (never
 * decoded: a LATIN1, EUC_JP or SQL_ASCII dump hashes its own bytes). The same hasher reads the restored copy's
 * `COPY … TO STDOUT` under the dump's session settings (src/fidelity/copy-hash-restored.ts), whose text is
 * byte-identical to pg_dump's for the same rows (docs/fidelity.md), so equal tables give equal hashes whatever
 * order their rows come in.
 *
 * Why this shape:
 * - **Per line, two 32-bit lanes** (FNV-1a-style xor-multiply with two different odd multipliers, each finished
 *   with murmur3's fmix32, the line's length mixed into one): a 64-bit digest per row, computed incrementally byte
 *   by byte, so a line split across chunks (or one row of a gigabyte) needs no buffer. node:crypto per line was
 *   measured at ~40 MB/s here (a native call per row); this loop runs several times faster and touches each byte
 *   once.
 * - **Order-independent fold**: each lane's digests are summed modulo 2^32. A sum does not care about order, and
 *   unlike xor two identical rows (a table without a key) do not cancel out. The row count goes in too.
 * - The block's terminator line (`\.`, `\.\r`) is not a row: a data line can never be exactly that (COPY text
 *   doubles every backslash), and psql ends the block there.
 * Not a cryptographic hash: it detects a lost, extra or changed row (a chance of about 2^-64 per changed row to
 * miss it), not a forger who chooses the bytes.
 */

/** One block's (or one COPY TO output's) rows and hash. */
export interface CopyHash {
  readonly rows: number;
  /** `c1:` + 16 hex digits (the two lane sums): equal for the same multiset of lines. */
  readonly hash: string;
}

/** A hasher's whole state: seven numbers (a block's hashing moves to the worker thread mid-block: copy-hash-worker.ts). */
export type CopyHashState = readonly [rows: number, sum1: number, sum2: number, h1: number, h2: number, len: number, head: number];

/**
 * Hashes the lines of a stream of COPY text, in chunks cut anywhere. Self-contained (no reference outside the class
 * body: its source also runs on the worker thread, copy-hash-worker.ts), hence the literals.
 */
export class CopyLineHasher {
  private rows = 0;
  private sum1 = 0;
  private sum2 = 0;
  // Each lane starts from its own offset basis (FNV-1a's, and murmur2's seed).
  private h1 = 0x811c9dc5 | 0;
  private h2 = 0x9747b28c | 0;
  /** Bytes of the current (unfinished) line so far. */
  private len = 0;
  /** The current line's first three bytes (for the terminator), packed; only meaningful while len <= 3. */
  private head = 0;

  /** A hasher that goes on from `state`. */
  static from(state: CopyHashState): CopyLineHasher {
    const h = new CopyLineHasher();
    [h.rows, h.sum1, h.sum2, h.h1, h.h2, h.len, h.head] = state;
    return h;
  }

  /** murmur3's 32-bit finaliser. */
  static fmix32(h: number): number {
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return h >>> 0;
  }

  /** The state, to go on elsewhere. */
  state(): CopyHashState {
    return [this.rows, this.sum1, this.sum2, this.h1, this.h2, this.len, this.head];
  }

  /** Feeds buf[start, end). */
  update(buf: Uint8Array, start = 0, end = buf.length): void {
    let pos = start;
    while (pos < end) {
      let nl = buf.indexOf(0x0a, pos);
      if (nl === -1 || nl >= end) nl = end;
      let h1 = this.h1;
      let h2 = this.h2;
      for (let i = pos; i < nl; i++) {
        const c = buf[i]!;
        h1 = Math.imul(h1 ^ c, 0x01000193);
        h2 = Math.imul(h2 ^ c, 0x5bd1e995);
      }
      this.h1 = h1;
      this.h2 = h2;
      if (this.len < 3) {
        for (let i = pos; i < nl && this.len + (i - pos) < 3; i++) this.head |= buf[i]! << (8 * (this.len + (i - pos)));
      }
      this.len += nl - pos;
      if (nl === end) return;
      this.endLine();
      pos = nl + 1;
    }
  }

  /** Ends the input: a last line without newline is a row (as psql sends it), unless it is the terminator. */
  finish(): CopyHash {
    if (this.len > 0) this.endLine();
    const hex = (n: number) => n.toString(16).padStart(8, '0');
    return { rows: this.rows, hash: `c1:${hex(this.sum1)}${hex(this.sum2)}` };
  }

  private endLine(): void {
    // `\.` or `\.\r` (0x5c 0x2e [0x0d]): the terminator, not a row.
    const terminator = (this.len === 2 && this.head === 0x2e5c) || (this.len === 3 && this.head === 0x0d2e5c);
    if (!terminator) {
      this.rows++;
      this.sum1 = (this.sum1 + CopyLineHasher.fmix32(this.h1 ^ this.len)) >>> 0;
      this.sum2 = (this.sum2 + CopyLineHasher.fmix32(this.h2)) >>> 0;
    }
    this.h1 = 0x811c9dc5 | 0;
    this.h2 = 0x9747b28c | 0;
    this.len = 0;
    this.head = 0;
  }
}

/** The hash of a whole buffer of COPY text (tests, small inputs). */
export function hashCopyText(text: Buffer | string): CopyHash {
  const h = new CopyLineHasher();
  h.update(typeof text === 'string' ? Buffer.from(text) : text);
  return h.finish();
}
