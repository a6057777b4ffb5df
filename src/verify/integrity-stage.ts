/**
 * verify's backup stage: the artefact's integrity, before anything is restored — a plain dump read to its end
 * (gzip CRC, trailer), an archive's files checked, hashed and read whole by pg_restore, SHA256SUMS and a globals
 * file checked. What it read is the report's `backup` section and the content stage's scan.
 */
import { createHash } from 'node:crypto';
import { relative } from 'node:path';
import { hashTree, sha256File } from '../backup/sha256sums.js';
import type { ArtifactFormat } from '../inventory/read-inventory.js';
import type { CheckResult, Report } from '../report/model.js';
import type { PlainScanOptions, PlainScanResult } from '../scan/types.js';
import { endsDrill, type DrillContext } from '../pipeline/context.js';
import { trailerCheck } from '../pipeline/scan/dump-checks.js';
import { readArchiveFully, directoryFilesCheck, type ArchiveToc } from './read-archive.js';
import { readPlainDump } from './read-plain.js';
import { globalsCheck, sumsCheck, type ArtifactSums } from './sums.js';

/** What the integrity stage needs. */
export interface IntegrityInput {
  readonly artifact: string;
  readonly format: ArtifactFormat;
  readonly scanOpts: PlainScanOptions;
  /** What the archive would make pg_restore open, checked before it runs (directory and tar archives). */
  readonly filesCheck: CheckResult | null;
  /** The archive's table of contents, or why pg_restore could not read it (archives). */
  readonly toc: ArchiveToc | { readonly error: string } | null;
  readonly sums: ArtifactSums | null;
  /** verify --sums, for the globals file's own check. */
  readonly sumsGiven?: string;
  readonly globalsPath: string | null;
}

/** What the integrity stage found, as far as it got. */
export interface IntegrityResult {
  readonly scan: PlainScanResult | null;
  readonly sha256: string | null;
  readonly tool: string | null;
  readonly selfCheck: boolean | null;
  readonly globals: Report['backup']['globals'];
}

type IntegrityRecord = { -readonly [K in keyof IntegrityResult]: IntegrityResult[K] };

/** Run the integrity stage (the report's `backup` stage). */
export async function integrityStage(ctx: DrillContext, input: IntegrityInput): Promise<IntegrityResult> {
  const rec: IntegrityRecord = { scan: null, sha256: null, tool: null, selfCheck: null, globals: null };
  await ctx.builder.stage('backup', async () => {
    const refused = input.filesCheck?.status === 'fail';
    const known = new Map<string, string>();
    if (input.format === 'plain' || input.format === 'plain-gzip') await readPlain(ctx, input, rec, known);
    else if (refused) ctx.builder.add(input.filesCheck); // nothing else is read: no hash, no pg_restore
    else await readArchive(ctx, input, rec, known);
    if (!refused) {
      const sc = await sumsCheck(input.artifact, input.sums, known);
      ctx.builder.add(sc);
      rec.selfCheck = sc.status === 'skip' ? null : sc.status === 'pass';
    }
    if (input.globalsPath) {
      const g = await globalsCheck(input.globalsPath, input.sumsGiven);
      ctx.builder.add(g.check);
      rec.globals = g.report;
    }
  }, endsDrill);
  return rec;
}

/** A plain dump (or .sql.gz) read to its end: `backup.full_read` and `backup.trailer`. */
async function readPlain(ctx: DrillContext, input: IntegrityInput, rec: IntegrityRecord, known: Map<string, string>): Promise<void> {
  const gzip = input.format === 'plain-gzip';
  const read = await readPlainDump(input.artifact, gzip, input.scanOpts, ctx.signal);
  rec.scan = read.scan;
  if (read.sha256) {
    known.set(input.artifact, read.sha256);
    rec.sha256 = read.sha256;
  }
  ctx.builder.add({
    name: 'backup.full_read', stage: 'backup', status: read.error ? 'fail' : 'pass',
    detail: read.error
      ? `${read.error} — after ${read.scan.bytes} bytes of SQL (${read.scan.lines} lines)`
      : `read to its end: ${read.fileBytes} bytes${gzip ? ` (gzip, ${read.scan.bytes} bytes of SQL, CRC verified)` : ''}, ${read.scan.lines} lines`,
    evidence: { file_bytes: read.fileBytes, sql_bytes: read.scan.bytes, lines: read.scan.lines },
  });
  ctx.builder.add(trailerCheck(read.scan, { endsWithNewline: read.endsWithNewline }));
  const t = read.scan.trailer;
  if (t.dumpedBy || t.dumpedFrom) rec.tool = `pg_dump ${t.dumpedBy ?? '?'} (from server ${t.dumpedFrom ?? '?'})`;
}

/** An archive hashed and read whole by pg_restore (its TOC and, for a directory, its data files first). */
async function readArchive(ctx: DrillContext, input: IntegrityInput, rec: IntegrityRecord, known: Map<string, string>): Promise<void> {
  const { artifact, format, toc } = input;
  const b = ctx.builder;
  if (input.filesCheck) b.add(input.filesCheck);
  if (format === 'directory') {
    const files = await hashTree(artifact);
    for (const f of files) known.set(f.path, f.sha256);
    const manifest = files.map((f) => `${f.sha256}  ${relative(artifact, f.path)}`).join('\n') + '\n';
    rec.sha256 = createHash('sha256').update(manifest).digest('hex');
  } else {
    rec.sha256 = await sha256File(artifact);
    known.set(artifact, rec.sha256);
  }
  if (!toc || 'error' in toc) {
    b.add({ name: 'backup.full_read', stage: 'backup', status: 'fail', detail: `pg_restore cannot read the archive's table of contents: ${toc?.error}` });
    return;
  }
  rec.tool = `pg_dump ${toc.dumpedBy ?? '?'} (from server ${toc.dumpedFrom ?? '?'})`;
  if (format === 'directory') b.add(await directoryFilesCheck(artifact, toc));
  const full = await readArchiveFully(ctx.bins, artifact, ctx.logger, input.scanOpts, ctx.signal);
  rec.scan = full.scan;
  const rows = full.scan.copyBlocks.reduce((a, c) => a + c.rows, 0);
  b.add({
    name: 'backup.full_read', stage: 'backup', status: full.ok ? 'pass' : 'fail',
    detail: full.ok
      ? `pg_restore read the whole archive: ${toc.entries.length} TOC entries, ${full.scan.copyBlocks.length} table data blocks with ${rows} rows, ${full.textBytes} bytes of SQL (pg_restore --list alone would not prove this)`
      : `pg_restore could not read the archive to its end (exit ${full.exitCode}): ${full.errors.filter((e) => /error|fatal/i.test(e)).at(-1) ?? full.errors.at(-1) ?? 'no message'} — after ${full.scan.copyBlocks.length} table data blocks (${rows} rows): the archive is truncated or damaged`,
    evidence: { toc_entries: toc.entries.length, copy_blocks: full.scan.copyBlocks.length, rows, exit_code: full.exitCode, errors: full.errors.slice(-10) },
  });
}
