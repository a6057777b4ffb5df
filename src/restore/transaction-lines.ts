/**
 * Keeping a plain dump's restore one transaction. pg_dump wraps large-object data in its own `BEGIN;` … `COMMIT;`
 * lines; under `psql --single-transaction` its COMMIT ends the restore's transaction early ("WARNING: there is no
 * transaction in progress" at the end): a later failure then leaves everything before it committed, and every
 * object after it becomes a difference of its own. The scanner (src/scan/plain-dump-scanner.ts) marks exactly those
 * lines — whole top-level lines of a `Type: BLOBS` entry, never text in a literal, a comment or COPY data — and the
 * restore drops their text (the newline stays, so psql's line numbers stay the dump's). Inside the one transaction
 * the large-object descriptors pg_dump opens stay valid, as they do in its own BEGIN block.
 *
 * Only for a restore in one transaction: replayed statement by statement, the descriptor `lo_open` returns would
 * be closed at the end of its own statement, before `lowrite` uses it.
 */
import { Transform, type TransformCallback } from 'node:stream';

const NEWLINE = 0x0a;

/** Drops the text of chosen lines from a byte stream cut anywhere, keeping their newlines. */
export class LineBlanker {
  /** 1-based number of the line the next byte belongs to. */
  private line = 1;
  /** Lines blanked so far. */
  blanked = 0;
  private lastBlanked = 0;

  /** @param blank whether line `n` (1-based) is to be blanked; asked when the line's first bytes pass. */
  constructor(private readonly blank: (line: number) => boolean) {}

  /** The bytes of `buf` with the chosen lines' text dropped (`buf` itself when nothing was dropped). */
  rewrite(buf: Buffer): Buffer {
    let pieces: Buffer[] | null = null;
    let keptFrom = 0;
    let pos = 0;
    for (;;) {
      const nl = buf.indexOf(NEWLINE, pos);
      const end = nl === -1 ? buf.length : nl;
      if (end > pos && this.blank(this.line)) {
        (pieces ??= []).push(buf.subarray(keptFrom, pos));
        keptFrom = end;
        if (this.lastBlanked !== this.line) {
          this.lastBlanked = this.line;
          this.blanked++;
        }
      }
      if (nl === -1) break;
      this.line++;
      pos = nl + 1;
    }
    if (!pieces) return buf;
    pieces.push(buf.subarray(keptFrom));
    return Buffer.concat(pieces);
  }
}

/** A Transform that blanks the given lines (ascending or not) of the stream that passes through it. */
export function blankLines(lines: readonly number[]): Transform & { readonly blanker: LineBlanker } {
  const set = new Set(lines);
  const blanker = new LineBlanker((n) => set.has(n));
  const t = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      cb(null, blanker.rewrite(chunk));
    },
  });
  return Object.assign(t, { blanker });
}
