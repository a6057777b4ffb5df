/**
 * The inventory of a dump without restoring it. Plain dumps are scanned directly; archives (custom, directory,
 * tar) through `pg_restore -f -`, which writes the same `-- Name: …` headers, GRANTs and COPY blocks as a plain
 * dump, so one scanner serves every format.
 *
 * Archives are read whole, not `--schema-only`: the same single pass gives the inventory, the hostile-content
 * verdict over every TOC entry's definition (a `COPY … PROGRAM` can hide in any entry, not only in the schema),
 * rows per COPY block, and a full read of the data — the only read that notices a truncated archive
 * (`pg_restore --list` does not). COPY data is counted on raw bytes, so the cost is pg_restore decompressing.
 */
import type { DumpReader } from '../toolchain/toolchain.js';
import { resolve } from 'node:path';
import { startProcess } from '../exec/run-process.js';
import { readerCommand, resolveReaderJail } from '../sandbox/reader-jail.js';
import { PlainDumpScanner, scanPlainDumpFile } from '../scan/plain-dump-scanner.js';
import type { PlainScanOptions, PlainScanResult } from '../scan/types.js';

export type ArtifactFormat = 'plain' | 'plain-gzip' | 'custom' | 'directory' | 'tar';

/**
 * Scan an archive through pg_restore: every entry, data included (`opts.schemaOnly` true reads the schema only:
 * cheaper, but blind to data entries and truncation). `opts.allow` is passed to the scanner (default: nothing).
 * @throws ToolError when pg_restore fails (e.g. a truncated archive: "unexpected end of file").
 */
export async function scanArchive(bins: DumpReader, path: string, signal?: AbortSignal, opts: PlainScanOptions & { readonly schemaOnly?: boolean } = {}): Promise<PlainScanResult> {
  const scanner = new PlainDumpScanner({ allow: opts.allow });
  // pg_restore sees only the archive (src/sandbox/reader-jail.ts): a link inside it reaches nothing of the host.
  const abs = resolve(path);
  const cmd = readerCommand(await resolveReaderJail(), bins.path('pg_restore'), [...(opts.schemaOnly ? ['--schema-only'] : []), '--file=-', abs], { ro: [abs] });
  const proc = startProcess({ ...cmd, stdout: 'pipe', signal });
  for await (const chunk of proc.stdout!) scanner.push(chunk as Buffer);
  await proc.done;
  return scanner.finish();
}

/** Inventory (and hostile-content findings) of any artifact; `opts.allow` is passed to the scanner (default: nothing). */
export async function readInventory(bins: DumpReader, path: string, format: ArtifactFormat, signal?: AbortSignal, opts: PlainScanOptions = {}): Promise<PlainScanResult> {
  if (format === 'plain' || format === 'plain-gzip') return scanPlainDumpFile(path, opts);
  return scanArchive(bins, path, signal, opts);
}
