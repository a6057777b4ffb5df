/**
 * The archive scan inside the dump's one pass. A custom archive streams from pg_dump through the hash into its
 * file; this tee hands the same chunks, as they pass, to `pg_restore --file=-` reading its standard input, and the
 * plain-dump scanner reads the script pg_restore writes — the very full read `scanArchive` does on the file
 * (inventory, hostile content in every entry, rows per COPY block, a truncated archive noticed), done while
 * pg_dump runs instead of after it, without reading the archive again.
 *
 * pg_restore only writes a script here; nothing is executed. Its pace reaches pg_dump through backpressure (it
 * decompresses faster than pg_dump compresses), and if it exits early the rest of the archive still flows on to the
 * file: its failure is reported by `result` (and so by the content stage), as `scanArchive`'s would be.
 */
import { PassThrough, Transform, type TransformCallback } from 'node:stream';
import type { Toolchain } from '../toolchain/toolchain.js';
import { startProcess } from '../exec/run-process.js';
import type { Logger } from '../logger.js';
import { PlainDumpScanner } from '../scan/plain-dump-scanner.js';
import type { PlainScanOptions, PlainScanResult } from '../scan/types.js';

/** A pass-through Transform that feeds every chunk to `pg_restore --file=-` and scans its output. */
export class ArchiveScanTee extends Transform {
  /** The scan of the whole archive; rejects with pg_restore's ToolError (e.g. "unexpected end of file"). */
  readonly result: Promise<PlainScanResult>;
  private readonly input = new PassThrough({ highWaterMark: 1 << 20 });
  private readonly kill: () => void;
  private exited = false;
  private ended = false;
  private waiter: (() => void) | null = null;

  /** @param opts scanner options (config sandbox.allow), as for `scanArchive`. */
  constructor(bins: Toolchain, logger: Logger, signal?: AbortSignal, opts: PlainScanOptions = {}) {
    super();
    const scanner = new PlainDumpScanner({ allow: opts.allow });
    const proc = startProcess({ bin: bins.path('pg_restore'), args: ['--file=-'], stdin: this.input, stdout: 'pipe', signal });
    this.kill = () => void proc.child.kill('SIGKILL');
    const onExit = () => {
      this.exited = true;
      this.waiter?.();
    };
    proc.done.then(onExit, onExit);
    this.result = (async () => {
      let bytes = 0;
      for await (const chunk of proc.stdout!) {
        bytes += (chunk as Buffer).length;
        scanner.push(chunk as Buffer);
      }
      await proc.done;
      logger.info(`archive scanned from pg_dump's stream by pg_restore --file=-: ${bytes} bytes of script`);
      return scanner.finish();
    })();
    this.result.catch(() => {}); // awaited by the content stage; never an unhandled rejection meanwhile
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.exited || this.input.write(chunk)) return cb(null, chunk);
    // pg_restore is behind: pass the chunk on (and read the next one from pg_dump) once it caught up, or exited.
    const go = () => {
      if (this.waiter !== go) return;
      this.waiter = null;
      this.input.off('drain', go);
      cb(null, chunk);
    };
    this.waiter = go;
    this.input.on('drain', go);
  }

  override _flush(cb: TransformCallback): void {
    this.ended = true;
    this.input.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    // pg_dump failed (or the file could not be written): the scan of a partial archive is of no use.
    if (!this.ended || err) this.kill();
    cb(err);
  }
}
