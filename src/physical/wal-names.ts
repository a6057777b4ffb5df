/**
 * The names and positions of PostgreSQL's WAL: LSNs ('0/3000028'), segment numbers, and the file names an archive
 * holds (`archive_command = 'cp %p DIR/%f'`): segments `TTTTTTTTXXXXXXXXYYYYYYYY`, `.partial` tails of a timeline,
 * `.backup` history files, `TTTTTTTT.history` files, any of them compressed. Names are matched strictly (upper-case
 * hex, exactly as PostgreSQL writes them): anything else in an archive directory is not WAL and is never read.
 */

/** Compressions a segment or history file may carry in an archive (its suffix). */
export const COMPRESSIONS = ['gz', 'zst', 'lz4', 'bz2', 'xz'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/** 16 MiB: initdb's default `--wal-segsize`. */
export const DEFAULT_SEGMENT_SIZE = 16 * 1024 * 1024;

/** What a file name in a WAL archive is. */
export type WalFileName =
  | { readonly kind: 'segment' | 'partial'; readonly timeline: number; readonly log: number; readonly seg: number; readonly compression: Compression | null }
  | { readonly kind: 'history'; readonly timeline: number; readonly compression: Compression | null }
  | { readonly kind: 'backup'; readonly timeline: number; readonly log: number; readonly seg: number; readonly offset: number; readonly compression: Compression | null };

const COMP = `(?:\\.(${COMPRESSIONS.join('|')}))?`;
const SEGMENT_RE = new RegExp(`^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})(\\.partial)?${COMP}$`);
const HISTORY_RE = new RegExp(`^([0-9A-F]{8})\\.history${COMP}$`);
const BACKUP_RE = new RegExp(`^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})\\.([0-9A-F]{8})\\.backup${COMP}$`);

/** Parse an archive file name; null when it is not one PostgreSQL writes (timeline 0 included: it does not exist). */
export function parseWalFileName(name: string): WalFileName | null {
  let m = SEGMENT_RE.exec(name);
  if (m) {
    const timeline = parseInt(m[1]!, 16);
    if (timeline === 0) return null;
    return { kind: m[4] ? 'partial' : 'segment', timeline, log: parseInt(m[2]!, 16), seg: parseInt(m[3]!, 16), compression: (m[5] as Compression | undefined) ?? null };
  }
  m = HISTORY_RE.exec(name);
  if (m) {
    const timeline = parseInt(m[1]!, 16);
    return timeline === 0 ? null : { kind: 'history', timeline, compression: (m[2] as Compression | undefined) ?? null };
  }
  m = BACKUP_RE.exec(name);
  if (m) {
    const timeline = parseInt(m[1]!, 16);
    if (timeline === 0) return null;
    return { kind: 'backup', timeline, log: parseInt(m[2]!, 16), seg: parseInt(m[3]!, 16), offset: parseInt(m[4]!, 16), compression: (m[5] as Compression | undefined) ?? null };
  }
  return null;
}

/** '0/3000028' → 0x3000028n. @throws RangeError on anything else (callers validate user input first with isLsn). */
export function parseLsn(lsn: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn);
  if (!m) throw new RangeError(`not an LSN: ${JSON.stringify(lsn)} (expected two hex numbers like 0/3000028)`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** Whether `text` is an LSN as PostgreSQL prints it ('16/B374D848'). */
export function isLsn(text: string): boolean {
  return /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/.test(text);
}

/** 0x3000028n → '0/3000028' (PostgreSQL's spelling: upper-case hex, no leading zeros). */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** Whether `size` is a segment size initdb accepts: a power of two from 1 MiB to 1 GiB. */
export function isValidSegmentSize(size: number): boolean {
  return Number.isInteger(size) && size >= 1 << 20 && size <= 1 << 30 && (size & (size - 1)) === 0;
}

/** Segments per "xlogid" (the XXXXXXXX part of a name): 4 GiB / segment size. */
function segmentsPerId(segmentSize: number): bigint {
  return 0x100000000n / BigInt(segmentSize);
}

/** The segment number holding the byte at `lsn` (XLByteToSeg). */
export function segmentOf(lsn: bigint, segmentSize: number): bigint {
  return lsn / BigInt(segmentSize);
}

/** The segment holding the byte before `lsn` (XLByteToPrevSeg): where a record ending exactly at `lsn` ends. */
export function segmentBefore(lsn: bigint, segmentSize: number): bigint {
  return lsn === 0n ? 0n : (lsn - 1n) / BigInt(segmentSize);
}

/** A segment's number from its name's two halves. */
export function segmentNumber(log: number, seg: number, segmentSize: number): bigint {
  return BigInt(log) * segmentsPerId(segmentSize) + BigInt(seg);
}

/** The file name of segment `segno` on `timeline` (XLogFileName). */
export function segmentFileName(timeline: number, segno: bigint, segmentSize: number): string {
  const per = segmentsPerId(segmentSize);
  return hex8(timeline) + hex8(Number(segno / per)) + hex8(Number(segno % per));
}

/** The history file name of `timeline` ('00000002.history'). */
export function historyFileName(timeline: number): string {
  return `${hex8(timeline)}.history`;
}

function hex8(n: number): string {
  return n.toString(16).toUpperCase().padStart(8, '0');
}
