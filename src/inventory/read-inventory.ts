/**
 * The inventory of a dump without restoring it. Plain dumps are scanned directly; archives (custom, directory,
 * tar) through `pg_restore --schema-only -f -`, which writes the same `-- Name: …` headers and GRANTs as a plain
 * dump, so one scanner serves every format.
 */
import type { PgBinaries } from '../exec/binaries.js';
import { startProcess } from '../exec/run-process.js';
import { PlainDumpScanner, scanPlainDumpFile } from '../scan/plain-dump-scanner.js';
import type { PlainScanResult } from '../scan/types.js';

export type ArtifactFormat = 'plain' | 'plain-gzip' | 'custom' | 'directory' | 'tar';

/** Scan an archive's schema through pg_restore. */
export async function scanArchive(bins: PgBinaries, path: string, signal?: AbortSignal): Promise<PlainScanResult> {
  const scanner = new PlainDumpScanner();
  const proc = startProcess({ bin: bins.path('pg_restore'), args: ['--schema-only', '--file=-', path], stdout: 'pipe', signal });
  for await (const chunk of proc.stdout!) scanner.push(chunk as Buffer);
  await proc.done;
  return scanner.finish();
}

/** Inventory of any artifact. */
export async function readInventory(bins: PgBinaries, path: string, format: ArtifactFormat, signal?: AbortSignal): Promise<PlainScanResult> {
  if (format === 'plain' || format === 'plain-gzip') return scanPlainDumpFile(path);
  return scanArchive(bins, path, signal);
}
