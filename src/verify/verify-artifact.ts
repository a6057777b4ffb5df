/**
 * `verifyArtifact`: drill a backup pgdrill did not take — a plain SQL dump (also .sql.gz), a custom, directory or
 * tar archive. Integrity first, before anything is restored: SHA256SUMS, the completion trailer and
 * `\restrict`/`\unrestrict` keys of a plain dump, a full read of an archive, a data file per TABLE DATA entry of a
 * directory archive, and content a psql script must not hold. Then the content check, the isolated restore with
 * exact counts against the dump's own COPY rows, confirmed teardown, the baseline and the report — as `run`.
 * With a source, its current state is compared too (not snapshot-exact, and labelled so) and proven untouched.
 *
 * The artefact is only ever read: never modified, moved or deleted; the run directory and the sandbox live under
 * the out directory, which must not be inside the artefact.
 */
import { join, resolve, sep } from 'node:path';
import { validateConfig } from '../config/load.js';
import type { DrillConfig, DrillConfigInput } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { detectFormat } from '../inventory/detect-format.js';
import type { ArtifactFormat } from '../inventory/read-inventory.js';
import { fileLogger, silentLogger, teeLogger, type ProgressCallback } from '../logger.js';
import { assertOutputPaths } from '../outputs/publish.js';
import { ReportBuilder } from '../report/builder.js';
import type { CheckResult, Report } from '../report/model.js';
import type { GuardedSource } from '../source/guard-and-proof.js';
import type { PipelineOptions } from '../pipeline/options.js';
import type { Toolchain } from '../toolchain/toolchain.js';
import { resolveInputPath } from '../exec/input-file.js';
import { chooseToolchain, endsDrill, resolveDrillEnvironment, type DrillContext, type DrillEnvironment } from '../pipeline/context.js';
import { acquireDrillLock } from '../out-dir/drill-lock.js';
import { createRunDir } from '../out-dir/run-dir.js';
import { assertOutDirSafe } from '../pipeline/guard/out-dir-guard.js';
import { guardStage, recordGuard, sourceSections, type GuardResult } from '../pipeline/guard/source-guard.js';
import { contentStage, type ScanResult } from '../pipeline/scan/content-stage.js';
import { notRestored, type RestoreResult } from '../pipeline/restore/restore-stage.js';
import { proofStage } from '../pipeline/proof.js';
import { FootprintMeter } from '../source/footprint.js';
import { recordEnding, settle, type Ending } from '../pipeline/ending.js';
import { assembleReport } from '../pipeline/report/assemble.js';
import { emptyBackupSection } from '../pipeline/report/empty-report.js';
import { finishReport } from '../pipeline/report/finish-report.js';
import { sandboxMajorOf, versionsReport } from '../pipeline/report/versions-report.js';
import { readArtifactHeader, type ArtifactHeader } from './artifact-header.js';
import { archiveFilesCheck } from './archive-files.js';
import { databaseFromArtifactName } from './artifact-name.js';
import { stampOf, unchangedCheck, type FileStamp } from './artifact-stamp.js';
import { findGlobalsBeside, type GlobalsBeside } from './globals-beside.js';
import { integrityStage, type IntegrityResult } from './integrity-stage.js';
import { listArchive, type ArchiveToc } from './read-archive.js';
import { peekCreatedDatabase } from './read-plain.js';
import { readSourceNow, type SourceNow } from './source-now.js';
import { findArtifactSums, type ArtifactSums } from './sums.js';
import { verifyRestore } from './verify-restore.js';

/** Options of `verifyArtifact`. Only `artifact` is required. */
export interface VerifyOptions extends PipelineOptions {
  /** Path of the dump: a file (plain, .sql.gz, custom, tar) or a directory archive. */
  readonly artifact: string;
  /** SHA256SUMS to check the artefact against. Default: `SHA256SUMS` beside the artefact, when it lists it. */
  readonly sums?: string;
  /** The config as in the YAML file (a `DrillConfigInput`; an already validated `DrillConfig` fits too), always validated here: an invalid one is a ConfigError (exit 2). Default: no pins, no expectations, default thresholds. */
  readonly config?: DrillConfigInput;
  /** libpq URL of the source the dump came from; compared now (not snapshot-exact) and proven untouched. Default: none. */
  readonly source?: string;
  /** Where run directories go. Default: config `out`, else ./drills. */
  readonly outDir?: string;
  /**
   * Database name to restore into and to file the run under (history, baseline, status). Default: the source's,
   * else config source.database, else the archive's own dbname, else the file name without extensions and dates.
   */
  readonly database?: string;
  /**
   * The roles taken with the dump (`pg_dumpall --globals-only` or `--roles-only` output): scanned, hashed (and
   * checked against a SHA256SUMS that lists it) and restored before the dump, so that owners and grantees are the
   * real roles rather than NOLOGIN placeholders. Default: the `<name>.globals.sql` beside a `<name>.sql`/`.dump`/
   * `.dir` dump, as `pgdrill run` writes it, when there is one (same owner as the dump, not a link); else none
   * (placeholders, and `restore.roles` warns). `false`: none, even beside the dump.
   */
  readonly globals?: string | false;
  /** Leave the sandbox running. Default false. */
  readonly keep?: boolean;
  /**
   * With `source`: also hash every table's content on the source now and in the restored copy, and compare
   * (`fidelity.source_hashes_now`, not snapshot-exact: WARN, or FAIL with config `source.unchanged_since_dump`).
   * Default false; without `source` a ConfigError.
   */
  readonly deep?: boolean;
  /** Major of the sandbox's server (≥ the dump's pg_dump). Default: the dump's "Dumped from" major (docs/versions.md). */
  readonly sandboxMajor?: number;
  /** Upgrade rehearsal: restore into this major (≥ the dump's) and compare across versions. Default none. */
  readonly targetMajor?: number;
}

/** The verify's outcome: the report (as written to report.json) and where it is. */
export interface VerifyResult {
  readonly report: Report;
  readonly runDir: string;
  readonly exitCode: 0 | 1;
}

/** The artefact and what is decided before any file exists: an exit 2, 3 or 4 here leaves nothing behind. */
interface VerifySetup {
  readonly config: DrillConfig;
  readonly startedAt: Date;
  readonly progress: ProgressCallback;
  readonly env: DrillEnvironment;
  readonly artifact: string;
  readonly format: ArtifactFormat;
  readonly archive: boolean;
  readonly beside: GlobalsBeside | null;
  readonly globalsPath: string | null;
  readonly outDir: string;
  readonly sums: ArtifactSums | null;
  readonly stampBefore: FileStamp;
  readonly guard: GuardResult | null;
  readonly header: ArtifactHeader;
  readonly bins: Toolchain;
  readonly filesCheck: CheckResult | null;
  readonly toc: ArchiveToc | { error: string } | null;
  readonly database: string;
}

/** What verify's stages returned, and how they ended. */
interface Verified {
  readonly integrity: IntegrityResult | null;
  readonly content: ScanResult | null;
  readonly restored: RestoreResult;
  readonly ending: Ending;
}

/** Verify an existing backup. @throws ConfigError (2) for a missing artefact or bad options, GuardError (3), EnvironmentError (4), InterruptedError (130/143) after teardown. */
export async function verifyArtifact(opts: VerifyOptions): Promise<VerifyResult> {
  const s = await prepareVerify(opts);
  const guarded = s.guard?.guarded ?? null;
  const scrub = guarded?.scrub ?? ((text: string) => text);
  // One drill of a database per out directory at a time (exit 3 otherwise), as in run.
  await using _drillLock = await acquireDrillLock(s.outDir, s.database);
  const runDir = await createRunDir(s.outDir, s.database, s.startedAt);
  const logger = teeLogger(opts.logger ?? silentLogger, fileLogger(join(runDir, 'run.log'), scrub));
  const builder = new ReportBuilder(s.progress, logger, runDir);
  const ctx: DrillContext = { bins: s.bins, sandboxUser: s.env.sandboxUser, logger, progress: s.progress, builder, runDir, signal: opts.signal };
  recordVerifyStart(ctx, s);
  // What verify --source costs the source (no pg_dump here: pgdrill's sessions only).
  await using footprint = guarded ? await FootprintMeter.start({ connection: guarded.spec.connection, audit: guarded.audit, atClose: guarded.atClose, logger, tools: false }) : null;
  const v = await verifyStages(ctx, s, opts, scrub);
  // 6. Production untouched (with a source), and the artefact as it was found.
  const proof = guarded ? await proofStage(builder, guarded, { what: 'verify', endsOnInterrupt: true, footprint }) : null;
  builder.add(unchangedCheck(s.artifact, s.stampBefore, await stampOf(s.artifact).catch(() => null)));
  const i = v.integrity;
  const report = assembleReport({
    kind: 'verify', runDir, startedAt: s.startedAt, argv: opts.argv ?? [], scrub, metadata: s.config.metadata,
    versions: versionsReport(s.bins, { source: dumpedFrom(s.header, guarded), pgDump: s.header.dumpedBy, targetMajor: opts.targetMajor ?? null }),
    source: guarded ? sourceSections(guarded, null) : null,
    backup: {
      ...emptyBackupSection(), path: s.artifact, format: s.format, size_bytes: s.stampBefore.size, sha256: i?.sha256 ?? null,
      sums_path: s.sums?.sumsPath ?? null, self_check: i?.selfCheck ?? null, tool: i?.tool ?? null, globals: i?.globals ?? null,
    },
    content: v.content, restored: v.restored, proof,
  });
  return finishReport({
    builder, report, runDir, startedAt: s.startedAt, config: s.config, jail: s.env.jail, scanOpts: s.env.scanOpts, logger, junit: opts.junit, metrics: opts.metrics,
    interrupted: v.ending.interrupted, fatal: v.ending.fatal,
  });
}

/** The artefact (a regular file or a directory: a FIFO, socket, device or /dev/stdin is refused at once, exit 2), its globals and the out directory. */
async function resolveArtifact(opts: VerifyOptions, config: DrillConfig): Promise<Pick<VerifySetup, 'artifact' | 'format' | 'archive' | 'beside' | 'globalsPath' | 'outDir'>> {
  const artifact = (await resolveInputPath(opts.artifact, 'the artefact', { allowDirectory: true })).path;
  const format: ArtifactFormat = await detectFormat(artifact);
  const beside = opts.globals === undefined ? await findGlobalsBeside(artifact) : null;
  const globalsPath = opts.globals ? (await resolveInputPath(opts.globals, '--globals')).path : beside && 'use' in beside ? beside.use : null;
  const outDir = resolve(opts.outDir ?? config.out ?? './drills');
  if (outDir === artifact || outDir.startsWith(artifact + sep)) {
    throw new ConfigError(`--out ${outDir} is inside the artefact ${artifact}: verify never writes into what it verifies; choose another --out`);
  }
  if (opts.deep && !opts.source) {
    throw new ConfigError('--deep compares the restored copy\'s content hashes with the source\'s now: give --source URL (the live database the dump came from)');
  }
  const archive = format === 'custom' || format === 'directory' || format === 'tar';
  return { artifact, format, archive, beside, globalsPath, outDir };
}

/** Everything before any file exists: the artefact, the source's guard, the programs for the artefact's versions, the database's name. */
async function prepareVerify(opts: VerifyOptions): Promise<VerifySetup> {
  const config: DrillConfig = validateConfig(opts.config ?? {}); // always: an object that merely looks validated may not be
  const a = await resolveArtifact(opts, config);
  await assertOutputPaths({ junit: opts.junit, metrics: opts.metrics, webhook: config.notify?.webhook });
  await assertOutDirSafe(null, a.outDir);
  const progress = opts.progress ?? (() => {});
  const env = await resolveDrillEnvironment(config);
  const sandboxMajor = sandboxMajorOf(opts);
  const sums = await findArtifactSums(a.artifact, opts.sums);
  const startedAt = new Date();
  const stampBefore = await stampOf(a.artifact);
  // The source, when given: guarded before any file exists (exit 3 on a pin mismatch); the source's own data and
  // tablespace directories are no place for the run directory either.
  const guarded = opts.source ? await guardStage(opts.source, config, { outDir: a.outDir, progress, signal: opts.signal }) : null;
  const guard = guarded ? { guarded, startedAt, durationMs: Date.now() - startedAt.getTime() } : null;
  // The programs for the artefact's own versions (its header), before any file exists: exit 4 when none can read it.
  const header = await readArtifactHeader(a.artifact, a.format);
  const bins = await chooseToolchain(config, opts, {
    source: dumpedFrom(header, guarded), dumpedBy: header.dumpedBy, archiveMinMajor: header.minRestoreMajor ?? undefined, sandboxMajor, dumpSource: false, archive: a.archive,
  });
  // The archive's table of contents (read-only) names its database; a TOC that cannot be read becomes a check below.
  // What the archive would make pg_restore open (links, special files, names climbing out), checked before it runs.
  const filesCheck = a.format === 'directory' || a.format === 'tar' ? await archiveFilesCheck(a.artifact, a.format) : null;
  const toc = a.archive && filesCheck?.status !== 'fail' ? await listArchive(bins, a.artifact, opts.signal) : null;
  const tocOk = toc && !('error' in toc) ? toc : null;
  // A plain dump made with pg_dump --create names its database itself.
  const created = a.format === 'plain' || a.format === 'plain-gzip' ? await peekCreatedDatabase(a.artifact, a.format === 'plain-gzip') : null;
  const database = opts.database ?? guarded?.identity.database ?? config.source.database ?? created ?? tocOk?.dbname ?? databaseFromArtifactName(a.artifact);
  return { config, startedAt, progress, env, ...a, sums, stampBefore, guard, header, bins, filesCheck, toc, database };
}

/** The server the dump came from: its header's "Dumped from", else the source's. */
function dumpedFrom(header: ArtifactHeader, guarded: GuardedSource | null): ArtifactHeader['dumpedFrom'] {
  return header.dumpedFrom ?? guarded?.identity.serverVersion ?? null;
}

/** What the verify knows before its first stage: the programs, the globals beside the dump, the source's guard. */
function recordVerifyStart(ctx: DrillContext, s: VerifySetup): void {
  const { builder, logger, bins } = ctx;
  const { header, beside } = s;
  logger.info(`verify ${s.artifact} (${s.format}) as database ${s.database} into ${ctx.runDir}; dumped by pg_dump ${header.dumpedBy?.text ?? '(unknown)'} from PostgreSQL ${header.dumpedFrom?.text ?? '(unknown)'}; pg_restore ${bins.version('pg_restore').text}, psql ${bins.version('psql').text}; sandbox PostgreSQL ${bins.server.version.text} (${bins.server.bindir}): ${bins.server.reason}`);
  for (const [i, text] of bins.notes.entries()) builder.note(`toolchain-${i + 1}`, text);
  if (beside && 'use' in beside) builder.note('globals-beside', `the globals ${beside.use} beside the dump (as pgdrill run writes them) are restored first, as in the run; --no-globals to leave them out`);
  else if (beside) builder.note('globals-beside', `${beside.ignored} beside the dump was not used: ${beside.why}; give --globals FILE to restore a globals file`);
  if (!s.guard) return;
  builder.note('source-not-snapshot-exact', `the artefact was not taken by this verify: every comparison with the source (${s.guard.guarded.spec.redacted}) is against its state now, not the dump's snapshot — differences can be changes made since the dump`);
  recordGuard(builder, s.progress, s.guard, s.config, 'verify');
}

/** 1. Integrity, 2. the source now, 3. content, 4-5. isolated restore with exact counts and confirmed teardown. */
async function verifyStages(ctx: DrillContext, s: VerifySetup, opts: VerifyOptions, scrub: (text: string) => string): Promise<Verified> {
  const guarded = s.guard?.guarded ?? null;
  const settled = await settle(async () => {
    const integrity = await integrityStage(ctx, { ...s, scanOpts: s.env.scanOpts, sumsGiven: opts.sums });
    // The source now (objects always; row counts only if the artefact may be restored).
    const now = guarded ? await sourceNowStage(ctx, guarded, opts) : null;
    // Content: refused content first (the artefact never reaches psql or the sandbox if it holds any), then expectations.
    const scan = integrity.scan;
    const content = scan ? await contentStage(ctx, {
      scan: async () => scan, archive: s.archive, config: s.config, jail: s.env.jail, scanOpts: s.env.scanOpts, sourceObjects: now?.objects ?? null,
    }) ?? null : null;
    if (!scan || ctx.builder.failed) {
      ctx.builder.skipStage('restore', 'not restored: an integrity or content check failed (see above) — the artefact never reached psql or pg_restore');
      return { integrity, content, restored: notRestored() };
    }
    const restored = await verifyRestore(ctx, { ...s, scan, source: guarded, now, keep: opts.keep ?? false });
    return { integrity, content, restored };
  });
  const v = settled.value;
  const ending = recordEnding(ctx.builder, ctx.logger, scrub, settled.ended ?? v?.restored.ended ?? null);
  return { integrity: v?.integrity ?? null, content: v?.content ?? null, restored: v?.restored ?? notRestored(), ending };
}

/** The `source` stage: the source's objects (and, if the artefact may be restored, exact counts) read now. */
async function sourceNowStage(ctx: DrillContext, guarded: GuardedSource, opts: VerifyOptions): Promise<SourceNow | null> {
  const now = await ctx.builder.stage('source', async () => {
    const n = await readSourceNow(guarded, !ctx.builder.failed, opts.signal, opts.deep ?? false);
    ctx.logger.info(`source read now (${n.readAt}): ${n.objects.length} objects${n.counts ? `, exact counts of ${n.counts.length} table(s)` : ''}; not the dump's snapshot`);
    return n;
  }, endsDrill);
  return now ?? null;
}
