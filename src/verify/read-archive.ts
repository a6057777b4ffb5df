/**
 * Reading an archive (custom, directory, tar) for verify. `pg_restore --list` reads only the table of contents —
 * it passes a custom archive cut to 60% (hazards.md) — so the archive is also read to its end: `pg_restore -f -`
 * turns every entry, data included, into SQL text, which the plain-dump scanner reads for the inventory and the
 * rows of every COPY block. A directory archive is first checked for a data file per TABLE DATA entry.
 */
import { readdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { EnvironmentError } from '../errors.js';
import type { DumpReader } from '../toolchain/toolchain.js';
import { runProcess, startProcess } from '../exec/run-process.js';
import type { Logger } from '../logger.js';
import type { CheckResult } from '../report/model.js';
import { PlainDumpScanner } from '../scan/plain-dump-scanner.js';
import { readerCommand, resolveReaderJail } from '../sandbox/reader-jail.js';
import type { PlainScanOptions, PlainScanResult } from '../scan/types.js';

/** One line of `pg_restore --list`. */
export interface TocListEntry {
  readonly dumpId: number;
  /** e.g. 'TABLE DATA public actor postgres' (type, schema, name, owner as pg_restore prints them). */
  readonly text: string;
  /** The OID of the object the entry is about (a TABLE DATA entry's is its table's), 0 for none. */
  readonly oid?: number;
}

/** The table of contents of an archive. */
export interface ArchiveToc {
  readonly entries: readonly TocListEntry[];
  /** `; dbname: …` from the archive header. */
  readonly dbname: string | null;
  readonly dumpedFrom: string | null;
  readonly dumpedBy: string | null;
}

/** The messages of pg_restore that mean "this pg_restore is too old for the archive", not "the archive is broken". */
const TOO_OLD = /unsupported version \([\d.]+\) in file header/;

/**
 * `pg_restore --list`. Returns the TOC, or the error pg_restore gave (a damaged header or TOC).
 * @throws EnvironmentError when the local pg_restore is older than the pg_dump that wrote the archive.
 */
export async function listArchive(bins: DumpReader, path: string, signal?: AbortSignal): Promise<ArchiveToc | { error: string }> {
  // Confined to the archive (src/sandbox/reader-jail.ts): a link inside it reaches nothing of the host.
  const abs = resolve(path);
  const cmd = readerCommand(await resolveReaderJail(), bins.path('pg_restore'), ['--list', abs], { ro: [abs] });
  const r = await runProcess({ ...cmd, stdout: 'capture', signal, allowFailure: true });
  if (TOO_OLD.test(r.stderrTail)) {
    throw new EnvironmentError(`pg_restore ${bins.version('pg_restore').text} cannot read ${path}: ${r.stderrTail.trim()}. Use the client programs of the PostgreSQL version that wrote it, or newer (PG_BINDIR).`);
  }
  if (r.exitCode !== 0) return { error: r.stderrTail.trim().split('\n').filter(Boolean).pop() ?? `pg_restore --list exited with code ${r.exitCode}` };
  const entries: TocListEntry[] = [];
  let dbname: string | null = null;
  let dumpedFrom: string | null = null;
  let dumpedBy: string | null = null;
  for (const line of r.stdout.split('\n')) {
    const h = /^;\s+(dbname|Dumped from database version|Dumped by pg_dump version):\s*(.*)$/.exec(line);
    if (h) {
      if (h[1] === 'dbname') dbname = h[2]!.trim();
      else if (h[1]!.startsWith('Dumped from')) dumpedFrom = h[2]!.trim();
      else dumpedBy = h[2]!.trim();
      continue;
    }
    const m = /^(\d+); \d+ (\d+) (.*)$/.exec(line);
    if (m) entries.push({ dumpId: Number(m[1]), text: m[3]!, oid: Number(m[2]) });
  }
  return { entries, dbname, dumpedFrom, dumpedBy };
}

/** Data file extensions a directory archive uses (uncompressed, gzip; lz4 and zstd since PostgreSQL 16). */
const DATA_SUFFIXES = ['.dat', '.dat.gz', '.dat.lz4', '.dat.zst'];

/** Every TABLE DATA entry of a directory archive must have its data file; large objects need their TOC file. */
export async function directoryFilesCheck(dir: string, toc: ArchiveToc): Promise<CheckResult> {
  const files = new Set(await readdir(dir));
  const missing: string[] = [];
  let expected = 0;
  for (const e of toc.entries) {
    if (e.text.startsWith('TABLE DATA ')) {
      expected++;
      if (!DATA_SUFFIXES.some((s) => files.has(`${e.dumpId}${s}`))) {
        const label = e.text.slice('TABLE DATA '.length).split(' ').slice(0, -1).join('.');
        missing.push(`${e.dumpId}.dat[.gz] (data of ${label})`);
      }
    } else if (/^(BLOBS|BLOB DATA|LARGE OBJECTS) /.test(e.text)) {
      expected++;
      if (!files.has('blobs.toc') && !files.has(`blobs_${e.dumpId}.toc`)) missing.push(`blobs.toc (large objects, entry ${e.dumpId})`);
    }
  }
  return {
    name: 'backup.directory_files', stage: 'backup', status: missing.length ? 'fail' : 'pass',
    detail: missing.length
      ? `${missing.length} data file(s) missing from the directory archive ${dir}: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''}`
      : `all ${expected} data file(s) the table of contents names are present in ${dir}`,
    evidence: { expected, missing },
  };
}

/** What reading the whole archive found. */
export interface ArchiveRead {
  readonly scan: PlainScanResult;
  readonly ok: boolean;
  readonly exitCode: number | null;
  /** pg_restore's error lines (empty when it read everything). */
  readonly errors: readonly string[];
  /** Bytes of SQL text the archive turned into. */
  readonly textBytes: number;
}

/**
 * `pg_restore -f - ARCHIVE`, its output scanned as it streams: proves every byte of the archive reads. Unlike
 * `scanArchive` (inventory/read-inventory.ts), a failing pg_restore is a result, not an exception: verify reports
 * where the read stopped. `scanOpts` says what the scanner lets through (default: nothing). pg_restore sees only the
 * archive (src/sandbox/reader-jail.ts).
 */
export async function readArchiveFully(bins: DumpReader, path: string, logger: Logger, scanOpts: PlainScanOptions = {}, signal?: AbortSignal): Promise<ArchiveRead> {
  const scanner = new PlainDumpScanner(scanOpts);
  const errors: string[] = [];
  const abs = resolve(path);
  const proc = startProcess({
    ...readerCommand(await resolveReaderJail(), bins.path('pg_restore'), ['--file=-', abs], { ro: [abs] }), stdout: 'pipe', signal, allowFailure: true,
    onStderrLine: (l) => {
      if (l.trim()) {
        errors.push(l.trim());
        logger.warn(`pg_restore (full read): ${l}`);
      }
    },
  });
  for await (const chunk of proc.stdout!) scanner.push(chunk as Buffer);
  const r = await proc.done;
  const scan = scanner.finish();
  return { scan, ok: r.exitCode === 0 && r.signal === null, exitCode: r.exitCode, errors, textBytes: scan.bytes };
}
