/**
 * The data lines of one `COPY … FROM stdin` block, counted on raw bytes. psql (copy.c, handleCopyIn) ends the
 * block at a line that is exactly `\.` followed by `\n` or `\r\n`, checked only at the start of a line, or at end
 * of input; nothing in between is SQL or a backslash command. This is the hot path of a scan, so it works on
 * Buffers with `indexOf` and never decodes text.
 */

/** Where a block stands after a chunk. */
export interface CopyDataProgress {
  /** Data rows so far (lines before the terminator). */
  readonly rows: number;
  /** Newlines consumed so far, including the terminator's. */
  readonly newlines: number;
  /** True once the `\.` line was seen. */
  readonly terminated: boolean;
}

const LF = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;
const DOT = 0x2e;

/** Counts one COPY block across arbitrary chunk boundaries. */
export class CopyDataCounter implements CopyDataProgress {
  rows = 0;
  newlines = 0;
  terminated = false;
  /**
   * How much of a terminator the current line has shown: -1 the line is data, 0 at the start of a line,
   * 1 saw `\`, 2 saw `\.`, 3 saw `\.\r`.
   */
  private tpos = 0;

  /**
   * Consumes buf[start, buf.length). Returns the index just after the terminator line if the block ended in this
   * chunk (the rest is SQL again), or -1 if the whole chunk was data.
   */
  scan(buf: Buffer, start: number): number {
    const end = buf.length;
    let i = start;
    let tpos = this.tpos;
    let rows = this.rows;
    let newlines = this.newlines;
    let done = -1;
    outer: while (i < end) {
      if (tpos >= 0) {
        // Resolve a possible terminator one byte at a time (only at line starts, so rarely).
        const b = buf[i];
        if (b === LF) {
          if (tpos >= 2) {
            newlines++;
            done = i + 1;
            break outer;
          }
          rows++; // an empty line or a lone `\` is a data row
          newlines++;
          tpos = 0;
          i++;
          continue;
        }
        if (tpos === 0 && b === BACKSLASH) { tpos = 1; i++; continue; }
        if (tpos === 1 && b === DOT) { tpos = 2; i++; continue; }
        if (tpos === 2 && b === CR) { tpos = 3; i++; continue; }
        tpos = -1; // an ordinary data line; `b` is not a newline, scan on from it
      }
      const nl = buf.indexOf(LF, i);
      if (nl === -1) break; // the rest of the chunk is data
      rows++;
      newlines++;
      i = nl + 1;
      // Fast terminator check when the next three bytes are here; otherwise resolve byte by byte.
      if (i + 2 < end) {
        if (buf[i] === BACKSLASH && buf[i + 1] === DOT) {
          if (buf[i + 2] === LF) {
            newlines++;
            done = i + 3;
            break;
          }
          tpos = 0;
        }
      } else {
        tpos = 0;
      }
    }
    this.rows = rows;
    this.newlines = newlines;
    if (done !== -1) {
      this.terminated = true;
      this.tpos = 0;
      return done;
    }
    this.tpos = tpos;
    return -1;
  }

  /** The input ended inside the block. psql treats end of input as the end of the data; a final `\.` without newline still terminates. */
  finishAtEndOfInput(): void {
    if (this.terminated) return;
    if (this.tpos >= 2) {
      this.terminated = true;
      return;
    }
    if (this.tpos === -1 || this.tpos === 1) this.rows++; // a last line without newline is still sent as data
  }
}
