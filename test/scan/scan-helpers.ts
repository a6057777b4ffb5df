/** Small helpers shared by the scanner tests: feeding text in chosen chunk sizes and reading sample dumps. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PlainDumpScanner } from '../../src/scan/plain-dump-scanner.js';
import type { PlainScanOptions, PlainScanResult, ScanFinding } from '../../src/scan/types.js';

/** The shared sample databases (real pg_dump output, see /work/shared/data/SOURCES.md). */
export const DATA_DIR = process.env.PGDRILL_SAMPLE_DATA ?? '/work/shared/data';
export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

export function sample(path: string): Buffer {
  return readFileSync(join(DATA_DIR, path));
}

export function fixture(name: string): Buffer {
  return readFileSync(join(FIXTURES, name));
}

/** Chunk sizes: a number for fixed-size chunks, or a seed for pseudo-random sizes between 1 and 97 bytes. */
export type Chunking = number | { seed: number };

/** Scans `input` fed in chunks (default: one chunk). */
export function scan(input: string | Buffer, opts?: PlainScanOptions, chunking?: Chunking): PlainScanResult {
  const buf = typeof input === 'string' ? Buffer.from(input) : input;
  const s = new PlainDumpScanner(opts);
  if (chunking === undefined) {
    s.push(buf);
  } else if (typeof chunking === 'number') {
    for (let off = 0; off < buf.length; off += chunking) s.push(buf.subarray(off, off + chunking));
  } else {
    let x = chunking.seed >>> 0 || 1;
    for (let off = 0; off < buf.length;) {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; // xorshift32: reproducible sizes
      const n = 1 + (x % 97);
      s.push(buf.subarray(off, off + n));
      off += n;
    }
  }
  return s.finish();
}

/** Findings as `kind@line` strings, for compact assertions. */
export function kinds(findings: readonly ScanFinding[]): string[] {
  return findings.map((f) => `${f.kind}@${f.line}`);
}

/** The COPY blocks as counted (table, rows, terminated, line), without their column lists and content hashes (test/unit/copy-hash.test.ts holds those). */
export function blocksOf(r: PlainScanResult): { table: string; rows: number; terminated: boolean; line: number }[] {
  return r.copyBlocks.map(({ table, rows, terminated, line }) => ({ table, rows, terminated, line }));
}
