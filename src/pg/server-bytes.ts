import { isAscii } from 'node:buffer';
import { Transform } from 'node:stream';

/**
 * Text from a SQL_ASCII database, carried losslessly. Such a database stores whatever bytes it was sent: a name or a
 * value can be UTF-8, LATIN1, several encodings at once. pgdrill's sessions to it read and write bytes unconverted
 * (client_encoding SQL_ASCII, see byte-wire.ts) and turn them into JS strings the way Python's "surrogateescape"
 * does: every valid UTF-8 sequence becomes its character, every other byte ≥ 0x80 the lone surrogate U+DC80–U+DCFF.
 * Both directions are exact, so a name read from the catalog and written back into SQL (a count, a hash query)
 * names the same object; UTF-8 names read as they always did; and an escaped byte can never be confused with a
 * character of pgdrill's own text (no text holds lone surrogates), so reports show it as `\xNN` (`showBytes`).
 */

/** Length of the valid UTF-8 sequence at `i`, or 0 when the byte there does not start one (Unicode table 3-7). */
function utf8SequenceAt(b: Uint8Array, i: number, end: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < end && b[i + k]! >= lo && b[i + k]! <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    const ok = c === 0xe0 ? cont(1, 0xa0) : c === 0xed ? cont(1, 0x80, 0x9f) : cont(1);
    return ok && cont(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const ok = c === 0xf0 ? cont(1, 0x90) : c === 0xf4 ? cont(1, 0x80, 0x8f) : cont(1);
    return ok && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/** Bytes as stored → string: valid UTF-8 as characters, any other byte ≥ 0x80 as U+DC80–U+DCFF. */
export function decodeServerBytes(b: Buffer, start = 0, end = b.length): string {
  if (isAscii(b.subarray(start, end))) return b.toString('latin1', start, end);
  let out = '';
  let run = start; // start of the pending valid run
  let i = start;
  while (i < end) {
    const n = utf8SequenceAt(b, i, end);
    if (n) {
      i += n;
      continue;
    }
    out += b.toString('utf8', run, i) + String.fromCharCode(0xdc00 + b[i]!);
    run = ++i;
  }
  return out + b.toString('utf8', run, end);
}

// `u`: a lone surrogate only, never the low half of a real pair (U+10080 is D800 DC80)
const ESCAPED = /[\udc80-\udcff]/u;

/**
 * String → bytes for a SQL_ASCII server: characters as UTF-8 (what a UTF-8 client sends), each escaped byte
 * (a lone U+DC80–U+DCFF from decodeServerBytes) as that byte.
 */
export function encodeServerText(s: string): Buffer {
  if (!ESCAPED.test(s)) return Buffer.from(s, 'utf8');
  const parts: Buffer[] = [];
  let run = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      i++; // a real pair (a character beyond U+FFFF): both halves stay in the run
      continue;
    }
    if (c >= 0xdc80 && c <= 0xdcff) {
      parts.push(Buffer.from(s.slice(run, i), 'utf8'), Buffer.of(c - 0xdc00));
      run = i + 1;
    }
  }
  parts.push(Buffer.from(s.slice(run), 'utf8'));
  return Buffer.concat(parts);
}

/** Does the string carry bytes that are not UTF-8 (from a SQL_ASCII database)? */
export function hasEscapedBytes(s: string): boolean {
  return ESCAPED.test(s);
}

/**
 * For reports and logs: each escaped byte as `\xNN` (lowercase hex), everything else as it is. Only strings read from
 * a SQL_ASCII database hold such bytes, and any other string comes back unchanged.
 */
export function showBytes(s: string): string {
  if (!ESCAPED.test(s)) return s;
  return s.replace(/[\udc80-\udcff]/gu, (c) => `\\x${(c.charCodeAt(0) - 0xdc00).toString(16).padStart(2, '0')}`);
}

/** decodeServerBytes for bytes that come in chunks cut anywhere (a dump read from a file). */
export function serverBytesDecoder(): { write(bytes: Buffer): string; end(): string } {
  let pending: Buffer = Buffer.alloc(0);
  return {
    write(bytes) {
      const b = pending.length ? Buffer.concat([pending, bytes]) : bytes;
      // Keep the tail when it could be the start of a UTF-8 sequence the next chunk completes.
      let keep = 0;
      for (let k = 1; k <= Math.min(3, b.length); k++) {
        const c = b[b.length - k]!;
        if (c < 0x80 || c >= 0xf5) break;
        if (c >= 0xc0) {
          const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
          if (need > k) keep = k;
          break;
        }
      }
      pending = Buffer.from(b.subarray(b.length - keep));
      return decodeServerBytes(b, 0, b.length - keep);
    },
    end() {
      const rest = decodeServerBytes(pending);
      pending = Buffer.alloc(0);
      return rest;
    },
  };
}

/** A stream of bytes → a stream of text, through `decoder` (serverBytesDecoder by default); for readline. */
export function decodingStream(decoder: { write(bytes: Buffer): string; end(): string } = serverBytesDecoder()): Transform {
  return new Transform({
    readableObjectMode: true,
    transform: (chunk: Buffer, _enc, done) => done(null, decoder.write(chunk)),
    flush: (done) => done(null, decoder.end() || undefined),
  });
}
