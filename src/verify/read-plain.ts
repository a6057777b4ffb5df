/**
 * One read of a plain dump (or a gzip-compressed one) for verify: the raw bytes are hashed (for SHA256SUMS) while
 * the decompressed text goes through the plain-dump scanner (inventory, COPY rows, trailer, refused content).
 * A gzip stream that is cut or damaged is reported, not thrown: whatever was read is still scanned.
 */
import { pipeline as pipelineCb, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { HashingStream } from '../backup/hashing-stream.js';
import { openRegularFile } from '../exec/input-file.js';
import { PlainDumpScanner } from '../scan/plain-dump-scanner.js';
import type { PlainScanOptions, PlainScanResult } from '../scan/types.js';

/** What reading a plain dump found. */
export interface PlainRead {
  readonly scan: PlainScanResult;
  /** sha256 of the file's bytes as stored (compressed, for .gz); null when the read stopped early. */
  readonly sha256: string | null;
  /** Size of the file as stored. */
  readonly fileBytes: number;
  /** Whether the (decompressed) text ends with a newline: a dump cut mid-line does not. */
  readonly endsWithNewline: boolean;
  /** Why the read stopped early (a damaged or cut gzip stream), or null. */
  readonly error: string | null;
}

/** Read a plain dump once; `gzip` decompresses on the fly; `scanOpts` says what the scanner lets through (default: nothing). */
export async function readPlainDump(path: string, gzip: boolean, scanOpts: PlainScanOptions = {}, signal?: AbortSignal): Promise<PlainRead> {
  const scanner = new PlainDumpScanner(scanOpts);
  const hasher = new HashingStream();
  let last = -1;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      try {
        if (chunk.length) last = chunk[chunk.length - 1]!;
        scanner.push(chunk);
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
  });
  let error: string | null = null;
  // A regular file only (never a link swapped in, never blocking on a FIFO): ConfigError, exit 2.
  const fh = await openRegularFile(path, 'the dump');
  try {
    const input = fh.createReadStream({ highWaterMark: 1 << 20 });
    if (gzip) await pipeline(input, hasher, createGunzip(), sink, { signal });
    else await pipeline(input, hasher, sink, { signal });
  } catch (err) {
    if (signal?.aborted) throw signal.reason ?? err;
    const e = err as NodeJS.ErrnoException;
    error = `${gzip ? 'gzip stream' : 'file'} could not be read to its end: ${e.message}${e.code ? ` (${e.code})` : ''}`;
  }
  return {
    scan: scanner.finish(),
    sha256: error ? null : await hasher.digest(),
    fileBytes: hasher.bytes,
    endsWithNewline: last === 0x0a,
    error,
  };
}

/** How much of a plain dump's text `peekCreatedDatabase` reads: pg_dump --create writes the entry within the first lines. */
const PEEK_BYTES = 256 * 1024;

/**
 * The database a plain dump made with `pg_dump --create` creates — its `-- Name: X; Type: DATABASE` header, written
 * near the top — or null. Reads at most the first 256 KiB of text; a damaged file gives null (the full read reports it).
 */
export async function peekCreatedDatabase(path: string, gzip: boolean): Promise<string | null> {
  const file = (await openRegularFile(path, 'the dump')).createReadStream({ highWaterMark: 64 * 1024 });
  const input = gzip ? pipelineCb(file, createGunzip(), () => {}) : file; // pipeline: a read error of the file is handled too
  let text = '';
  try {
    for await (const chunk of input) {
      text += (chunk as Buffer).toString('utf8');
      if (text.length >= PEEK_BYTES) break;
    }
  } catch {
    /* a damaged stream: no name from it */
  } finally {
    file.destroy();
    input.destroy();
  }
  return /^-- Name: (.+?); Type: DATABASE; Schema: -;/m.exec(text)?.[1] ?? null;
}
