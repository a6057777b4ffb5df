/**
 * Opening files pgdrill did not create (a dump given to verify, a SHA256SUMS, a globals file, a config) without
 * being turned against the machine: pgdrill runs as root, and whoever can write next to such a file could plant a
 * symlink to a root-only file, or a FIFO that blocks a reader forever.
 *
 * - A path given on the command line may be a symlink (a `latest.dump` link is common), followed only when the
 *   link is owned by the user running pgdrill or root, or by the owner of the file it leads to: a link someone
 *   else planted never leads pgdrill to a file that someone does not own.
 * - What it leads to must be a regular file (or, where allowed, a directory): a FIFO, socket or device is refused at
 *   once, never opened.
 * - Files are opened with O_NOFOLLOW and O_NONBLOCK (a FIFO swapped in after the check cannot block the open), and
 *   fstat after the open must show a regular file with the inode lstat saw before it.
 */
import { constants } from 'node:fs';
import { lstat, open, readlink, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { ConfigError } from '../errors.js';

/** What a non-regular file is, in words: 'a FIFO', 'a symbolic link'… */
export function kindOf(st: Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/** A path given on the command line, resolved and checked. */
export interface InputPath {
  /** The path as given. */
  readonly given: string;
  /** The file it leads to (symlinks resolved). */
  readonly path: string;
  readonly isDirectory: boolean;
}

/** Links followed at most (as the kernel's MAXSYMLINKS). */
const MAX_LINKS = 40;

/**
 * Resolve a path the user gave for `what` (e.g. '--sums', 'the artefact') and require a regular file (or a
 * directory when `allowDirectory`). Symlinks along the last component are followed under the rule above.
 * @throws ConfigError (exit 2) naming the path, what it is and what to do.
 */
export async function resolveInputPath(given: string, what: string, opts: { allowDirectory?: boolean } = {}): Promise<InputPath> {
  const me = process.geteuid?.() ?? -1;
  const untrustedLinkOwners: { link: string; uid: number }[] = [];
  let p = resolve(given);
  let st: Stats;
  for (let n = 0; ; n++) {
    try {
      st = await lstat(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const via = p !== resolve(given) ? ` (→ ${p}${/^pipe:|^socket:|^anon_inode:/.test(p.split('/').pop()!) ? ', a pipe or socket' : ''})` : '';
      throw new ConfigError(`cannot read ${what} ${given}${via}: ${code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`, [], { cause: err });
    }
    if (!st.isSymbolicLink()) break;
    if (n >= MAX_LINKS) throw new ConfigError(`${what} ${given}: too many levels of symbolic links`);
    if (st.uid !== me && st.uid !== 0) untrustedLinkOwners.push({ link: p, uid: st.uid });
    p = resolve(dirname(p), await readlink(p));
  }
  // A directory component that is a link is resolved by the kernel; the last component's chain was checked above.
  const wanted = opts.allowDirectory ? 'a regular file or a directory' : 'a regular file';
  if (!(st.isFile() || (opts.allowDirectory && st.isDirectory()))) {
    const hint = st.isDirectory() ? '' : ': pgdrill reads only files it can read to their end without blocking; copy the data to a file first';
    throw new ConfigError(`${what} ${given}${p !== resolve(given) ? ` (→ ${p})` : ''} is ${kindOf(st)}, not ${wanted}${hint}`);
  }
  for (const l of untrustedLinkOwners) {
    if (l.uid !== st.uid) {
      throw new ConfigError(
        `${what} ${given}: the symbolic link ${l.link} is owned by uid ${l.uid}, but the file it leads to (${p}) is owned by uid ${st.uid}: ` +
          'pgdrill follows a link someone else owns only to that user\'s own files; give the file\'s real path',
      );
    }
  }
  return { given, path: p, isDirectory: st.isDirectory() };
}

/**
 * Open a file pgdrill did not create for reading: never through a symbolic link (O_NOFOLLOW), never blocking on a
 * FIFO (O_NONBLOCK: one swapped in by whoever can write beside it cannot hang root's open), and only when fstat shows
 * a regular file. Otherwise why not (`code`: the open's errno, e.g. ENOENT, ELOOP for a link; EISDIR or ENOTREG for
 * what is not a regular file). The one primitive
 * behind every read of such a file: artefacts, state records, drill locks, pid files, the sandbox's server log.
 */
export async function openNoFollow(path: string): Promise<{ fh: FileHandle; stat: Stats } | { problem: string; code?: string }> {
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { problem: code === 'ELOOP' ? 'it is a symbolic link' : (err as Error).message, code };
  }
  let stat: Stats;
  try {
    stat = await fh.stat();
  } catch (err) {
    await fh.close();
    return { problem: (err as Error).message };
  }
  if (!stat.isFile()) {
    await fh.close();
    return { problem: `it is ${kindOf(stat)}, not a regular file`, code: stat.isDirectory() ? 'EISDIR' : 'ENOTREG' };
  }
  return { fh, stat };
}

/**
 * Open a regular file for reading (`openNoFollow`), and only if it is the very file lstat saw before (same inode).
 * `what` names it in the error.
 * @throws ConfigError (exit 2).
 */
export async function openRegularFile(path: string, what: string): Promise<FileHandle> {
  let before: Stats;
  try {
    before = await lstat(path);
  } catch (err) {
    throw new ConfigError(`${what} ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, [], { cause: err });
  }
  if (!before.isFile()) throw new ConfigError(`${what} ${path} is ${kindOf(before)}, not a regular file: refused, not opened`);
  const opened = await openNoFollow(path);
  if ('problem' in opened) {
    throw new ConfigError(`${what} ${path}: ${opened.code === 'ELOOP' ? 'became a symbolic link while it was checked: refused' : `${opened.problem}: refused`}`);
  }
  if (opened.stat.ino !== before.ino || opened.stat.dev !== before.dev) {
    await opened.fh.close();
    throw new ConfigError(`${what} ${path} was replaced while it was opened (now inode ${opened.stat.ino}, was ${before.ino}): refused`);
  }
  return opened.fh;
}

/**
 * Read a whole small file opened as `openRegularFile` does, refusing one larger than `maxBytes` (the size is checked
 * before reading, and the read stops at the limit whatever fstat said).
 * @throws ConfigError (exit 2) naming the file and the limit.
 */
export async function readBoundedFile(path: string, what: string, maxBytes: number): Promise<Buffer> {
  const fh = await openRegularFile(path, what);
  try {
    const tooBig = (): ConfigError =>
      new ConfigError(`${what} ${path} is larger than ${formatLimit(maxBytes)}, the limit for ${what}: refused, not parsed — check that it is the right file`);
    const { size } = await fh.stat();
    if (size > maxBytes) throw tooBig();
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(64 * 1024);
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) throw tooBig(); // the file grew after fstat
      chunks.push(buf.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total);
  } finally {
    await fh.close();
  }
}

/** 1048576 → '1 MiB'. */
export function formatLimit(bytes: number): string {
  if (bytes % (1 << 20) === 0) return `${bytes / (1 << 20)} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

/**
 * Read a small file that only the user running pgdrill can have written: not a symbolic link (O_NOFOLLOW), a regular
 * file with one link, owned by that user, writable by no one else, at most `maxBytes`. Returns its text, or the
 * reason it is not trusted (`code`: the open's errno, or FOREIGN when another user owns or can write it).
 */
export async function readOwnFile(path: string, maxBytes = 65_536): Promise<{ text: string } | { problem: string; code?: string }> {
  const opened = await openNoFollow(path);
  if ('problem' in opened) return opened;
  const { fh, stat: st } = opened;
  try {
    if (st.uid !== (process.geteuid?.() ?? -1)) return { problem: `it is owned by uid ${st.uid}, not by the user running pgdrill`, code: 'FOREIGN' };
    if ((st.mode & 0o022) !== 0) return { problem: `it is writable by others (mode ${(st.mode & 0o777).toString(8)})`, code: 'FOREIGN' };
    if (st.nlink !== 1) return { problem: `it has ${st.nlink} hard links` };
    if (st.size > maxBytes) return { problem: `it is larger than ${maxBytes} bytes` };
    return { text: await fh.readFile('utf8') };
  } finally {
    await fh.close();
  }
}

/** How `readForeignText` reads. */
export interface ForeignTextOptions {
  /** Most bytes read. */
  readonly maxBytes: number;
  /** 'head' (default): null when the file is larger than `maxBytes`; 'tail': its last `maxBytes` bytes. */
  readonly part?: 'head' | 'tail';
  /** The uids the file may belong to (the sandbox's OS user, the user running pgdrill); default anyone. */
  readonly owners?: readonly number[];
}

/**
 * Text of a small file pgdrill did not create — in a directory someone else can write (the sandbox's, which its OS
 * user owns, or a backup given to verify) — opened as `openNoFollow` does: never through a symbolic link, never
 * waiting on a FIFO, only a regular file, and only one of `owners` (a hard link to a root-only file keeps root as
 * its owner). Null when it is absent or not such a file, or (part 'head') larger than `maxBytes`. Read through the
 * open descriptor, so a file swapped after the check is not the one read.
 */
export async function readForeignText(path: string, o: ForeignTextOptions): Promise<string | null> {
  const opened = await openNoFollow(path);
  if ('problem' in opened) return null;
  const { fh, stat } = opened;
  try {
    if (o.owners && !o.owners.includes(stat.uid)) return null;
    if ((o.part ?? 'head') === 'head' && stat.size > o.maxBytes) return null;
    const len = Math.min(stat.size, o.maxBytes);
    const buf = Buffer.alloc(len);
    const { bytesRead } = await fh.read(buf, 0, len, Math.max(0, stat.size - (o.part === 'tail' ? len : stat.size)));
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

/**
 * Each line of a file pgdrill did not create (opened as `readForeignText` does), streamed up to the size it had when
 * opened (a file its owner keeps appending to is not read forever). False when it was not read (absent, not a
 * regular file of one of `owners`).
 */
export async function forEachForeignLine(path: string, owners: readonly number[] | undefined, line: (text: string) => void): Promise<boolean> {
  const opened = await openNoFollow(path);
  if ('problem' in opened) return false;
  const { fh, stat } = opened;
  try {
    if (owners && !owners.includes(stat.uid)) return false;
    if (stat.size === 0) return true;
    const lines = createInterface({ input: fh.createReadStream({ start: 0, end: stat.size - 1, autoClose: false, encoding: 'utf8' }), crlfDelay: Infinity });
    for await (const l of lines) line(l);
    return true;
  } finally {
    await fh.close();
  }
}
