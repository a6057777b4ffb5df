/**
 * The WAL archive as the restored server reads it: a private directory of the sandbox holding the segments and the
 * timeline history files recovery needs, decompressed, and the server's `restore_command` is a plain `cp` from there.
 * So the server — and the sandbox user, in its jail — never sees the archive itself: it cannot write to it (a
 * restored copy must never push WAL into production's archive), and pgdrill reads it without following links,
 * whoever owns it.
 *
 * The archive is read once: the continuity check (wal-archive.ts) copies each segment here as it checks it, and
 * checks the copy — private, so what was checked is what recovery reads. The directory is then moved into the
 * sandbox (`adoptStagedWal`), not copied again. `stageWal` copies without checking (a backup without backup_label).
 */
import { constants, createWriteStream } from 'node:fs';
import { copyFile, lstat, mkdir, open, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { removeTree } from '../exec/remove-tree.js';
import { basename, dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { kindOf, openNoFollow } from '../exec/input-file.js';
import type { OsUser } from '../exec/os-user.js';
import { startProcess } from '../exec/run-process.js';
import { foreignHardLink, gzipTrailerSize, requireDecompressor } from './wal-file-read.js';
import { parseWalFileName, type Compression } from './wal-names.js';
import { handOver } from '../exec/hand-over.js';

/** What was staged. */
export interface StagedWal {
  readonly dir: string;
  readonly segments: number;
  readonly histories: number;
  /** Bytes written (decompressed). */
  readonly bytes: number;
  /** Milliseconds the copy took when the continuity check made it (before the sandbox: counted in the RTO's copy). */
  readonly ms?: number;
}

/** The largest WAL segment PostgreSQL allows (`--wal-segsize` 1024): the bound when the segment size is not known. */
export const MAX_SEGMENT_BYTES = 1 << 30;
/** Largest timeline history file copied or read (one line per earlier timeline: thousands fit). */
export const MAX_HISTORY_BYTES = 1 << 20;

/** A copy that would hold more than its `maxBytes`. */
class TooLarge extends Error {}

/** A pass-through that fails with TooLarge once more than `max` bytes went through it. */
function capped(max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      done(seen > max ? new TooLarge(`more than ${max} bytes`) : null, seen > max ? undefined : chunk);
    },
  });
}

function tooLarge(max: number, compressed: boolean, file: string): string {
  const what = parseWalFileName(basename(file))?.kind === 'history' ? 'the most a history file is read to' : 'a segment\'s size';
  return `it ${compressed ? 'decompresses to' : 'is'} more than ${max} bytes (${what}): not copied further`;
}

/** A file copied: the first bytes of its decompressed content, its decompressed size, its size in the archive. */
export type WalCopy = { readonly head: Buffer; readonly size: number; readonly fileSize: number; readonly gzipSize?: number } | { readonly problem: string };

/** How `copyWalFile` decompresses and whom the copy belongs to. */
export interface WalCopyOptions {
  /** Owner of the copy, and the user the zstd/lz4/bzip2/xz programs run as; null: the user running pgdrill. */
  readonly osUser: OsUser | null;
  /** Bytes of the decompressed head returned (a segment's long page header). */
  readonly headBytes: number;
  /**
   * Most bytes the copy may hold, decompressed: a segment's size, `MAX_HISTORY_BYTES` for a history file. Whoever can
   * write to the archive could otherwise fill the drill's disk with a small compressed file (a gzip of zeros grows a
   * thousandfold) or a large sparse one: past it the copy stops, is removed, and the file is a `problem`.
   */
  readonly maxBytes: number;
  readonly signal?: AbortSignal;
}

/**
 * Copy the archive file `src` (a regular file, never followed; the inode lstat saw) to the new file `dst`,
 * decompressed. A file that cannot be read or decompressed is a `problem` (and `dst` is removed).
 * @throws EnvironmentError when its decompressing program is not installed (wal-file-read.ts `requireDecompressor`).
 */
export async function copyWalFile(src: string, compression: Compression | null, dst: string, o: WalCopyOptions): Promise<WalCopy> {
  const before = await lstat(src).catch((e: NodeJS.ErrnoException) => e);
  if (before instanceof Error) return { problem: before.code === 'ENOENT' ? 'it disappeared' : before.message };
  if (!before.isFile()) return { problem: `it is ${kindOf(before)}: not read` };
  const opened = await openNoFollow(src);
  if ('problem' in opened) return { problem: opened.problem };
  const { fh, stat } = opened;
  let failure: string | null;
  let gzipSize: number | undefined;
  try {
    if (stat.ino !== before.ino || stat.dev !== before.dev) return { problem: 'it was replaced while it was opened: not read' };
    const linked = await foreignHardLink(dirname(src), stat);
    if (linked) return { problem: linked };
    if (compression === null && stat.size > o.maxBytes) return { problem: tooLarge(o.maxBytes, false, src) };
    if (compression === 'gz') gzipSize = await gzipTrailerSize(fh, stat.size);
    failure = await writeDecompressed(fh, compression, dst, { ...o, file: src });
  } finally {
    await fh.close();
  }
  if (failure) {
    await rm(dst, { force: true });
    return { problem: failure };
  }
  await handOver(dst, o.osUser);
  const out = await open(dst, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const head = Buffer.alloc(o.headBytes);
    const { bytesRead } = await out.read(head, 0, o.headBytes, 0);
    return { head: head.subarray(0, bytesRead), size: (await out.stat()).size, fileSize: stat.size, ...(gzipSize !== undefined ? { gzipSize } : {}) };
  } finally {
    await out.close();
  }
}

/** Write the decompressed content of the open file to `dst` (uncompressed: copied in the kernel). Null, or why it failed. */
async function writeDecompressed(fh: FileHandle, compression: Compression | null, dst: string, o: WalCopyOptions & { readonly file: string }): Promise<string | null> {
  if (compression === null) {
    await copyFile(`/proc/self/fd/${fh.fd}`, dst, constants.COPYFILE_EXCL); // in the kernel, from the inode opened
    return null;
  }
  // Outside the try below: a missing program is the machine's problem (exit 4), not the file's.
  const prog = compression === 'gz' ? null : await requireDecompressor(compression, o.file);
  const raw = fh.createReadStream({ autoClose: false, start: 0 });
  try {
    const out = createWriteStream(dst, { mode: 0o600, flags: 'wx' });
    if (!prog) {
      await pipeline(raw, createGunzip(), capped(o.maxBytes), out, { signal: o.signal });
      return null;
    }
    const p = startProcess({ bin: prog, args: ['-d', '-c'], stdin: raw, stdout: 'pipe', allowFailure: true, uid: o.osUser?.uid, gid: o.osUser?.gid, signal: o.signal });
    // Killed at the bound: the program would otherwise go on writing into a pipe no one reads.
    const copied = await pipeline(p.stdout!, capped(o.maxBytes), out, { signal: o.signal }).then(() => null, (e: Error) => {
      p.child.kill('SIGKILL');
      return e;
    });
    const done = await p.done;
    if (copied) throw copied;
    return done.exitCode === 0 ? null : `it does not decompress: ${basename(prog)} exited with code ${done.exitCode}${done.stderrTail.trim() ? `: ${done.stderrTail.trim().split('\n').pop()}` : ''}`;
  } catch (err) {
    o.signal?.throwIfAborted();
    if (err instanceof TooLarge) return tooLarge(o.maxBytes, true, o.file);
    return `it does not decompress: ${(err as Error).message}`;
  } finally {
    raw.destroy();
  }
}

/** The directory a staged copy goes into: created 0700, owned by `user`. */
export async function makeStageDir(dir: string, user: OsUser | null): Promise<void> {
  await mkdir(dir, { mode: 0o700 });
  await handOver(dir, user);
}

/** The uncompressed name recovery asks for (`000000010000000000000003`, `00000002.history`), or null: not staged. */
export function stagedName(name: string): string | null {
  const f = parseWalFileName(name);
  if (!f || (f.kind !== 'segment' && f.kind !== 'history')) return null; // .partial: recovery never asks for it by that name
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');
  return f.kind === 'segment' ? `${hex(f.timeline)}${hex(f.log)}${hex(f.seg)}` : `${hex(f.timeline)}.history`;
}

/**
 * Copy, without checking, the archive's segments from `startSegment`'s position on (any timeline) and every history
 * file into `dir` (created, owned by `user`), under their uncompressed names. `.partial` segments are left out.
 * @throws Error when a file cannot be read or decompressed.
 */
export async function stageWal(walDir: string, startSegment: string, dir: string, user: OsUser | null, signal?: AbortSignal): Promise<StagedWal> {
  await makeStageDir(dir, user);
  const startPos = startSegment.slice(8);
  let segments = 0;
  let histories = 0;
  let bytes = 0;
  const staged = new Set<string>();
  for (const name of (await readdir(walDir)).sort()) {
    signal?.throwIfAborted();
    const target = stagedName(name);
    if (!target || (!target.endsWith('.history') && target.slice(8) < startPos)) continue;
    if (staged.has(target)) continue; // the same segment compressed and not: the first one sorted is taken
    staged.add(target);
    const maxBytes = target.endsWith('.history') ? MAX_HISTORY_BYTES : MAX_SEGMENT_BYTES;
    const r = await copyWalFile(join(walDir, name), parseWalFileName(name)!.compression, join(dir, target), { osUser: user, headBytes: 0, maxBytes, signal });
    if ('problem' in r) throw new Error(`${join(walDir, name)}: ${r.problem}`);
    bytes += r.size;
    if (target.endsWith('.history')) histories++;
    else segments++;
  }
  return { dir, segments, histories, bytes };
}

/**
 * Move a staged WAL directory (checked by the continuity check, or pgdrill's own fetch out of a repository) to
 * `dest` in the sandbox: a rename, so nothing is copied again; a copy only when `dest` is on another file system.
 */
export async function adoptStagedWal(staged: StagedWal, dest: string, user: OsUser | null, signal?: AbortSignal): Promise<StagedWal> {
  await moveDir(staged.dir, dest, () => stageWal(staged.dir, '0'.repeat(24), dest, user, signal));
  // The checked copy is made in pgdrill's own directory (wal-checked-copy.ts): the server reads it as the sandbox user.
  await handOver(dest, user);
  return { ...staged, dir: dest };
}

/** Rename `from` to `to`; across file systems (EXDEV), `copy` then remove `from`. */
export async function moveDir(from: string, to: string, copy: () => Promise<unknown>): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await copy();
    await removeTree(from); // a repository's WAL, fetched into the sandbox user's directory: never following a link
  }
}
