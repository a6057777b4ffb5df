/**
 * The fresh backup: pg_dump in the source's exported snapshot, its bytes hashed, counted and scanned as they come
 * (plain: pg_dump writes and syncs `<file>.partial` and pgdrill reads behind it; custom: streamed from pg_dump's
 * stdout to `<file>.partial`), renamed to its final name only when pg_dump exited 0 and every byte was read.
 * A failed dump leaves no file behind: a partial dump is never presented as a backup.
 */
import { createWriteStream } from 'node:fs';
import { open, rename, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Writable, type Readable, type Transform } from 'node:stream';
import { ToolError } from '../errors.js';
import type { Toolchain } from '../toolchain/toolchain.js';
import { startProcess } from '../exec/run-process.js';
import type { Logger } from '../logger.js';
import { HashingStream, type ChunkConsumer } from './hashing-stream.js';
import { FileFollower } from './file-follower.js';
import { ChunkPool } from './chunk-pool.js';
import { registerPartial, unregisterPartial } from './partial-files.js';
import { CoalesceStream } from './coalesce-stream.js';
import { hashTree } from './sha256sums.js';
import { hashFileOffThread, type FileDigest } from './sha256-worker.js';
import { createHash } from 'node:crypto';
import { removeTree } from '../exec/remove-tree.js';
import { makeTreePrivate, PRIVATE_FILE } from '../exec/private-mode.js';

export type DumpFormat = 'plain' | 'custom' | 'directory';

/** What `takeDump` needs. */
export interface DumpOptions {
  readonly bins: Toolchain;
  /** Environment that connects pg_dump to the source (PG*, PGOPTIONS read-only). */
  readonly env: Readonly<Record<string, string>>;
  readonly format: DumpFormat;
  /** Final path of the dump (file, or directory for the directory format). */
  readonly path: string;
  /** Exported snapshot id to dump in (`--snapshot`). */
  readonly snapshot?: string;
  /** `--lock-wait-timeout` in ms. Default 30 s. */
  readonly lockWaitTimeoutMs?: number;
  /** Parallel jobs for the directory format. Default 1. */
  readonly jobs?: number;
  /** Extra consumers of the dump bytes (plain and custom formats), e.g. the plain-dump scanner. */
  readonly consumers?: readonly ChunkConsumer[];
  /**
   * A stage after the hashing stream (plain and custom formats) that passes every chunk on unchanged — the
   * overlapped restore's gate (src/restore/stream-restore.ts). Its backpressure slows the reading behind pg_dump,
   * not pg_dump.
   * Default none.
   */
  readonly through?: Transform;
  readonly onBytes?: (total: number) => void;
  /**
   * Called once pg_dump has exited 0 — it needs the exported snapshot no more (the drill then ends the snapshot's
   * transaction as soon as its own work in it is done). Called before the early re-read below starts.
   */
  readonly onWriterExited?: () => void;
  /**
   * Plain format: re-read the file from disk as soon as pg_dump has exited 0 and hash it (`DumpResult.reread`),
   * beside the reading behind pg_dump that still feeds the restore — the SHA256SUMS self-check's re-read, done
   * while the machine waits for the restore instead of after it, on a low-priority worker thread so that it
   * neither blocks the feed to psql nor takes CPU from the restore. Default false.
   */
  readonly reread?: boolean;
  readonly signal?: AbortSignal;
  readonly logger: Logger;
}

/** One file of a directory-format archive. */
export interface DumpFile {
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
}

/** The dump as written. */
export interface DumpResult {
  readonly path: string;
  readonly format: DumpFormat;
  readonly sizeBytes: number;
  /** sha256 of the file; for a directory archive, of its file list ("<sha256>  <name>" lines, sorted). */
  readonly sha256: string;
  /** Directory format: every file with its digest. */
  readonly files: readonly DumpFile[];
  readonly args: readonly string[];
  readonly durationMs: number;
  /** pg_dump's stderr lines (warnings); empty on a clean run. */
  readonly stderr: readonly string[];
  /** With `reread`: the file as re-read from disk after pg_dump exited (independent of the streamed `sha256`). */
  readonly reread: FileDigest | null;
}

/** pg_dump's arguments (no connection settings: those go through the environment). */
export function pgDumpArgs(o: Pick<DumpOptions, 'format' | 'snapshot' | 'lockWaitTimeoutMs' | 'jobs'>, target?: string): string[] {
  const args = ['--no-password', `--lock-wait-timeout=${Math.max(1, Math.round(o.lockWaitTimeoutMs ?? 30_000))}ms`];
  if (o.snapshot) args.push(`--snapshot=${o.snapshot}`);
  if (o.format === 'plain') args.push('--format=plain');
  if (o.format === 'custom') args.push('--format=custom');
  if (o.format === 'directory') args.push('--format=directory');
  if (target) args.push(`--file=${target}`);
  if (o.format === 'directory' && (o.jobs ?? 1) > 1) args.push(`--jobs=${o.jobs}`);
  return args;
}

/** What takeDump's branches share: when it started and pg_dump's stderr lines, collected as they come. */
interface DumpProgress {
  readonly t0: number;
  readonly stderr: string[];
  readonly onStderrLine: (l: string) => void;
}

/** A directory archive: pg_dump writes the files itself into `partial`; they are hashed once renamed into place. */
async function takeDirectoryDump(o: DumpOptions, partial: string, p: DumpProgress): Promise<DumpResult> {
  const args = pgDumpArgs(o, partial);
  await startProcess({ bin: o.bins.path('pg_dump'), args, env: o.env, signal: o.signal, onStderrLine: p.onStderrLine }).done;
  o.onWriterExited?.();
  await rename(partial, o.path);
  await makeTreePrivate(o.path); // pg_dump's files follow the umask of whoever runs pgdrill as a library
  const files = (await hashTree(o.path)).map((f) => ({ ...f }));
  const manifest = files.map((f) => `${f.sha256}  ${f.path.slice(o.path.length + 1)}`).join('\n') + '\n';
  const size = files.reduce((a, f) => a + f.size, 0);
  o.onBytes?.(size);
  return {
    path: o.path, format: o.format, sizeBytes: size, sha256: createHash('sha256').update(manifest).digest('hex'),
    files, args, durationMs: Math.round(performance.now() - p.t0), stderr: p.stderr, reread: null,
  };
}

/** Take the dump. @throws ToolError when pg_dump fails (after removing what it wrote). */
export async function takeDump(o: DumpOptions): Promise<DumpResult> {
  const t0 = performance.now();
  const partial = `${o.path}.partial`;
  let flowing: (Readable | Writable)[] = [];
  let flow: Promise<void> | undefined;
  let proc: ReturnType<typeof startProcess> | undefined;
  let reread: Promise<FileDigest> | null = null;
  const stderr: string[] = [];
  const onStderrLine = (l: string) => {
    if (l.trim()) {
      stderr.push(l);
      o.logger.warn(`pg_dump: ${l}`);
    }
  };
  registerPartial(partial);
  try {
    if (o.format === 'directory') return await takeDirectoryDump(o, partial, { t0, stderr, onStderrLine });
    const hasher = new HashingStream(o.consumers ?? [], o.onBytes);
    let args: string[];
    if (o.format === 'plain') {
      // pg_dump writes the file itself; the one pass reads behind it (src/backup/file-follower.ts). The file is
      // created here first (exclusively: never over someone else's file), so that the reader can open it at once.
      args = pgDumpArgs(o, partial);
      await (await open(partial, 'wx', PRIVATE_FILE)).close();
      // Read buffers are used again once every stage is done with them (src/backup/chunk-pool.ts): the sink at the
      // end gives each chunk back; the gate retains what it queues for psql until written.
      const follower = new FileFollower(partial, { pool: new ChunkPool(1 << 20) });
      proc = startProcess({ bin: o.bins.path('pg_dump'), args, env: o.env, signal: o.signal, onStderrLine });
      const sink = new Writable({ highWaterMark: 0, write: (c: Buffer, _e, cb) => (ChunkPool.giveBack(c), cb()) });
      flowing = o.through ? [follower, hasher, o.through, sink] : [follower, hasher, sink];
      flow = pipeline(flowing);
      // Both must succeed: pg_dump's own exit status (it has written and synced the file), then every byte read.
      await Promise.race([proc.done, flow.then(() => { throw new Error('the dump stream ended before pg_dump'); })]);
      follower.writerFinished();
      o.onWriterExited?.();
      // The file is complete: its re-read runs now, beside the reading behind it (bounded by the restore's pace).
      if (o.reread) (reread = hashFileOffThread(partial, o.signal)).catch(() => {});
      await flow;
    } else {
      // A custom archive written to a file is rewritten at its end (pg_dump seeks back to fill in the data offsets
      // of its table of contents), so it cannot be read behind pg_dump: it comes through pg_dump's stdout, and
      // pgdrill writes the file.
      args = pgDumpArgs(o);
      proc = startProcess({ bin: o.bins.path('pg_dump'), args, env: o.env, stdout: 'pipe', signal: o.signal, onStderrLine });
      const file = createWriteStream(partial, { flags: 'wx', mode: PRIVATE_FILE, highWaterMark: 1 << 20 });
      // pg_dump writes 8 KiB pieces: batch them first, so that every later stage handles ~30x fewer chunks.
      flowing = o.through ? [proc.stdout!, new CoalesceStream(), hasher, o.through, file] : [proc.stdout!, new CoalesceStream(), hasher, file];
      flow = pipeline(flowing);
      await Promise.all([flow, proc.done.then(() => o.onWriterExited?.())]);
    }
    const size = (await stat(partial)).size;
    if (size !== hasher.bytes) throw new Error(`${partial}: ${size} bytes on disk, ${hasher.bytes} read`);
    const again = reread ? await reread.catch(() => null) : null; // unreadable: the self-check reads it itself
    await rename(partial, o.path);
    return {
      path: o.path, format: o.format, sizeBytes: hasher.bytes, sha256: await hasher.digest(), files: [], args,
      durationMs: Math.round(performance.now() - t0), stderr, reread: again,
    };
  } catch (err) {
    // pg_dump may have failed while the stream behind it still flows (e.g. held by the overlapped restore's gate),
    // or the stream failed while pg_dump still writes: stop both and let them settle first, so that nothing
    // re-creates or keeps writing the partial file after it is removed.
    for (const s of flowing) s.destroy();
    proc?.child.kill('SIGKILL');
    await Promise.all([flow?.catch(() => {}), proc?.done.catch(() => {}), reread?.catch(() => {})]);
    await removeTree(partial);
    if (err instanceof ToolError) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new ToolError('pg_dump', pgDumpArgs(o), null, null, `writing ${partial}: ${e.code ?? ''} ${e.message}`, { cause: err });
  } finally {
    unregisterPartial(partial);
  }
}
