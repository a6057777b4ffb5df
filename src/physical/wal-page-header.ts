/**
 * The long page header that begins every WAL segment (XLogLongPageHeaderData in PostgreSQL's xlog_internal.h):
 * magic (2 bytes), info (2), timeline (4), page address (8), remaining length (4), padding (4), system identifier
 * (8), segment size (4), WAL block size (4) — 40 bytes, in the server's byte order (little-endian on the platforms
 * pgdrill runs on). It tells a segment's size without trusting its file size, and whether the file is the segment
 * its name says (page address = segment number × segment size) of the cluster the backup belongs to.
 */

/** Bytes of the long header read from each segment. */
export const LONG_HEADER_BYTES = 40;

/** XLP_LONG_HEADER in xlp_info. */
const XLP_LONG_HEADER = 0x0002;

/** A segment's long page header. */
export interface WalLongHeader {
  readonly magic: number;
  readonly timeline: number;
  readonly pageAddress: bigint;
  readonly systemIdentifier: string;
  readonly segmentSize: number;
  readonly blockSize: number;
}

/** Parse the first 40 bytes of a segment; why not when they are not a long page header. */
export function parseLongHeader(b: Buffer): WalLongHeader | { problem: string } {
  if (b.length < LONG_HEADER_BYTES) return { problem: `it is ${b.length} bytes long, shorter than a WAL page header` };
  const info = b.readUInt16LE(2);
  if ((info & XLP_LONG_HEADER) === 0) return { problem: 'its first page has no long header: it is not the start of a WAL segment' };
  const blockSize = b.readUInt32LE(36);
  if (blockSize < 1024 || blockSize > 65536 || (blockSize & (blockSize - 1)) !== 0) return { problem: `its header records a WAL block size of ${blockSize}: not a WAL segment` };
  return {
    magic: b.readUInt16LE(0),
    timeline: b.readUInt32LE(4),
    pageAddress: b.readBigUInt64LE(8),
    systemIdentifier: b.readBigUInt64LE(24).toString(),
    segmentSize: b.readUInt32LE(32),
    blockSize,
  };
}
