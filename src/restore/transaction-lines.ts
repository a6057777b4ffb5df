/**
 * Keeping a plain dump's restore one transaction. pg_dump wraps large-object data in its own `BEGIN;` … `COMMIT;`
 * lines; under `psql --single-transaction` its COMMIT ends the restore's transaction early ("WARNING: there is no
 * transaction in progress" at the end): a later failure then leaves everything before it committed, and every
 * object after it becomes a difference of its own. The scanner (src/scan/plain-dump-scanner.ts) lists exactly those
 * lines — whole top-level lines of a `Type: BLOBS` entry, never text in a literal, a comment or COPY data — with
 * their bytes, and the restore drops those bytes (the newline stays, so psql's line numbers stay the dump's).
 * Inside the one transaction the large-object descriptors pg_dump opens stay valid, as in its own BEGIN block.
 *
 * By byte offset, not by line: a chunk no listed range touches passes as it is, with no per-line work on the hot
 * path of the restore (a dump of millions of COPY lines has a handful of these).
 *
 * Only for a restore in one transaction: replayed statement by statement, the descriptor `lo_open` returns would
 * be closed at the end of its own statement, before `lowrite` uses it.
 */
import { Transform, type TransformCallback } from 'node:stream';

/** Bytes `[start, end)` of the input to drop. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** Drops chosen byte ranges from a byte stream cut anywhere. */
export class RangeBlanker {
  /** Input bytes seen so far (the offset of the next chunk's first byte). */
  private offset = 0;
  /** Per list, the first range that may still touch the input. */
  private readonly next: number[];
  /** Ranges dropped (wholly passed) so far. */
  dropped = 0;

  /**
   * @param lists each ascending, not overlapping (nor overlapping another list's); each may grow while the blanker
   *   works (the overlapped restore's scanner adds a line's range by the time the line's bytes are passed on).
   */
  private readonly lists: readonly (readonly ByteRange[])[];

  constructor(...lists: readonly (readonly ByteRange[])[]) {
    this.lists = lists;
    this.next = lists.map(() => 0);
  }

  /** The list whose next range starts first, or -1 when none is left. */
  private first(): number {
    let best = -1;
    for (let i = 0; i < this.lists.length; i++) {
      const r = this.lists[i]![this.next[i]!];
      if (r && (best === -1 || r.start < this.lists[best]![this.next[best]!]!.start)) best = i;
    }
    return best;
  }

  /** The bytes of `buf` less the listed ranges (`buf` itself when none touches it). */
  rewrite(buf: Buffer): Buffer {
    const from = this.offset;
    const to = from + buf.length;
    this.offset = to;
    let pieces: Buffer[] | null = null;
    let kept = from;
    for (let li = this.first(); li !== -1; li = this.first()) {
      const r = this.lists[li]![this.next[li]!]!;
      if (r.start >= to) break;
      if (r.end > from) {
        pieces ??= [];
        if (r.start > kept) pieces.push(buf.subarray(kept - from, r.start - from));
        const dropTo = Math.max(kept, Math.min(r.end, to));
        // The newlines of a dropped range stay (a whole COPY block held back), so psql's line numbers stay the dump's.
        const newlines = countNewlines(buf, Math.max(kept, r.start) - from, dropTo - from);
        if (newlines) pieces.push(Buffer.alloc(newlines, 0x0a));
        kept = dropTo;
      }
      if (r.end > to) break; // continues into the next chunk
      this.next[li] = this.next[li]! + 1;
      this.dropped++;
    }
    if (!pieces) return buf;
    if (kept < to) pieces.push(buf.subarray(kept - from));
    return Buffer.concat(pieces);
  }
}

/** A Transform that drops the given byte ranges (ascending) of the stream that passes through it. */
export function blankRanges(ranges: readonly ByteRange[]): Transform {
  const blanker = new RangeBlanker(ranges);
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      cb(null, blanker.rewrite(chunk));
    },
  });
}

function countNewlines(buf: Buffer, from: number, to: number): number {
  let n = 0;
  for (let i = buf.indexOf(0x0a, from); i !== -1 && i < to; i = buf.indexOf(0x0a, i + 1)) n++;
  return n;
}
