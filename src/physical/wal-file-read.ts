/**
 * Reading files of a WAL archive, a directory pgdrill did not create and whose writers it does not trust: entries
 * are listed without following anything (a symbolic link is reported, never followed), only regular files are
 * opened (O_NOFOLLOW|O_NONBLOCK, the inode lstat saw), and only a bounded prefix is ever decompressed: the 40 bytes
 * of a segment's long page header, or a history file of at most 1 MiB. Compressed files are decompressed by zlib
 * (gzip) or by the compressor's own program reading the file from stdin, optionally as an unprivileged OS user.
 * A program that is not installed is an environment problem (EnvironmentError, exit 4), never a verdict on the file.
 */
import { access, lstat, opendir, stat as statPath, type FileHandle } from 'node:fs/promises';
import { constants, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { kindOf, openNoFollow } from '../exec/input-file.js';
import type { OsUser } from '../exec/os-user.js';
import { startProcess } from '../exec/run-process.js';
import { EnvironmentError } from '../errors.js';
import { COMPRESSIONS, parseWalFileName, type Compression, type WalFileName } from './wal-names.js';

/** One entry of an archive directory whose name is a WAL file name. */
export interface ArchiveEntry {
  readonly name: string;
  readonly parsed: WalFileName;
  /** 'file' for a regular file; otherwise what it is ('a symbolic link', 'a directory'…): never read. */
  readonly type: 'file' | string;
}

/** Every entry of `dir` with a WAL name, by name; `others` counts the rest (never read). Nothing is followed. */
export async function listArchive(dir: string, signal?: AbortSignal): Promise<{ entries: Map<string, ArchiveEntry>; others: number }> {
  const entries = new Map<string, ArchiveEntry>();
  let others = 0;
  const d = await opendir(dir);
  for await (const e of d) {
    signal?.throwIfAborted();
    const parsed = parseWalFileName(e.name);
    if (!parsed) {
      others++;
      continue;
    }
    entries.set(e.name, { name: e.name, parsed, type: e.isFile() ? 'file' : e.isSymbolicLink() ? 'a symbolic link' : e.isDirectory() ? 'a directory' : 'not a regular file' });
  }
  return { entries, others };
}

/** The archive's file for a WAL name: plain first, then compressed (the order the restore command looks in). */
export function findFile(entries: Map<string, ArchiveEntry>, name: string): ArchiveEntry | null {
  for (const suffix of ['', ...COMPRESSIONS.map((c) => `.${c}`)]) {
    const e = entries.get(name + suffix);
    if (e) return e;
  }
  return null;
}

/** What reading a file gave: up to `max` decompressed bytes (`complete`: the whole content fit), its size on disk. */
export type PrefixRead = { readonly bytes: Buffer; readonly complete: boolean; readonly fileSize: number; readonly gzipSize?: number } | { readonly problem: string };

/** Options for reading compressed files. */
export interface DecompressOptions {
  /** Run the decompressing programs (zstd, lz4, bzip2, xz) as this user; default: the user running pgdrill. */
  readonly osUser?: OsUser | null;
  readonly signal?: AbortSignal;
}

/**
 * Read up to `max` bytes of the decompressed content of `dir/name` (a regular file, opened as the module comment
 * says). For gzip files, also the size its trailer records (`gzipSize`, modulo 2^32): a cut file is caught without
 * decompressing it all.
 */
/**
 * Why a file of the archive that has more than one link is not read, or null. A hard link is how an archive's owner
 * could make a root-only file appear in it (where the kernel's fs.protected_hardlinks does not stop it), and root
 * would then read it, and copy it into the sandbox: such a file is read only when it belongs to the owner of the
 * directory it is in (an `archive_command` of `ln`, legitimately, leaves the archive's files with two links).
 */
export async function foreignHardLink(dir: string, stat: Stats): Promise<string | null> {
  if (stat.nlink <= 1) return null;
  const owner = (await statPath(dir).catch(() => null))?.uid;
  return owner === stat.uid ? null : `it has ${stat.nlink} hard links and is owned by uid ${stat.uid}, not by ${dir}'s owner (uid ${owner ?? '?'}): not read`;
}

export async function readPrefix(dir: string, name: string, compression: Compression | null, max: number, opts: DecompressOptions = {}): Promise<PrefixRead> {
  const path = join(dir, name);
  const before = await lstat(path).catch((e: Error) => e);
  if (before instanceof Error) return { problem: (before as NodeJS.ErrnoException).code === 'ENOENT' ? 'it disappeared' : before.message };
  if (!before.isFile()) return { problem: `it is ${kindOf(before)}: not read` };
  const opened = await openNoFollow(path);
  if ('problem' in opened) return { problem: opened.problem };
  const { fh, stat } = opened;
  try {
    if (stat.ino !== before.ino || stat.dev !== before.dev) return { problem: 'it was replaced while it was opened: not read' };
    const linked = await foreignHardLink(dir, stat);
    if (linked) return { problem: linked };
    if (compression === null) return { ...(await readRaw(fh, max)), fileSize: stat.size };
    const gzipSize = compression === 'gz' ? await gzipTrailerSize(fh, stat.size) : undefined;
    const source = fh.createReadStream({ autoClose: false, start: 0 });
    const r = compression === 'gz' ? await collect(source.pipe(createGunzip()), max, () => source.destroy()) : await viaProgram(compression, source, max, { ...opts, file: path });
    source.destroy();
    return 'problem' in r ? r : { ...r, fileSize: stat.size, ...(gzipSize !== undefined ? { gzipSize } : {}) };
  } finally {
    await fh.close();
  }
}

async function readRaw(fh: FileHandle, max: number): Promise<{ bytes: Buffer; complete: boolean }> {
  const buf = Buffer.alloc(max + 1);
  let got = 0;
  while (got < buf.length) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return { bytes: buf.subarray(0, Math.min(got, max)), complete: got <= max };
}

/** The size a gzip file's trailer records (modulo 2^32); undefined for a file too small to have one. */
export async function gzipTrailerSize(fh: FileHandle, size: number): Promise<number | undefined> {
  if (size < 18) return undefined;
  const b = Buffer.alloc(4);
  await fh.read(b, 0, 4, size - 4);
  return b.readUInt32LE(0);
}

/** Collect up to `max` bytes of `stream` (+1 to know whether more follows), then stop it. */
function collect(stream: Readable, max: number, stop: () => void): Promise<{ bytes: Buffer; complete: boolean } | { problem: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let got = 0;
    let settled = false;
    const finish = (v: { bytes: Buffer; complete: boolean } | { problem: string }) => {
      if (settled) return;
      settled = true;
      stream.destroy();
      stop();
      resolve(v);
    };
    stream.on('data', (b: Buffer) => {
      chunks.push(b);
      got += b.length;
      if (got > max) finish({ bytes: Buffer.concat(chunks).subarray(0, max), complete: false });
    });
    stream.on('end', () => finish({ bytes: Buffer.concat(chunks), complete: true }));
    stream.on('error', (err: Error) => finish({ problem: `it does not decompress: ${err.message}` }));
  });
}

const PROGRAMS: Record<Exclude<Compression, 'gz'>, string> = { zst: 'zstd', lz4: 'lz4', bz2: 'bzip2', xz: 'xz' };
/** The package that installs each program (Debian/Ubuntu; Red Hat's names where they differ). */
const PACKAGES: Record<string, string> = { zstd: 'zstd', lz4: 'lz4', bzip2: 'bzip2', xz: 'xz-utils (Debian/Ubuntu) or xz (Red Hat)', gzip: 'gzip' };

/** The directories a decompressor is looked up in: PATH's absolute entries (default /usr/local/bin:/usr/bin:/bin). */
function searchDirs(): string[] {
  return (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':').filter((d) => d.startsWith('/'));
}

/** Where the decompressing program for `compression` is installed (PATH's absolute directories, in order), or null. */
export async function decompressorPath(compression: Compression): Promise<string | null> {
  const prog = compression === 'gz' ? 'gzip' : PROGRAMS[compression];
  for (const dir of searchDirs()) {
    const p = join(dir, prog);
    if (await access(p, constants.X_OK).then(() => true, () => false)) return p;
  }
  return null;
}

/**
 * The decompressing program for `compression`, to read `file`.
 * @throws EnvironmentError (exit 4) naming the program, the file and the package to install when it is not in PATH:
 *   the machine cannot read the file, which says nothing of the file itself.
 */
export async function requireDecompressor(compression: Exclude<Compression, 'gz'>, file: string): Promise<string> {
  const found = await decompressorPath(compression);
  if (found) return found;
  const prog = PROGRAMS[compression];
  throw new EnvironmentError(
    `${file} is compressed with ${prog}, and the ${prog} program is not installed (not found in PATH: ${searchDirs().join(':') || 'empty'}): ` +
      `pgdrill cannot read it, which says nothing of the file itself. Install ${PACKAGES[prog]} (e.g. apt-get install ${prog === 'xz' ? 'xz-utils' : prog}) and run the drill again.`,
  );
}

async function viaProgram(compression: Exclude<Compression, 'gz'>, source: Readable, max: number, opts: DecompressOptions & { readonly file?: string }): Promise<{ bytes: Buffer; complete: boolean } | { problem: string }> {
  const bin = await requireDecompressor(compression, opts.file ?? 'a WAL file');
  const p = startProcess({ bin, args: ['-d', '-c'], stdin: source, stdout: 'pipe', allowFailure: true, uid: opts.osUser?.uid, gid: opts.osUser?.gid, signal: opts.signal });
  const r = await collect(p.stdout!, max, () => p.child.kill('SIGKILL'));
  const done = await p.done.catch((e: Error) => e);
  if ('problem' in r) return r;
  if (r.complete && !(done instanceof Error) && done.exitCode !== 0) {
    return { problem: `it does not decompress: ${PROGRAMS[compression]} exited with code ${done.exitCode}${done.stderrTail.trim() ? `: ${done.stderrTail.trim().split('\n').pop()}` : ''}` };
  }
  return r;
}
