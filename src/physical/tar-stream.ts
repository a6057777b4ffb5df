/**
 * Reading a pg_basebackup tar (plain, .gz, .lz4 or .zst) as a stream: the decompressed bytes of `base.tar*` for the
 * jailed `tar -x` that restores it, and the few small members the drill needs before that (backup_label,
 * PG_VERSION), read with the strict header reader. pgdrill opens the file itself (O_NOFOLLOW): the sandbox user
 * never needs to read the backup.
 */
import type { OsUser } from '../exec/os-user.js';
import { openNoFollow } from '../exec/input-file.js';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { isEndBlock, paddedSize, parseTarHeader } from '../exec/tar-header.js';
import { startProcess } from '../exec/run-process.js';
import { requireDecompressor } from './wal-file-read.js';

/** The compression of a tar that a program decompresses, by its extension; null for plain tar and gzip (done in-process). */
export function programCompressionOf(name: string): 'lz4' | 'zst' | null {
  if (name.endsWith('.lz4')) return 'lz4';
  if (name.endsWith('.zst')) return 'zst';
  return null;
}

/**
 * The tar's bytes, decompressed. The file is opened without following a link.
 * @throws EnvironmentError when the tar's decompressing program (lz4, zstd) is not installed.
 */
export async function openTarStream(path: string, signal?: AbortSignal, osUser: OsUser | null = null): Promise<Readable> {
  const compression = programCompressionOf(path);
  const prog = compression ? await requireDecompressor(compression, path) : null;
  // Never through a link, never waiting on a FIFO swapped in for the tar (O_NONBLOCK), only a regular file.
  const opened = await openNoFollow(path);
  if ('problem' in opened) throw new Error(`${path}: ${opened.problem}`);
  const raw = opened.fh.createReadStream();
  if (path.endsWith('.gz')) return raw.pipe(createGunzip());
  if (!prog) return raw;
  // The decompressor reads what the backup's maker wrote: run as the sandbox's OS user, as the WAL's are, never as root.
  const p = startProcess({ bin: prog, args: ['-d', '-c'], stdin: raw, stdout: 'pipe', uid: osUser?.uid, gid: osUser?.gid, signal });
  p.done.catch((err) => p.stdout?.destroy(err as Error));
  return p.stdout!;
}

/** Read the named small members (≤ 1 MB each) of a tar stream; stops reading once all are found. */
export async function readTarMembers(stream: Readable, wanted: ReadonlySet<string>): Promise<Map<string, Buffer>> {
  const found = new Map<string, Buffer>();
  let buf = Buffer.alloc(0);
  let need: { name: string; size: number; skip: number } | null = null;
  let skip = 0;
  try {
    for await (const chunk of stream) {
      buf = Buffer.concat([buf, chunk as Buffer]);
      for (;;) {
        if (skip > 0) {
          const n = Math.min(skip, buf.length);
          buf = buf.subarray(n);
          skip -= n;
          if (skip > 0) break;
        }
        if (need) {
          if (buf.length < need.size) break;
          found.set(need.name, Buffer.from(buf.subarray(0, need.size)));
          buf = buf.subarray(need.size);
          skip = need.skip;
          need = null;
          if (found.size === wanted.size) return found;
          continue;
        }
        if (buf.length < 512) break;
        const block = buf.subarray(0, 512);
        buf = buf.subarray(512);
        if (isEndBlock(block)) return found;
        const h = parseTarHeader(block);
        if (!h.checksumOk || h.size === null) return found;
        const name = h.name.replace(/^\.\//, '');
        if ((h.type === '0' || h.type === '\0') && wanted.has(name) && h.size <= 1 << 20) {
          need = { name, size: h.size, skip: paddedSize(h.size) - h.size };
        } else {
          skip = paddedSize(h.size);
        }
      }
    }
    return found;
  } finally {
    stream.destroy();
  }
}
