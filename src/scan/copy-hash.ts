/**
 * An order-independent content hash of a COPY block's data lines, computed on the raw bytes as they stream (never
 * decoded: a LATIN1, EUC_JP or SQL_ASCII dump hashes its own bytes). The same hasher reads the restored copy's
 * `COPY … TO STDOUT` under the dump's session settings (src/fidelity/copy-hash-restored.ts), whose text is
 * byte-identical to pg_dump's for the same rows (docs/fidelity.md), so equal tables give equal hashes whatever
 * order their rows come in.
 *
 * Why this shape:
 * - **Per line, two 32-bit lanes** (murmur3_32's block and tail steps in lane 1; the same shape with other odd
 *   multipliers and rotations in lane 2; each lane finished with the line's length and murmur3's fmix32): a 64-bit
 *   digest per row, computed incrementally 4 bytes at a time from the line's start (a word cut by a chunk boundary
 *   waits in `tail`), so a line split across chunks (or one row of a gigabyte) needs no buffer. node:crypto per
 *   line was measured at ~40 MB/s here (a native call per row); the byte-at-a-time FNV lanes of `c1:` at ~150 MB/s;
 *   this one mixes once per word (bench/scanner-throughput.ts).
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
  /** `c2:` + 16 hex digits (the two lane sums): equal for the same multiset of lines. */
  readonly hash: string;
}

/** A hasher's whole state: seven numbers (a block's hashing moves to the worker thread mid-block: copy-hash-worker.ts). */
export type CopyHashState = readonly [rows: number, sum1: number, sum2: number, h1: number, h2: number, len: number, tail: number];

/**
 * Hashes the lines of a stream of COPY text, in chunks cut anywhere. Self-contained (no reference outside the class
 * body: its source also runs on the worker thread, copy-hash-worker.ts), hence the literals.
 */
export class CopyLineHasher {
  private rows = 0;
  private sum1 = 0;
  private sum2 = 0;
  // Each lane starts from its own seed.
  private h1 = 0x811c9dc5 | 0;
  private h2 = 0x9747b28c | 0;
  /** Bytes of the current (unfinished) line so far. */
  private len = 0;
  /** The current line's last len % 4 bytes, not yet a whole word (little-endian); while len <= 3, its first bytes. */
  private tail = 0;

  /** A hasher that goes on from `state`. */
  static from(state: CopyHashState): CopyLineHasher {
    const h = new CopyLineHasher();
    [h.rows, h.sum1, h.sum2, h.h1, h.h2, h.len, h.tail] = state;
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
    return [this.rows, this.sum1, this.sum2, this.h1, this.h2, this.len, this.tail];
  }

  /** Feeds buf[start, end). */
  update(buf: Uint8Array, start = 0, end = buf.length): void {
    let pos = start;
    while (pos < end) {
      let nl = buf.indexOf(0x0a, pos);
      if (nl === -1 || nl >= end) nl = end;
      pos = this.completeWord(buf, pos, nl);
      // Whole 4-byte words of the line (from the line's start): lane 1 murmur3_32's block step; lane 2 the same mixed
      // word, another rotation and multiplier. mixWord() is this loop's body, for a word cut by a chunk boundary.
      let h1 = this.h1;
      let h2 = this.h2;
      const words = (nl - pos) >>> 2;
      const stop = pos + words * 4;
      for (let i = pos; i < stop; i += 4) {
        let k = buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24);
        k = Math.imul(k, 0xcc9e2d51);
        k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
        h1 ^= k;
        h1 = (Math.imul((h1 << 13) | (h1 >>> 19), 5) + 0xe6546b64) | 0;
        h2 ^= k;
        h2 = (Math.imul((h2 << 19) | (h2 >>> 13), 0x5bd1e995) + 0x561ccd1b) | 0;
      }
      this.h1 = h1;
      this.h2 = h2;
      this.len += words * 4;
      // The line's last bytes (fewer than 4) wait in `tail` for the next chunk or the line's end.
      for (let i = stop; i < nl; i++) this.tail |= buf[i]! << (8 * (this.len++ & 3));
      if (nl === end) return;
      this.endLine();
      pos = nl + 1;
    }
  }

  /** Ends the input: a last line without newline is a row (as psql sends it), unless it is the terminator. */
  finish(): CopyHash {
    if (this.len > 0) this.endLine();
    const hex = (n: number) => n.toString(16).padStart(8, '0');
    return { rows: this.rows, hash: `c2:${hex(this.sum1)}${hex(this.sum2)}` };
  }

  /** A word cut by the previous chunk's end: completes it from buf[pos, nl) if it can; returns the new pos. */
  private completeWord(buf: Uint8Array, pos: number, nl: number): number {
    if ((this.len & 3) === 0) return pos;
    while (pos < nl && (this.len & 3) !== 0) this.tail |= buf[pos++]! << (8 * (this.len++ & 3));
    if ((this.len & 3) === 0) this.mixWord(true);
    return pos;
  }

  /** Mixes `tail` into both lanes and empties it: a whole word (`full`) as update()'s loop does, or murmur3's tail step. */
  private mixWord(full: boolean): void {
    let k = Math.imul(this.tail, 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    this.h1 ^= k;
    this.h2 ^= k;
    this.tail = 0;
    if (!full) return;
    this.h1 = (Math.imul((this.h1 << 13) | (this.h1 >>> 19), 5) + 0xe6546b64) | 0;
    this.h2 = (Math.imul((this.h2 << 19) | (this.h2 >>> 13), 0x5bd1e995) + 0x561ccd1b) | 0;
  }

  private endLine(): void {
    // `\.` or `\.\r` (0x5c 0x2e [0x0d]): the terminator, not a row.
    const terminator = (this.len === 2 && this.tail === 0x2e5c) || (this.len === 3 && this.tail === 0x0d2e5c);
    if (!terminator) {
      if ((this.len & 3) !== 0) this.mixWord(false);
      this.rows++;
      // The line's length goes into both lanes (murmur3's finalisation): a tail padded with zeros is not its NUL bytes.
      this.sum1 = (this.sum1 + CopyLineHasher.fmix32(this.h1 ^ this.len)) >>> 0;
      this.sum2 = (this.sum2 + CopyLineHasher.fmix32(this.h2 ^ this.len)) >>> 0;
    }
    this.h1 = 0x811c9dc5 | 0;
    this.h2 = 0x9747b28c | 0;
    this.len = 0;
    this.tail = 0;
  }
}

/** The hash of a whole buffer of COPY text (tests, small inputs). */
export function hashCopyText(text: Buffer | string): CopyHash {
  const h = new CopyLineHasher();
  h.update(typeof text === 'string' ? Buffer.from(text) : text);
  return h.finish();
}
