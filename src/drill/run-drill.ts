/**
 * `runDrill`: the whole guarded drill against a live source — identity guard, fresh backup in an exported
 * snapshot, content check, isolated restore with exact counts, confirmed teardown, production-untouched proof —
 * returning the report object the CLI renders. The stages are src/pipeline/'s; this composes them for `run`.
 */
import { join } from 'node:path';
import type { DrillConfig, DrillConfigInput } from '../config/schema.js';
import { validateConfig } from '../config/load.js';
import { InterruptedError } from '../errors.js';
import { fileLogger, silentLogger, teeLogger, type ProgressCallback } from '../logger.js';
import { ReportBuilder } from '../report/builder.js';
import type { Report } from '../report/model.js';
import { schemaFromDumpPossible } from '../fidelity/schema-from-dump.js';
import { assertLockTableFits, lockTableCheck, withDumpWorkers, type LockTableUse } from '../source/lock-table.js';
import { standbyCheck } from '../source/standby.js';
import { captureGlobals, type GlobalsResult } from '../backup/globals.js';
import type { DumpFormat } from '../backup/pg-dump.js';
import { scanArchive } from '../inventory/read-inventory.js';
import type { AfterRestoreHook } from '../fidelity/fidelity-stage.js';
import { assertOutputPaths } from '../outputs/publish.js';
import type { PipelineOptions } from '../pipeline/options.js';
import type { Toolchain } from '../toolchain/toolchain.js';
import { chooseToolchain, resolveDrillEnvironment, type DrillContext, type DrillEnvironment } from '../pipeline/context.js';
import { acquireDrillLock } from '../out-dir/drill-lock.js';
import { createRunDir, safeName, utcStamp } from '../out-dir/run-dir.js';
import { guardStage, recordGuard, sourceSections, type GuardResult } from '../pipeline/guard/source-guard.js';
import { freshBackupStage, type BackupResult } from '../pipeline/backup/fresh-backup.js';
import { freshBackupSection, sourceCountsCheck } from '../pipeline/backup/seal-backup.js';
import { contentStage, type ScanResult } from '../pipeline/scan/content-stage.js';
import { notRestored, restoreStage, type RestoreResult } from '../pipeline/restore/restore-stage.js';
import { OverlappedRestore } from '../pipeline/restore/overlapped-restore.js';
import { proofStage } from '../pipeline/proof.js';
import { FootprintMeter } from '../source/footprint.js';
import { recordEnding, settle, type Ending } from '../pipeline/ending.js';
import { assembleReport } from '../pipeline/report/assemble.js';
import { finishReport } from '../pipeline/report/finish-report.js';
import { sandboxMajorOf, versionsReport } from '../pipeline/report/versions-report.js';

/** Options of a drill. Every field has a default; `source` falls back to the PG* environment. */
export interface RunDrillOptions extends PipelineOptions {
  /** libpq URL of the source; default: PG* environment (or config source.url). */
  readonly source?: string;
  /** The config as in the YAML file (a `DrillConfigInput`; an already validated `DrillConfig` fits too), always validated here: an invalid one is a ConfigError (exit 2). Default: no pins, no expectations (the source catalog is the expectation). */
  readonly config?: DrillConfigInput;
  /** Where run directories go. Default: config `out`, else ./drills. */
  readonly outDir?: string;
  /** Dump format. Default: config backup.format, else plain. */
  readonly format?: DumpFormat;
  /** Leave the sandbox running. Default false. */
  readonly keep?: boolean;
  readonly kind?: 'run' | 'demo';
  /** Major of the sandbox's server (≥ pg_dump's). Default: the source's (docs/versions.md). */
  readonly sandboxMajor?: number;
  /** Upgrade rehearsal: restore into this major (≥ the source's) and compare across versions. Default none. */
  readonly targetMajor?: number;
  /** `run --deep`: pg_amcheck --heapallindexed, and every large object's bytes against the source's in the dump snapshot (table contents come from the dump's stream regardless). Default false; demo: true. */
  readonly deep?: boolean;
  /** For tests and extensions: called with the restored copy after the restore, before the fidelity checks. Default none. */
  readonly afterRestore?: AfterRestoreHook;
  /** For tests: called with the copy right after a parallel archive restore, before it is searched for a race's traces. Default none. */
  readonly afterParallelRestore?: AfterRestoreHook;
}

/** The drill's outcome: the report (as written to report.json) and where it is. */
export interface DrillResult {
  readonly report: Report;
  readonly runDir: string;
  readonly exitCode: 0 | 1;
}

/** Everything decided before any file exists: an exit 2, 3 or 4 here leaves nothing behind. */
interface RunSetup {
  readonly config: DrillConfig;
  readonly startedAt: Date;
  readonly progress: ProgressCallback;
  readonly env: DrillEnvironment;
  readonly format: DumpFormat;
  readonly outDir: string;
  readonly guard: GuardResult;
  readonly bins: Toolchain;
  readonly lockTable: LockTableUse;
}

/** What the backup, content and restore stages returned (null: not reached), and how they ended. */
interface Drilled {
  readonly backup: BackupResult | null;
  readonly content: ScanResult | null;
  readonly restored: RestoreResult;
  readonly ending: Ending;
}

/** Run a complete drill. @throws GuardError (3) before anything is done, EnvironmentError (4), InterruptedError (130/143) after teardown. */
export async function runDrill(opts: RunDrillOptions = {}): Promise<DrillResult> {
  const s = await prepareRun(opts);
  const { config, guard: { guarded } } = s;
  // One drill of a database per out directory at a time (exit 3 otherwise); released however the drill ends.
  await using _drillLock = await acquireDrillLock(s.outDir, guarded.identity.database);
  const runDir = await createRunDir(s.outDir, guarded.identity.database, s.startedAt);
  const logger = teeLogger(opts.logger ?? silentLogger, fileLogger(join(runDir, 'run.log'), guarded.scrub));
  const builder = new ReportBuilder(s.progress, logger, runDir);
  const ctx: DrillContext = { bins: s.bins, sandboxUser: s.env.sandboxUser, logger, progress: s.progress, builder, runDir, signal: opts.signal };
  recordRunStart(ctx, s);
  await using footprint = await FootprintMeter.start({ connection: guarded.spec.connection, audit: guarded.audit, atClose: guarded.atClose, logger }); // what the drill costs the source
  const drilled = await drillStages(ctx, s, opts, footprint);
  const { ending } = drilled;
  // 6. Production untouched: identity and catalog fingerprint again, and the audit judged.
  const proof = await proofStage(builder, guarded, { what: 'drill', signal: opts.signal, interrupted: ending.interrupted !== null, footprint });
  // A signal whose interruption a stage recorded as a failed check (or that came during this proof) still ends the drill as interrupted.
  const interrupted = ending.interrupted ?? (opts.signal?.aborted ? (opts.signal.reason instanceof InterruptedError ? opts.signal.reason : new InterruptedError('SIGINT')) : null);
  const { identity } = guarded;
  const report = assembleReport({
    kind: opts.kind ?? 'run', runDir, startedAt: s.startedAt, argv: opts.argv ?? [], scrub: guarded.scrub, metadata: config.metadata,
    versions: versionsReport(s.bins, { source: identity.serverVersion, pgDump: s.bins.version('pg_dump'), targetMajor: opts.targetMajor ?? null }),
    source: sourceSections(guarded, drilled.backup?.snapshot ?? null),
    backup: freshBackupSection(drilled.backup ?? { dump: null, globals: null, selfCheck: null, sumsPath: null }, s.format, s.bins.version('pg_dump').text),
    content: drilled.content, restored: drilled.restored, proof,
  });
  return finishReport({
    builder, report, runDir, startedAt: s.startedAt, config, jail: s.env.jail, scanOpts: s.env.scanOpts, logger, junit: opts.junit, metrics: opts.metrics, interrupted, fatal: ending.fatal,
  });
}

/** Config, environment, the guard (1), the programs for the source's major and the lock-table check: before any file exists. */
async function prepareRun(opts: RunDrillOptions): Promise<RunSetup> {
  const config: DrillConfig = validateConfig(opts.config ?? {}); // always: an object that merely looks validated may not be
  const startedAt = new Date();
  const progress = opts.progress ?? (() => {});
  const env = await resolveDrillEnvironment(config);
  const sandboxMajor = sandboxMajorOf(opts);
  const format: DumpFormat = opts.format ?? config.backup.format;
  const outDir = opts.outDir ?? config.out ?? './drills';
  await assertOutputPaths({ junit: opts.junit, metrics: opts.metrics, webhook: config.notify?.webhook });
  // 1. Identity guard — before any file exists. Every session on the source is read-only and bounded.
  const guardT0 = performance.now();
  const guarded = await guardStage(opts.source ?? config.source.url, config, { outDir, progress, signal: opts.signal });
  // The programs for the source's major, before any file exists: a missing pg_dump of that major is exit 4 here.
  const bins = await chooseToolchain(config, opts, { source: guarded.identity.serverVersion, sandboxMajor, dumpSource: true, archive: format !== 'plain' });
  // The round trip's schema-only pg_dump runs on the source only when its source side cannot come from the dump.
  const lockTable = withDumpWorkers(guarded.lockTable, format, config.backup.jobs, !schemaFromDumpPossible(bins, format));
  assertLockTableFits(lockTable, config.source.max_lock_table_share); // exit 3 before anything is done: see src/source/lock-table.ts
  const guard = { guarded, startedAt, durationMs: Math.round(performance.now() - guardT0) };
  return { config, startedAt, progress, env, format, outDir, guard, bins, lockTable };
}

/** The guard stage and what the run knows before its backup: the lock table, a standby's settings, the programs. */
function recordRunStart(ctx: DrillContext, s: RunSetup): void {
  const { builder, logger, bins, runDir } = ctx;
  const { spec, identity, standby } = s.guard.guarded;
  recordGuard(builder, s.progress, s.guard, s.config, 'drill');
  builder.add(lockTableCheck(s.lockTable));
  if (standby) builder.add(standbyCheck(standby));
  logger.info(`drill ${runDir}: source ${spec.redacted} sysid ${identity.systemIdentifier} db ${identity.database} server ${identity.serverVersionText}; pg_dump ${bins.version('pg_dump').text} (${bins.path('pg_dump')}); sandbox PostgreSQL ${bins.server.version.text} (${bins.server.bindir}): ${bins.server.reason}`);
  for (const [i, text] of bins.notes.entries()) builder.note(`toolchain-${i + 1}`, text);
}

/** 2-5: backup, content, restore with fidelity and teardown — and the overlap's sandbox torn down if no restore took it. */
async function drillStages(ctx: DrillContext, s: RunSetup, opts: RunDrillOptions, footprint: FootprintMeter | null): Promise<Drilled> {
  const { guarded } = s.guard;
  const { identity } = guarded;
  const fileBase = join(ctx.runDir, `${safeName(identity.database)}-${utcStamp(s.startedAt)}`);
  const runGlobals = (): Promise<GlobalsResult> => {
    guarded.audit.push({ at: new Date().toISOString(), by: 'pg_dumpall', sql: 'pg_dumpall --globals-only --no-role-passwords (catalog SELECTs on pg_roles, pg_auth_members, pg_tablespace; read-only session)' });
    // pg_dumpall writes in its session's client_encoding, which the role may set (`ALTER ROLE … SET client_encoding =
    // 'SJIS'`: a file the scanner must refuse). UTF8 holds any server encoding's names and is what the sandbox's
    // databases are replayed in; a SQL_ASCII source's bytes are kept as they are (its own encoding, unconverted).
    const env = guarded.encoding === 'SQL_ASCII' ? guarded.spec.toolEnv : { ...guarded.spec.toolEnv, PGCLIENTENCODING: 'UTF8' };
    return captureGlobals({ bins: ctx.bins, env, path: `${fileBase}.globals.sql`, signal: ctx.signal, logger: ctx.logger });
  };
  // Overlap (backup.overlap): the sandbox starts now, and pg_dumpall runs first — its roles must exist before psql replays the dump.
  const overlap = s.config.backup.overlap ? OverlappedRestore.begin(ctx, {
    format: s.format, database: identity.database, encoding: guarded.encoding, locale: guarded.locale, sourceSystemIdentifier: identity.systemIdentifier,
    captureGlobals: s.config.backup.globals ? runGlobals : null, sourceRoles: guarded.roles, sourceTablespaces: guarded.tablespaces, sourceRelations: guarded.lockTable.relations,
  }) : null;
  const settled = await settle(async () => {
    // 2. Fresh backup in the exported snapshot, counted on the source in the same snapshot.
    const backup = await freshBackupStage(ctx, {
      guarded, config: s.config, format: s.format, dumpPath: `${fileBase}${s.format === 'plain' ? '.sql' : s.format === 'custom' ? '.dump' : '.dir'}`,
      deep: opts.deep ?? false, scanOpts: s.env.scanOpts, overlap, captureGlobals: () => overlap?.globals ?? runGlobals(), footprint,
    });
    return { backup, ...(await contentAndRestore(ctx, s, opts, backup, overlap)) };
  });
  const done = settled.value;
  const ending = recordEnding(ctx.builder, ctx.logger, guarded.scrub, settled.ended ?? done?.restored.ended ?? null);
  // An early sandbox the restore stage did not take over (no restore, or the drill ended early) is torn down here.
  const why = ending.interrupted ? 'the drill was interrupted' : ending.fatal ? 'the drill ended early' : done?.backup.dump ? 'the dump did not pass the checks a restore requires' : 'no backup was taken';
  const discarded = await overlap?.discard(why, { dumpTaken: !!done?.backup.dump });
  const restored = done?.restored ?? notRestored();
  return { backup: done?.backup ?? null, content: done?.content ?? null, restored: discarded ? { ...restored, teardown: discarded } : restored, ending };
}

/** 3. Content check, from the dump's own text; 4-5. isolated restore, fidelity, confirmed teardown. */
async function contentAndRestore(ctx: DrillContext, s: RunSetup, opts: RunDrillOptions, backup: BackupResult, overlap: OverlappedRestore | null): Promise<{ content: ScanResult | null; restored: RestoreResult }> {
  const { dump, globals } = backup;
  const { guarded } = s.guard;
  const restorable = !!dump && !ctx.builder.failed;
  // After the restorable verdict: a table the source could not count fails the drill, but the dump is still checked and restored.
  if (backup.countFailures.length) ctx.builder.add(sourceCountsCheck(backup.countFailures));
  // Archives: one full pg_restore -f - pass gives the inventory and the hostile-content verdict of every entry.
  const content = dump ? await contentStage(ctx, {
    scan: async () => backup.scan ?? (await (backup.archiveScan?.result ?? scanArchive(ctx.bins, dump.path, ctx.signal, s.env.scanOpts))),
    archive: s.format !== 'plain', config: s.config, jail: s.env.jail, scanOpts: s.env.scanOpts, sourceObjects: backup.sourceObjects,
  }) ?? null : null;
  const scan = content?.scan ?? backup.scan;
  if (!dump || !scan || !restorable || content?.refused) {
    ctx.builder.skipStage('restore', dump ? 'not restored: an earlier check failed (see above)' : 'not restored: no backup was taken');
    return { content, restored: notRestored() };
  }
  const restored = await restoreStage(ctx, {
    artifact: { path: dump.path, format: s.format },
    globals: { path: globals?.path ?? null, mode: globals?.mode ?? 'none' },
    inventory: scan.inventory,
    database: guarded.identity.database, encoding: guarded.encoding, locale: guarded.locale,
    sourceSystemIdentifier: guarded.identity.systemIdentifier, sourceObjects: backup.sourceObjects, sourceCounts: backup.sourceCounts, sourceRelations: guarded.lockTable.relations,
    tablesFromDump: [], copyBlocks: scan.copyBlocks, pgDumpTransactionLines: s.format === 'plain' ? scan.pgDumpTransactionLines : [],
    matviewRefreshes: scan.matviewRefreshes, keep: opts.keep ?? false, jobs: s.config.backup.jobs,
    sourceFidelity: backup.sourceFidelity, afterRestore: opts.afterRestore, afterParallelRestore: opts.afterParallelRestore,
    prepared: overlap?.handOver(),
  });
  return { content, restored };
}
