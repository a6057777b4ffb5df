/**
 * Is this the start of something pg_dump wrote? A plain dump (also gzipped) carries pg_dump's header line
 * `-- PostgreSQL database dump` at its top; custom archives start with `PGDMP`; tar archives hold `toc.dat` first.
 * Anything else — random bytes, a text file, a zip, an empty file, a dump compressed with something pgdrill does not
 * read — is not a dump, and `verify` says so (exit 2) before it creates a run directory, instead of drilling it and
 * recording a FAIL that would turn `status` red for a database that was never backed up into that file.
 */

/** How much of a plain dump's text is searched for pg_dump's header: wrappers may put a few comment lines first. */
export const HEADER_SEARCH_BYTES = 64 * 1024;

/** The line pg_dump (and pg_restore -f) writes at the top of every plain dump; pg_dumpall writes the cluster form. */
const HEADER_LINE = /^-- PostgreSQL database (?:cluster )?dump\r?$/m;

/** How every plain dump starts: a file that is a (non-empty) prefix of this is a dump cut short, not something else. */
const CANONICAL_START = '--\n-- PostgreSQL database dump\n--\n';

/** Formats that are not pg_dump's but that a backup is often wrapped in: what they are and how to unwrap them. */
const FOREIGN_MAGIC: readonly { readonly bytes: readonly number[]; readonly what: string }[] = [
  { bytes: [0x50, 0x4b, 0x03, 0x04], what: 'a zip archive (unzip it and verify the dump inside)' },
  { bytes: [0x50, 0x4b, 0x05, 0x06], what: 'an empty zip archive' },
  { bytes: [0x42, 0x5a, 0x68], what: 'bzip2-compressed data (pgdrill reads gzip only: bunzip2 it first)' },
  { bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], what: 'xz-compressed data (pgdrill reads gzip only: unxz it first)' },
  { bytes: [0x28, 0xb5, 0x2f, 0xfd], what: 'zstd-compressed data (pgdrill reads gzip only: zstd -d it first)' },
  { bytes: [0x04, 0x22, 0x4d, 0x18], what: 'lz4-compressed data (pgdrill reads gzip only: lz4 -d it first)' },
  { bytes: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c], what: 'a 7-Zip archive (extract it and verify the dump inside)' },
];

/** True when `text` (the first bytes of a plain dump, decompressed) holds pg_dump's header, or is a dump cut inside it. */
export function hasPlainHeader(text: Buffer): boolean {
  if (text.length === 0) return false;
  const s = text.subarray(0, HEADER_SEARCH_BYTES).toString('latin1').replace(/^\xef\xbb\xbf/, '');
  if (HEADER_LINE.test(s)) return true;
  const lf = s.replace(/\r\n/g, '\n');
  return lf.length > 0 && lf.length < CANONICAL_START.length && CANONICAL_START.startsWith(lf);
}

/** What `head` (a file's first bytes) looks like, for the message: empty, a known foreign format, binary, or text. */
export function describeContent(head: Buffer, size: number): string {
  if (size === 0) return 'it is empty (0 bytes)';
  const magic = FOREIGN_MAGIC.find((m) => m.bytes.every((b, i) => head[i] === b));
  if (magic) return `it is ${magic.what}`;
  const sample = head.subarray(0, 512);
  const binary = sample.includes(0) || sample.filter((b) => b < 0x09 || (b > 0x0d && b < 0x20)).length > sample.length / 10;
  if (binary) return `it is binary data (${size} bytes, starting ${[...head.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ')})`;
  const first = head.toString('utf8').replace(/^\ufeff/, '').split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  return `it is text whose first line is "${printable(first.slice(0, 80))}${first.length > 80 ? '…' : ''}"`;
}

/** Control characters shown as \xNN, so that a crafted file cannot move the terminal's cursor. */
function printable(s: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this escapes
  return s.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** The message of a file that is not a dump: what was looked for, where, what was found, and what verify takes. */
export function notADumpMessage(path: string, found: string, compressed = false): string {
  return `${path} is not a pg_dump output: no header — looked for pg_dump's line "-- PostgreSQL database dump" in the first ` +
    `${HEADER_SEARCH_BYTES / 1024} KiB of its text${compressed ? ' (after gunzip)' : ''}, and for the magic bytes of a custom archive ("PGDMP"), ` +
    `gzip or tar at its start; ${found}. verify takes what pg_dump writes: plain SQL (also .sql.gz), custom (-Fc), ` +
    'directory (-Fd) or tar (-Ft). Nothing was drilled and no run was recorded.';
}
