/**
 * pgdrill's own reader of a directory archive's `toc.dat` (the header and table of contents pg_dump writes, as
 * PostgreSQL's pg_backup_archiver.c ReadHead/ReadToc and pg_backup_directory.c _ReadExtraToc read them), for one
 * purpose: to learn which file names pg_restore would open *before* it runs. `pg_restore --list` does not print
 * them, and a hostile toc.dat can name `../../root/secret` while a decoy `1234.dat` keeps every per-entry check green.
 *
 * Only what is needed is kept (dump id, desc, file name, database name); every other string is skipped without
 * being allocated, so a hostile length cannot make pgdrill allocate gigabytes.
 */
import type { FileHandle } from 'node:fs/promises';

/** One TOC entry, as far as file names go. */
export interface TocFileEntry {
  readonly dumpId: number;
  /** e.g. 'TABLE DATA', 'BLOBS' (null when implausibly long). */
  readonly desc: string | null;
  /** The data file name pg_dump recorded, or null (no data). */
  readonly filename: string | null;
}

/** What `readDirectoryToc` found. */
export interface DirectoryToc {
  /** Archive version, e.g. '1.14.0'. */
  readonly version: string;
  /** Archive version as one number (major*65536 + minor*256 + rev), to compare with `archiveVersion(1, 16)`. */
  readonly versionNumber: number;
  readonly dbname: string | null;
  readonly entries: readonly TocFileEntry[];
}

/** The archive version as PostgreSQL encodes it (MAKE_ARCHIVE_VERSION). */
export const archiveVersion = (major: number, minor: number, rev = 0): number => (major * 256 + minor) * 256 + rev;

/** The newest archive version whose layout this reader knows (PostgreSQL 17 and 18 write 1.16). */
export const NEWEST_KNOWN = archiveVersion(1, 16, 255);

/** A toc.dat this reader cannot accept; `message` says where and why. */
export class TocFormatError extends Error {}

/** Longest string kept (desc, file name, dbname): longer ones are skipped and reported as implausible. */
const KEEP_MAX = 4096;

/** Buffered reads from a file handle; positions never go back. */
class Reader {
  private buf = Buffer.alloc(0);
  private pos = 0;
  private offset: number; // file offset of buf[0]
  constructor(private readonly fh: FileHandle, start = 0) {
    this.offset = start;
  }

  get at(): number {
    return this.offset + this.pos;
  }

  private async fill(n: number): Promise<void> {
    while (this.buf.length - this.pos < n) {
      const chunk = Buffer.allocUnsafe(Math.max(64 * 1024, n));
      const { bytesRead } = await this.fh.read(chunk, 0, chunk.length, this.offset + this.buf.length);
      if (bytesRead === 0) throw new TocFormatError(`toc.dat ends early, at byte ${this.offset + this.buf.length}: the table of contents is truncated`);
      this.offset += this.pos;
      this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk.subarray(0, bytesRead)]);
      this.pos = 0;
    }
  }

  async bytes(n: number): Promise<Buffer> {
    await this.fill(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  async byte(): Promise<number> {
    return (await this.bytes(1))[0]!;
  }

  /** Skip n bytes without keeping them. */
  async skip(n: number): Promise<void> {
    const inBuf = this.buf.length - this.pos;
    if (n <= inBuf) {
      this.pos += n;
      return;
    }
    const target = this.at + n;
    const { size } = await this.fh.stat();
    if (target > size) throw new TocFormatError(`toc.dat names a ${n}-byte string at byte ${this.at}, beyond its end (${size} bytes): the table of contents is damaged`);
    this.offset = target;
    this.buf = Buffer.alloc(0);
    this.pos = 0;
  }
}

/** Integers and strings as pg_dump writes them: a sign byte, then `intSize` bytes, least significant first. */
class Fields {
  constructor(private readonly r: Reader, private readonly intSize: number) {}

  async int(): Promise<number> {
    const sign = await this.r.byte();
    const b = await this.r.bytes(this.intSize);
    let v = 0;
    for (let i = b.length - 1; i >= 0; i--) v = v * 256 + b[i]!;
    return sign ? -v : v;
  }

  /** A string kept when at most KEEP_MAX bytes (null for NULL; undefined when longer, skipped). */
  async str(): Promise<string | null | undefined> {
    const len = await this.int();
    if (len < 0) return null;
    if (len > KEEP_MAX) {
      await this.r.skip(len);
      return undefined;
    }
    return (await this.r.bytes(len)).toString('utf8');
  }

  async skipStr(): Promise<boolean> {
    const len = await this.int();
    if (len < 0) return false;
    await this.r.skip(len);
    return true;
  }
}

/** The header pg_dump writes at the start of a custom archive and of toc.dat (WriteHead). */
export interface ArchiveHead {
  /** Archive version, e.g. '1.14.0'. */
  readonly version: string;
  readonly versionNumber: number;
  /** Whether this reader knows the version's layout (the fields below are null when not). */
  readonly known: boolean;
  readonly dbname: string | null;
  /** "Dumped from database version" and "Dumped by pg_dump version" (since archive 1.10). */
  readonly dumpedFrom: string | null;
  readonly dumpedBy: string | null;
}

async function readHead(r: Reader, what: string): Promise<{ head: ArchiveHead; fields: Fields | null }> {
  if ((await r.bytes(5)).toString('latin1') !== 'PGDMP') throw new TocFormatError(`${what} does not start with PGDMP: not a pg_dump table of contents`);
  const vmaj = await r.byte();
  const vmin = await r.byte();
  const vrev = vmaj > 1 || (vmaj === 1 && vmin > 0) ? await r.byte() : 0;
  const version = archiveVersion(vmaj, vmin, vrev);
  const versionText = `${vmaj}.${vmin}.${vrev}`;
  const unknown = { version: versionText, versionNumber: version, known: false, dbname: null, dumpedFrom: null, dumpedBy: null };
  if (version < archiveVersion(1, 0) || version > NEWEST_KNOWN) return { head: unknown, fields: null };
  const intSize = await r.byte();
  if (intSize < 1 || intSize > 8) throw new TocFormatError(`${what} declares ${intSize}-byte integers: the table of contents is damaged`);
  if (version >= archiveVersion(1, 7)) await r.byte(); // offset size: directory archives store no data offsets
  await r.byte(); // format (a directory archive writes "tar" here)
  const f = new Fields(r, intSize);
  if (version >= archiveVersion(1, 15)) await r.byte(); // compression algorithm
  else if (version >= archiveVersion(1, 4)) await f.int(); // compression level
  else if (version >= archiveVersion(1, 2)) await r.byte();
  let dbname: string | null = null;
  if (version >= archiveVersion(1, 4)) {
    for (let i = 0; i < 7; i++) await f.int(); // creation time
    dbname = (await f.str()) ?? null;
  }
  let dumpedFrom: string | null = null;
  let dumpedBy: string | null = null;
  if (version >= archiveVersion(1, 10)) {
    dumpedFrom = (await f.str()) ?? null;
    dumpedBy = (await f.str()) ?? null;
  }
  return { head: { ...unknown, known: true, dbname, dumpedFrom, dumpedBy }, fields: f };
}

/**
 * Read only the header of an archive (a custom archive, a toc.dat, or a tar archive's toc.dat at `start`): an
 * archive of an unknown (newer) version still gives its version.
 * @throws TocFormatError for a damaged or truncated header.
 */
export async function readArchiveHead(fh: FileHandle, start = 0): Promise<ArchiveHead> {
  return (await readHead(new Reader(fh, start), 'the archive header')).head;
}

/**
 * Read the header and TOC of a directory archive's toc.dat (opened by the caller as a regular file).
 * @throws TocFormatError for a version it does not know or a damaged/truncated file.
 */
export async function readDirectoryToc(fh: FileHandle): Promise<DirectoryToc> {
  const r = new Reader(fh);
  const { head, fields: f } = await readHead(r, 'toc.dat');
  if (!f) {
    throw new TocFormatError(`toc.dat has archive version ${head.version}, which pgdrill cannot check (it knows versions up to 1.16, written by PostgreSQL 17 and 18): update pgdrill`);
  }
  const version = head.versionNumber;
  const readInt = () => f.int();
  const readStr = () => f.str();
  const skipStr = () => f.skipStr();
  const dbname = head.dbname;
  const versionText = head.version;

  const count = await readInt();
  if (count < 0) throw new TocFormatError(`toc.dat declares ${count} entries: the table of contents is damaged`);
  const entries: TocFileEntry[] = [];
  for (let i = 0; i < count; i++) {
    const dumpId = await readInt();
    if (dumpId <= 0) throw new TocFormatError(`toc.dat entry ${i + 1} has id ${dumpId}: the table of contents is damaged`);
    await readInt(); // hadDumper
    if (version >= archiveVersion(1, 8)) await skipStr(); // tableoid
    await skipStr(); // oid
    await skipStr(); // tag
    const desc = await readStr();
    if (version >= archiveVersion(1, 11)) await readInt(); // section
    await skipStr(); // defn
    await skipStr(); // dropStmt
    if (version >= archiveVersion(1, 3)) await skipStr(); // copyStmt
    if (version >= archiveVersion(1, 6)) await skipStr(); // namespace
    if (version >= archiveVersion(1, 10)) await skipStr(); // tablespace
    if (version >= archiveVersion(1, 14)) await skipStr(); // tableam
    if (version >= archiveVersion(1, 16)) await readInt(); // relkind
    await skipStr(); // owner
    if (version >= archiveVersion(1, 9)) await skipStr(); // with oids
    if (version >= archiveVersion(1, 5)) while (await skipStr()); // dependencies, NULL-terminated
    const filename = await readStr(); // _ReadExtraToc of the directory format
    if (filename === undefined) throw new TocFormatError(`toc.dat entry ${dumpId} names a data file longer than ${KEEP_MAX} bytes: refused`);
    entries.push({ dumpId, desc: desc ?? null, filename: filename ? filename : null });
  }
  return { version: versionText, versionNumber: version, dbname, entries };
}
