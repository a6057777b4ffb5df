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
import { lstat, readdir } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { createHash } from 'node:crypto';
import { hashTree, sha256File } from '../backup/sha256sums.js';
import type { TableRef } from '../catalog/tables.js';
import { validateConfig } from '../config/load.js';
import type { DrillConfig, DrillConfigInput } from '../config/schema.js';
import { ConfigError, InterruptedError } from '../errors.js';
import { detectFormat } from '../inventory/detect-format.js';
import { contentChecks, summarizeInventory } from '../inventory/expectations.js';
import type { ArtifactFormat } from '../inventory/read-inventory.js';
import type { DumpInventory } from '../inventory/types.js';
import { fileLogger, silentLogger, teeLogger, type ProgressCallback, type Logger } from '../logger.js';
import { assertOutputPaths } from '../outputs/publish.js';
import { ReportBuilder } from '../report/builder.js';
import type { Report } from '../report/model.js';
import type { PlainScanResult } from '../scan/types.js';
import { finishReport } from '../drill/finish-report.js';
import { chooseToolchain, endsDrill, resolveDrillEnvironment, type DrillContext } from '../drill/context.js';
import { sandboxMajorOf, versionsReport } from '../drill/versions-report.js';
import { readArtifactHeader } from './artifact-header.js';
import { hostileContentCheck, trailerCheck } from '../drill/dump-checks.js';
import { emptyReport } from '../drill/empty-report.js';
import { assertOutDirSafe } from '../drill/out-dir-guard.js';
import { emptyRestoreOutput, restoreStage } from '../drill/restore-stage.js';
import { createRunDir } from '../drill/run-dir.js';
import { acquireDrillLock } from '../drill/drill-lock.js';
import { jailReport } from '../drill/jail-report.js';
import { resolveInputPath } from '../exec/input-file.js';
import { archiveFilesCheck } from './archive-files.js';
import { databaseFromArtifactName, parseQualifiedName } from './artifact-name.js';
import { directoryFilesCheck, listArchive, readArchiveFully, type ArchiveToc } from './read-archive.js';
import { peekCreatedDatabase, readPlainDump } from './read-plain.js';
import { readSourceNow, sourceRowsNowCheck, type SourceNow } from './source-now.js';
import { guardSource, productionStage, type GuardedSource } from '../source/guard-and-proof.js';
import { sessionSettingsText } from '../source/connection.js';
import { archiveDatabaseLocale, describeLocale, SANDBOX_DEFAULT_LOCALE } from '../restore/database-locale.js';
import type { DiscoverOptions } from '../toolchain/discover.js';
import { findArtifactSums, globalsCheck, sumsCheck } from './sums.js';
import { findGlobalsBeside } from './globals-beside.js';

/** Options of `verifyArtifact`. Only `artifact` is required. */
/**
 * The encoding to restore a plain dump into when nothing else says: UTF8, into which the server converts any dump's
 * text — except SQL_ASCII, whose bytes need not be in any encoding (names in LATIN1 bytes would not convert): only
 * a SQL_ASCII database takes them as they are.
 */
function plainDumpEncoding(inv: DumpInventory): string {
  return inv.encoding === 'SQL_ASCII' ? 'SQL_ASCII' : 'UTF8';
}

export interface VerifyOptions {
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
  /** Write JUnit XML here. Default: none. */
  readonly junit?: string;
  /** Update this Prometheus textfile-collector file. Default: none. */
  readonly metrics?: string;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  readonly progress?: ProgressCallback;
  /** The command line, for the report (secrets are redacted). */
  readonly argv?: readonly string[];
  /** Directory of PostgreSQL programs that wins for what it holds. Default: PG_BINDIR; then the config's binaries and the usual places. */
  readonly bindir?: string;
  /** Where to look for PostgreSQL programs (for embedding and tests). Default: the machine (docs/versions.md). */
  readonly discover?: DiscoverOptions;
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

/** What identifies a file's content cheaply: a change during the verify means the results may not describe it. */
interface FileStamp {
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
}

async function stampOf(path: string): Promise<FileStamp> {
  const st = await lstat(path);
  if (!st.isDirectory()) return { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
  // A directory archive: the sum of its files' sizes and the newest mtime among them and the directory.
  let size = 0;
  let mtimeMs = st.mtimeMs;
  for (const name of await readdir(path, { recursive: true })) {
    const s = await lstat(join(path, name)); // a link inside is never followed (backup.archive_files refuses it)
    if (!s.isFile()) continue;
    size += s.size;
    mtimeMs = Math.max(mtimeMs, s.mtimeMs);
  }
  return { ino: st.ino, size, mtimeMs };
}

function tablesOf(scan: PlainScanResult): TableRef[] {
  const seen = new Set<string>();
  const out: TableRef[] = [];
  for (const b of scan.copyBlocks) {
    const t = parseQualifiedName(b.table);
    if (!t || seen.has(`${t.schema}.${t.name}`)) continue;
    seen.add(`${t.schema}.${t.name}`);
    out.push(t);
  }
  return out;
}

/** Verify an existing backup. @throws ConfigError (2) for a missing artefact or bad options, GuardError (3), EnvironmentError (4), InterruptedError (130/143) after teardown. */
export async function verifyArtifact(opts: VerifyOptions): Promise<VerifyResult> {
  const config: DrillConfig = validateConfig(opts.config ?? {}); // always: an object that merely looks validated may not be
  // A regular file or a directory; a FIFO, socket, device or /dev/stdin is refused at once (exit 2), never opened.
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
  await assertOutputPaths({ junit: opts.junit, metrics: opts.metrics });
  await assertOutDirSafe(null, outDir);
  const progress = opts.progress ?? (() => {});
  const baseLogger = opts.logger ?? silentLogger;
  const { sandboxUser, jail, scanOpts } = await resolveDrillEnvironment(config);
  const sandboxMajor = sandboxMajorOf(opts);
  const sums = await findArtifactSums(artifact, opts.sums);
  const startedAt = new Date();
  const stampBefore = await stampOf(artifact);

  // The source, when given: guarded before any file exists (exit 3 on a pin mismatch).
  let source: GuardedSource | null = null;
  if (opts.source) {
    progress({ stage: 'guard', state: 'start' });
    // The source's own data and tablespace directories are no place for the run directory either.
    source = await guardSource(opts.source, config, { signal: opts.signal, checks: (db) => assertOutDirSafe(db, outDir) });
    progress({ stage: 'guard', state: 'end', status: 'pass' });
  }
  const guardMs = Date.now() - startedAt.getTime();
  const scrub = source?.scrub ?? ((s: string) => s);

  // The programs for the artefact's own versions (its header), before any file exists: exit 4 when none can read it.
  const archive = format === 'custom' || format === 'directory' || format === 'tar';
  const header = await readArtifactHeader(artifact, format);
  const dumpedFrom = header.dumpedFrom ?? source?.identity.serverVersion ?? null;
  const bins = await chooseToolchain(config, opts, {
    source: dumpedFrom, dumpedBy: header.dumpedBy, archiveMinMajor: header.minRestoreMajor ?? undefined, sandboxMajor, dumpSource: false, archive,
  });

  // The archive's table of contents (read-only) names its database; a TOC that cannot be read becomes a check below.
  // What the archive would make pg_restore open (links, special files, names climbing out), checked before it runs.
  const filesCheck = format === 'directory' || format === 'tar' ? await archiveFilesCheck(artifact, format) : null;
  const refused = filesCheck?.status === 'fail';
  const toc: ArchiveToc | { error: string } | null = archive && !refused ? await listArchive(bins, artifact, opts.signal) : null;
  const tocOk = toc && !('error' in toc) ? toc : null;
  // A plain dump made with pg_dump --create names its database itself.
  const created = format === 'plain' || format === 'plain-gzip' ? await peekCreatedDatabase(artifact, format === 'plain-gzip') : null;
  const database = opts.database ?? source?.identity.database ?? config.source.database ?? created ?? tocOk?.dbname ?? databaseFromArtifactName(artifact);

  // One drill of a database per out directory at a time (exit 3 otherwise), as in run.
  await using drillLock = await acquireDrillLock(outDir, database);
  void drillLock;
  const runDir = await createRunDir(outDir, database, startedAt);
  const logger = teeLogger(baseLogger, fileLogger(join(runDir, 'run.log'), scrub));
  const builder = new ReportBuilder(progress, logger, runDir);
  const ctx: DrillContext = { bins, sandboxUser, logger, progress, builder, runDir, signal: opts.signal };
  const report = emptyReport('verify', runDir, startedAt, opts.argv ?? [], scrub, config.metadata);
  logger.info(`verify ${artifact} (${format}) as database ${database} into ${runDir}; dumped by pg_dump ${header.dumpedBy?.text ?? '(unknown)'} from PostgreSQL ${header.dumpedFrom?.text ?? '(unknown)'}; pg_restore ${bins.version('pg_restore').text}, psql ${bins.version('psql').text}; sandbox PostgreSQL ${bins.server.version.text} (${bins.server.bindir}): ${bins.server.reason}`);
  report.versions = versionsReport(bins, { source: dumpedFrom, pgDump: header.dumpedBy, targetMajor: opts.targetMajor ?? null });
  for (const [i, text] of bins.notes.entries()) builder.note(`toolchain-${i + 1}`, text);
  if (beside && 'use' in beside) builder.note('globals-beside', `the globals ${beside.use} beside the dump (as pgdrill run writes them) are restored first, as in the run; --no-globals to leave them out`);
  else if (beside) builder.note('globals-beside', `${beside.ignored} beside the dump was not used: ${beside.why}; give --globals FILE to restore a globals file`);

  if (source) {
    const id = source.identity;
    builder.stages.push({ name: 'guard', started_at: startedAt.toISOString(), duration_ms: guardMs, status: 'pass' });
    builder.add({
      name: 'guard.identity', stage: 'guard', status: 'pass',
      detail: `source system_identifier ${id.systemIdentifier}, database ${id.database}` +
        (config.source.system_identifier || config.source.database ? ' — matches the pinned identity' : ' (no identity pinned in the config)'),
      evidence: { system_identifier: id.systemIdentifier, database: id.database, pinned: { system_identifier: config.source.system_identifier ?? null, database: config.source.database ?? null } },
    });
    builder.note('source-not-snapshot-exact', `the artefact was not taken by this verify: every comparison with the source (${source.spec.redacted}) is against its state now, not the dump's snapshot — differences can be changes made since the dump`);
    if (!config.source.system_identifier) builder.note('identity-not-pinned', 'source.system_identifier is not pinned in the config: pin it so that a verify can never compare with the wrong cluster');
    report.source = {
      url: source.spec.redacted, database: id.database, system_identifier: id.systemIdentifier, server_version: id.serverVersionText,
      user: id.user, is_superuser: id.isSuperuser, can_write: source.capability.canWrite, can_write_detail: source.capability.detail,
      in_recovery: id.inRecovery, snapshot: null,
    };
    report.production.system_identifier_before = id.systemIdentifier;
    report.production.fingerprint_before = `${source.before.fingerprint} (${source.before.items} items)`;
    report.production.session_settings = sessionSettingsText(source.spec);
  }
  report.backup = {
    ...report.backup, path: artifact, format, size_bytes: stampBefore.size, sums_path: sums?.sumsPath ?? null,
    tool: null, duration_ms: null, globals: null,
  };

  let interrupted: InterruptedError | null = null;
  let fatal: unknown = null;
  const restored = emptyRestoreOutput();
  let scan: PlainScanResult | null = null;
  let now: SourceNow | null = null;
  try {
    // 1. Integrity, before anything is restored.
    await builder.stage('backup', async () => {
      const known = new Map<string, string>();
      if (format === 'plain' || format === 'plain-gzip') {
        const read = await readPlainDump(artifact, format === 'plain-gzip', scanOpts, opts.signal);
        scan = read.scan;
        if (read.sha256) {
          known.set(artifact, read.sha256);
          report.backup.sha256 = read.sha256;
        }
        builder.add({
          name: 'backup.full_read', stage: 'backup', status: read.error ? 'fail' : 'pass',
          detail: read.error
            ? `${read.error} — after ${read.scan.bytes} bytes of SQL (${read.scan.lines} lines)`
            : `read to its end: ${read.fileBytes} bytes${format === 'plain-gzip' ? ` (gzip, ${read.scan.bytes} bytes of SQL, CRC verified)` : ''}, ${read.scan.lines} lines`,
          evidence: { file_bytes: read.fileBytes, sql_bytes: read.scan.bytes, lines: read.scan.lines },
        });
        builder.add(trailerCheck(read.scan, { endsWithNewline: read.endsWithNewline }));
        const t = read.scan.trailer;
        if (t.dumpedBy || t.dumpedFrom) report.backup.tool = `pg_dump ${t.dumpedBy ?? '?'} (from server ${t.dumpedFrom ?? '?'})`;
      } else if (refused) {
        builder.add(filesCheck); // nothing else is read: no hash, no pg_restore
      } else {
        if (filesCheck) builder.add(filesCheck);
        if (format === 'directory') {
          const files = await hashTree(artifact);
          for (const f of files) known.set(f.path, f.sha256);
          const manifest = files.map((f) => `${f.sha256}  ${relative(artifact, f.path)}`).join('\n') + '\n';
          report.backup.sha256 = createHash('sha256').update(manifest).digest('hex');
        } else {
          report.backup.sha256 = await sha256File(artifact);
          known.set(artifact, report.backup.sha256);
        }
        if (!tocOk) {
          builder.add({
            name: 'backup.full_read', stage: 'backup', status: 'fail',
            detail: `pg_restore cannot read the archive's table of contents: ${(toc as { error: string }).error}`,
          });
        } else {
          report.backup.tool = `pg_dump ${tocOk.dumpedBy ?? '?'} (from server ${tocOk.dumpedFrom ?? '?'})`;
          if (format === 'directory') builder.add(await directoryFilesCheck(artifact, tocOk));
          const full = await readArchiveFully(bins, artifact, logger, scanOpts, opts.signal);
          scan = full.scan;
          const rows = full.scan.copyBlocks.reduce((a, c) => a + c.rows, 0);
          builder.add({
            name: 'backup.full_read', stage: 'backup', status: full.ok ? 'pass' : 'fail',
            detail: full.ok
              ? `pg_restore read the whole archive: ${tocOk.entries.length} TOC entries, ${full.scan.copyBlocks.length} table data blocks with ${rows} rows, ${full.textBytes} bytes of SQL (pg_restore --list alone would not prove this)`
              : `pg_restore could not read the archive to its end (exit ${full.exitCode}): ${full.errors.filter((e) => /error|fatal/i.test(e)).at(-1) ?? full.errors.at(-1) ?? 'no message'} — after ${full.scan.copyBlocks.length} table data blocks (${rows} rows): the archive is truncated or damaged`,
            evidence: { toc_entries: tocOk.entries.length, copy_blocks: full.scan.copyBlocks.length, rows, exit_code: full.exitCode, errors: full.errors.slice(-10) },
          });
        }
      }
      if (!refused) {
        const sc = await sumsCheck(artifact, sums, known);
        builder.add(sc);
        report.backup.self_check = sc.status === 'skip' ? null : sc.status === 'pass';
      }
      if (globalsPath) {
        const g = await globalsCheck(globalsPath, opts.sums);
        builder.add(g.check);
        report.backup.globals = g.report;
      }
    }, endsDrill);

    // 2. The source now (objects always; row counts only if the artefact may be restored).
    if (source) {
      await builder.stage('source', async () => {
        now = await readSourceNow(source, !builder.failed, opts.signal, opts.deep ?? false);
        logger.info(`source read now (${now.readAt}): ${now.objects.length} objects${now.counts ? `, exact counts of ${now.counts.length} table(s)` : ''}; not the dump's snapshot`);
      }, endsDrill);
    }

    // 3. Content: refused content first (the artefact never reaches psql or the sandbox if it holds any), then expectations.
    const s = scan as PlainScanResult | null;
    if (s) {
      await builder.stage('content', async () => {
        builder.add(hostileContentCheck(s, archive));
        report.jail = jailReport(jail, config.sandbox.os_user, s, scanOpts);
        report.inventory = summarizeInventory(s.inventory);
        for (const c of contentChecks(s.inventory, config.expect, now?.objects ?? null)) builder.add(c);
      }, endsDrill);
    }

    // 4-5. Isolated restore, exact counts against the dump's COPY rows, confirmed teardown.
    if (s && !builder.failed) {
      const n = now as SourceNow | null;
      // pg_dump --create: the dump creates its database and connects to it; the restore goes there, whatever the run is filed under.
      const createdDb = archive ? null : s.inventory.entries.find((e) => e.type === 'DATABASE')?.name ?? null;
      if (createdDb) logger.info(`the dump was made with pg_dump --create: it creates and restores into database ${createdDb}`);
      // The locale (and encoding) to create the database with: the archive's own DATABASE entry, else the source's
      // (now), else the sandbox's default — a plain dump without --create does not say (database-locale.ts); its
      // encoding, SQL_ASCII aside, converts into UTF8.
      const fromDump = archive ? await archiveDatabaseLocale(bins, artifact, opts.signal) : null;
      const locale = fromDump?.locale ?? source?.locale ?? null;
      if (!createdDb) {
        builder.note('restore-locale', `the restored database is created with ${describeLocale(locale ?? SANDBOX_DEFAULT_LOCALE)}: ${fromDump ? "the archive's CREATE DATABASE entry" : source ? "the source's, now (the dump does not say)" : "the sandbox's default — a plain dump made without --create does not say which locale its database had (verify --source URL takes the source's)"}`);
      }
      await restoreStage(ctx, {
        artifact: { path: artifact, format },
        globals: globalsPath ? { path: globalsPath, mode: 'globals-only' } : { path: null, mode: 'none' },
        inventory: s.inventory,
        database: createdDb ?? database, dumpCreatesDatabase: createdDb !== null, encoding: fromDump?.encoding ?? source?.encoding ?? plainDumpEncoding(s.inventory), locale,
        sourceSystemIdentifier: source?.identity.systemIdentifier ?? null,
        sourceObjects: n?.objects ?? null, sourceCounts: null,
        sourceNow: n?.hashes ? { now: n, unchanged: config.source.unchanged_since_dump } : null,
        tablesFromDump: tablesOf(s), copyBlocks: s.copyBlocks, pgDumpTransactionLines: archive ? [] : s.pgDumpTransactionLines, keep: opts.keep ?? false, jobs: config.backup.jobs,
      }, restored);
      if (n?.counts && restored.tables.length) builder.add(sourceRowsNowCheck(restored.tables, n.counts, config.thresholds ?? validateConfig({}).thresholds, n.readAt, config.source.unchanged_since_dump, n.countFailures));
    } else {
      builder.skipStage('restore', 'not restored: an integrity or content check failed (see above) — the artefact never reached psql or pg_restore');
    }
  } catch (err) {
    if (err instanceof InterruptedError) interrupted = err;
    else fatal = err;
    if (!(err instanceof InterruptedError)) logger.debug(`drill aborted: ${scrub((err as Error)?.stack ?? String(err))}`);
    builder.add({ name: 'drill.aborted', stage: 'drill', status: 'fail', detail: scrub((err as Error).message) });
  }

  // 6. Production untouched (with a source), and the artefact as it was found.
  if (source) report.production_untouched = await productionStage(builder, source, report, { what: 'verify', endsOnInterrupt: true });
  const stampAfter = await stampOf(artifact).catch(() => null);
  const unchanged = stampAfter !== null && stampAfter.ino === stampBefore.ino && stampAfter.size === stampBefore.size && stampAfter.mtimeMs === stampBefore.mtimeMs;
  builder.expect('backup.unchanged', 'backup', unchanged,
    `the artefact is as it was found (same inode, size ${stampBefore.size} and mtime): verify only reads it`,
    stampAfter === null
      ? `the artefact ${artifact} disappeared during the verify: the results do not describe any file`
      : `the artefact changed while it was verified (size ${stampBefore.size} → ${stampAfter.size}, mtime ${new Date(stampBefore.mtimeMs).toISOString()} → ${new Date(stampAfter.mtimeMs).toISOString()}): something else wrote to it; the results may not describe it — verify it again`,
    { before: stampBefore, after: stampAfter });
  report.restore = restored.restore;
  report.tables = restored.tables;
  report.teardown = restored.teardown;

  return finishReport({
    builder, report, runDir, startedAt, config, jail, scanOpts, logger, junit: opts.junit, metrics: opts.metrics, interrupted, fatal,
  });
}
