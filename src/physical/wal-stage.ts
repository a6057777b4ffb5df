/**
 * The WAL archive as the restored server reads it: pgdrill copies the segments (from the backup's start segment on)
 * and the timeline history files out of the archive into a directory of the sandbox, decompressing `.gz`, `.lz4`,
 * `.zst` ones, and the server's `restore_command` is a plain `cp` from there. So the server — and the sandbox user,
 * in its jail — never sees the archive itself: it cannot write to it (a restored copy must never push WAL into
 * production's archive), and pgdrill reads it without following links, whoever owns it.
 */
import { constants, createWriteStream } from 'node:fs';
import { chown, mkdir, open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { OsUser } from '../exec/os-user.js';
import { startProcess } from '../exec/run-process.js';
import { decompressorPath } from './wal-file-read.js';
import { parseWalFileName, type Compression } from './wal-names.js';

/** What was staged. */
export interface StagedWal {
  readonly dir: string;
  readonly segments: number;
  readonly histories: number;
  /** Bytes written (decompressed). */
  readonly bytes: number;
}

async function decompressed(path: string, compression: Compression | null, signal?: AbortSignal): Promise<{ stream: Readable; done: Promise<unknown> }> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    throw new Error(`${path} is not a regular file`);
  }
  const raw = fh.createReadStream();
  if (compression === 'gz') return { stream: raw.pipe(createGunzip()), done: Promise.resolve() };
  if (!compression) return { stream: raw, done: Promise.resolve() };
  const prog = await decompressorPath(compression);
  if (!prog) throw new Error(`${path} is compressed (${compression}) and its decompressor is not installed`);
  const p = startProcess({ bin: prog, args: ['-d', '-c'], stdin: raw, stdout: 'pipe', signal });
  return { stream: p.stdout!, done: p.done };
}

/**
 * Copy the archive's segments from `startSegment`'s position on (any timeline) and every history file into
 * `dir` (created, owned by `user`), under their uncompressed names. `.partial` segments are left out: recovery
 * never asks for them by that name.
 */
export async function stageWal(walDir: string, startSegment: string, dir: string, user: OsUser | null, signal?: AbortSignal): Promise<StagedWal> {
  await mkdir(dir, { mode: 0o700 });
  if (user) await chown(dir, user.uid, user.gid);
  const startPos = startSegment.slice(8);
  let segments = 0;
  let histories = 0;
  let bytes = 0;
  const names = (await readdir(walDir)).sort();
  const staged = new Set<string>();
  for (const name of names) {
    signal?.throwIfAborted();
    const f = parseWalFileName(name);
    if (!f || (f.kind !== 'segment' && f.kind !== 'history')) continue; // .partial: recovery never asks for it by that name
    const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');
    const target = f.kind === 'segment' ? `${hex(f.timeline)}${hex(f.log)}${hex(f.seg)}` : `${hex(f.timeline)}.history`;
    if (f.kind === 'segment' && target.slice(8) < startPos) continue;
    if (staged.has(target)) continue; // the same segment compressed and not: the first one sorted is taken
    staged.add(target);
    const { stream, done } = await decompressed(join(walDir, name), f.compression, signal);
    const out = join(dir, target);
    await pipeline(stream, createWriteStream(out, { mode: 0o600, flags: 'wx' }), { signal });
    await done;
    if (user) await chown(out, user.uid, user.gid);
    bytes += (await stat(out)).size;
    if (f.kind === 'segment') segments++;
    else histories++;
  }
  return { dir, segments, histories, bytes };
}
