/**
 * One 512-byte tar header (POSIX ustar, with its name prefix), read as data: callers decide what a damaged header
 * means (verify reports it; the server installer refuses the package). Shared by verify's tar archive check and
 * the server installer's unpacker.
 */

/** A tar header's fields; `size` and `checksumOk` are null/false when the header is damaged. */
export interface TarHeader {
  /** The member's name, with the ustar prefix joined in front. */
  readonly name: string;
  /** The type flag ('0' or '\0' a regular file, '5' a directory, '2' a symlink, 'x' a pax header, …). */
  readonly type: string;
  /** The body's size in bytes, or null when the size field is not octal. */
  readonly size: number | null;
  /** The octal mode, or null when unreadable. */
  readonly mode: number | null;
  /** Whether the stored checksum matches the header's bytes. */
  readonly checksumOk: boolean;
}

function field(h: Buffer, from: number, len: number): string {
  const b = h.subarray(from, from + len);
  const nul = b.indexOf(0);
  return b.subarray(0, nul < 0 ? len : nul).toString('utf8');
}

function octal(text: string): number | null {
  const t = text.trim();
  return /^[0-7]+$/.test(t) ? parseInt(t, 8) : null;
}

/** What a non-regular member is, by its type flag, for messages. */
export const TAR_TYPE_NAMES: Readonly<Record<string, string>> = {
  '1': 'a hard link', '2': 'a symbolic link', '3': 'a character device', '4': 'a block device', '5': 'a directory', '6': 'a FIFO',
  '7': 'a contiguous file', x: 'a pax header', g: 'a global pax header', L: 'a GNU long name', K: 'a GNU long link name',
};

/** Whether a header block is all zeros (the end of the archive). */
export function isEndBlock(h: Buffer): boolean {
  return h.every((b) => b === 0);
}

/** Read one 512-byte header block. */
export function parseTarHeader(h: Buffer): TarHeader {
  let actual = 0;
  for (let i = 0; i < 512; i++) actual += i >= 148 && i < 156 ? 0x20 : h[i]!;
  const prefix = h.subarray(257, 262).toString('latin1') === 'ustar' ? field(h, 345, 155) : '';
  const name = field(h, 0, 100);
  return {
    name: prefix ? `${prefix}/${name}` : name,
    type: String.fromCharCode(h[156]!),
    size: octal(field(h, 124, 12)),
    mode: octal(field(h, 100, 8)),
    checksumOk: octal(field(h, 148, 8)) === actual,
  };
}

/** The bytes a member's body takes in the archive (its size rounded up to whole blocks). */
export function paddedSize(size: number): number {
  return Math.ceil(size / 512) * 512;
}
