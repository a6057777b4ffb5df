/**
 * `verifyPhysical`: drill a physical backup — a pg_basebackup output (plain or tar, with or without
 * backup_manifest) and, with `wal`, the WAL archive `archive_command = 'cp %p DIR/%f'` fills. Integrity first
 * (the backup's files, pg_verifybackup, WAL continuity to the target), then the backup restored into the jailed
 * sandbox and recovered to the target in isolation, the target proven reached, the recovered cluster checked
 * (connections, exact counts, amcheck, pg_checksums), the sandbox torn down — one report, as `verify` of a dump
 * writes (history, status, JUnit, metrics, webhook). The backup and the archive are only ever read.
 */
import type { OsUser } from '../exec/os-user.js';
import { join, resolve, sep, basename } from 'node:path';
import { validateConfig } from '../config/load.js';
import type { DrillConfig } from '../config/schema.js';
import { chooseToolchain, endsDrill, resolveDrillEnvironment, type DrillContext, type DrillEnvironment } from '../pipeline/context.js';
import { acquireDrillLock } from '../out-dir/drill-lock.js';
import { emptyReport } from '../pipeline/report/empty-report.js';
import { finishReport } from '../pipeline/report/finish-report.js';
import { assertOutDirSafe } from '../pipeline/guard/out-dir-guard.js';
import { createRunDir } from '../out-dir/run-dir.js';
import { versionsReport } from '../pipeline/report/versions-report.js';
import { ConfigError, InterruptedError } from '../errors.js';
import { resolveInputPath } from '../exec/input-file.js';
import { pathExists } from '../exec/path-exists.js';
import { fileLogger, silentLogger, teeLogger, type Logger } from '../logger.js';
import { assertOutputPaths } from '../outputs/publish.js';
import { ReportBuilder } from '../report/builder.js';
import type { CheckResult, PhysicalReport, Report, TableRow } from '../report/model.js';
import { guardSource, productionStage, type GuardedSource } from '../source/guard-and-proof.js';
import type { Toolchain } from '../toolchain/toolchain.js';
import { compareWithSourceNow } from './source-compare.js';
import type { VerifyOptions, VerifyResult } from '../verify/verify-artifact.js';
import { detectBackupLayout, type BackupLayout } from './backup-layout.js';
import { readBackupFacts, type BackupFacts } from './label-reader.js';
import { integrityStage, restoreStage, type RestoreOutcome } from './physical-stages.js';
import type { RepositoryStaging } from './backup-span.js';
import { describeTarget, lsnValue, parseRecoveryTarget, parseTargetTimeline, type RecoveryTarget } from './target.js';

/** Options of a physical verify: those of `verifyArtifact`, plus the WAL archive and the target. */
export interface PhysicalVerifyOptions extends VerifyOptions {
  /** The WAL archive directory. Default: none (the WAL inside the backup only). */
  readonly wal?: string;
  /** `immediate | latest | TIME | lsn:LSN | xid:XID | name:NAME`. Default: latest with `wal`, immediate without. */
  readonly target?: string;
  /** recovery_target_timeline: `latest`, `current` or a number. Default latest. */
  readonly targetTimeline?: string;
  /** Seconds to wait for recovery to end. Default 6 hours. */
  readonly recoveryTimeoutSeconds?: number;
  /** Checks already made of the backup (a repository tool's verify: repository-verify.ts), added first. */
  readonly integrity?: readonly CheckResult[];
  /** What the report calls the backup, when `artifact` is a staging copy of it (`pgbackrest:main@…`). */
  readonly artifactLabel?: string;
  /**
   * Where the backup comes from when it is not a directory already (a repository tool's restore:
   * repository-verify.ts). Called once the run directory exists, so that a restore that fails ends, like every other
   * failure, in a FAIL report. `artifact` and `wal` are then ignored. Default: `artifact` is the backup.
   */
  readonly obtain?: (signal?: AbortSignal) => Promise<ObtainedBackup>;
}

/** What `obtain` produced: a data directory and its WAL to drill, or why there is none (a verdict on the backup). */
export type ObtainedBackup =
  | { readonly ok: true; readonly dataDir: string; readonly walDir: string; readonly integrity: readonly CheckResult[]; readonly label: string; readonly staging?: RepositoryStaging }
  | {
    readonly ok: false; readonly integrity: readonly CheckResult[]; readonly label: string;
    /** The failed check that names the cause (`restore.repository`). */
    readonly failure: CheckResult;
    /** The staging directory the attempt used, already removed (teardown confirms it is gone). */
    readonly staging: string;
  };

/** Is `path` a physical backup (a pg_basebackup output), by its content? */
export async function isPhysicalBackup(path: string): Promise<boolean> {
  return (await detectBackupLayout(resolve(path))) !== null;
}

/** A backup on disk, read enough to drill it. */
interface PhysicalInput {
  readonly artifact: string;
  readonly layout: BackupLayout;
  readonly walDir: string | null;
  readonly facts: BackupFacts;
  readonly bins: Toolchain;
  readonly integrity: readonly CheckResult[];
  readonly label: string;
  /** The backup and its WAL are pgdrill's own restore out of a repository: moved into the sandbox, not copied. */
  readonly staging?: RepositoryStaging | null;
}

/** Everything settled before any file is written: a problem here is a ConfigError (2), GuardError (3) or EnvironmentError (4). */
interface Settled {
  readonly config: DrillConfig;
  readonly outDir: string;
  readonly env: DrillEnvironment;
  readonly source: GuardedSource | null;
  /** The local backup; null when `obtain` fetches it inside the run. */
  readonly local: PhysicalInput | null;
  readonly target: RecoveryTarget;
  readonly targetTimeline: string | undefined;
  readonly database: string;
}

/** Read a backup directory (and its WAL archive) and choose the server that recovers it. @throws ConfigError */
async function readInput(dir: string, walDir: string | null, config: DrillConfig, opts: PhysicalVerifyOptions, extra: { integrity: readonly CheckResult[]; label: string | undefined; osUser: OsUser | null }): Promise<PhysicalInput> {
  const layout = await detectBackupLayout(dir);
  if (!layout) throw new ConfigError(`${dir} is not a pg_basebackup output (no backup_label, backup_manifest or base.tar in it)`);
  const facts = await readBackupFacts(layout, opts.signal, extra.osUser);
  const bins = await chooseToolchain(config, opts, { source: null, sandboxMajor: opts.sandboxMajor ?? facts.major ?? undefined, dumpSource: false, archive: false });
  return { artifact: dir, layout, walDir, facts, bins, integrity: extra.integrity, label: extra.label ?? dir };
}

async function settle(opts: PhysicalVerifyOptions): Promise<Settled> {
  const config: DrillConfig = validateConfig(opts.config ?? {});
  const artifact = opts.obtain ? null : (await resolveInputPath(opts.artifact, 'the backup', { allowDirectory: true })).path;
  const walDir = opts.wal && !opts.obtain ? (await resolveInputPath(opts.wal, '--wal', { allowDirectory: true })).path : null;
  const target = parseRecoveryTarget(opts.target, walDir !== null || opts.obtain !== undefined);
  const targetTimeline = parseTargetTimeline(opts.targetTimeline);
  if (opts.deep) throw new ConfigError('--deep is not supported for physical backups yet: with --source the recovered copy\'s exact counts are compared with the source\'s now');
  const outDir = resolve(opts.outDir ?? config.out ?? './drills');
  for (const inside of [artifact, walDir]) {
    if (inside && (outDir === inside || outDir.startsWith(inside + sep))) throw new ConfigError(`--out ${outDir} is inside ${inside}: verify never writes into what it verifies; choose another --out`);
  }
  await assertOutputPaths({ junit: opts.junit, metrics: opts.metrics, webhook: config.notify?.webhook });
  await assertOutDirSafe(null, outDir);
  const env = await resolveDrillEnvironment(config);
  // The source, when given: guarded before any file exists (exit 3 on a pin mismatch); only ever read.
  const source = opts.source ? await guardSource(opts.source, config, { signal: opts.signal, checks: (db) => assertOutDirSafe(db, outDir) }) : null;
  const local = artifact ? await readInput(artifact, walDir, config, opts, { integrity: opts.integrity ?? [], label: opts.artifactLabel, osUser: env.sandboxUser }) : null;
  const database = opts.database ?? source?.identity.database ?? config.source.database ?? basename(artifact ?? opts.artifact);
  return { config, outDir, env, source, local, target, targetTimeline, database };
}

/** The run: its directory, log, report builder and report, begun before anything is read of the backup's content. */
interface PhysicalRun {
  readonly runDir: string;
  readonly startedAt: Date;
  readonly logger: Logger;
  readonly builder: ReportBuilder;
  readonly report: Report;
}

async function openRun(s: Settled, opts: PhysicalVerifyOptions): Promise<PhysicalRun> {
  const startedAt = new Date();
  const runDir = await createRunDir(s.outDir, s.database, startedAt);
  const scrub = s.source?.scrub ?? ((x: string) => x);
  const logger = teeLogger(opts.logger ?? silentLogger, fileLogger(join(runDir, 'run.log'), scrub));
  const builder = new ReportBuilder(opts.progress ?? (() => {}), logger, runDir);
  const report = emptyReport('verify', runDir, startedAt, opts.argv ?? [], scrub, s.config.metadata);
  report.backup = { ...report.backup, path: opts.artifactLabel ?? opts.artifact };
  if (s.source) describeSource(builder, report, s.source);
  return { runDir, startedAt, logger, builder, report };
}

/** How the drill ended: what the restore produced, or the error that ended it early. */
interface Ending {
  readonly outcome: RestoreOutcome | null;
  readonly interrupted: InterruptedError | null;
  readonly fatal: unknown;
}

/** Drill a physical backup. @throws ConfigError (2), GuardError (3), EnvironmentError (4), InterruptedError after teardown. */
export async function verifyPhysical(opts: PhysicalVerifyOptions): Promise<VerifyResult> {
  const s = await settle(opts);
  await using drillLock = await acquireDrillLock(s.outDir, s.database);
  void drillLock;
  const run = await openRun(s, opts);
  const { builder, report } = run;
  const end = await drill(s, run, opts);
  if (s.source) report.production_untouched = await productionStage(builder, s.source, report, { what: 'verify', endsOnInterrupt: true });
  const o = end.outcome;
  report.tables = o?.tables ?? [];
  report.teardown = o?.teardown
    ? { confirmed: o.teardown.confirmed, detail: o.teardown.detail, postmaster_pid: o.teardown.postmasterPid }
    : { confirmed: !o?.kept, detail: o?.kept ? `kept running: ${o.kept.url()}` : 'the sandbox is gone (see teardown.confirmed)', postmaster_pid: null };
  const result = await finishReport({ ...run, config: s.config, jail: s.env.jail, scanOpts: s.env.scanOpts, junit: opts.junit, metrics: opts.metrics, interrupted: end.interrupted, fatal: end.fatal });
  // A configuration the repository tool refused (its repository unreadable by the sandbox user): exit 2, report written.
  if (end.fatal instanceof ConfigError) throw end.fatal;
  return result;
}

/** Obtain the backup (if a repository's), check it, restore it, check the copy: every failure becomes a check, the report the single ending. */
async function drill(s: Settled, run: PhysicalRun, opts: PhysicalVerifyOptions): Promise<Ending> {
  const { builder, logger } = run;
  try {
    const input = s.local ?? await obtainInput(s, run, opts);
    if (!input) return { outcome: null, interrupted: null, fatal: null };
    return { outcome: await drillInput(s, run, input, opts), interrupted: null, fatal: null };
  } catch (err) {
    if (!endsDrill(err) || !(err instanceof InterruptedError)) logger.debug(`drill aborted: ${(err as Error)?.stack ?? String(err)}`);
    builder.add({ name: 'drill.aborted', stage: 'drill', status: 'fail', detail: (err as Error).message });
    return { outcome: null, interrupted: err instanceof InterruptedError ? err : null, fatal: err instanceof InterruptedError ? null : err };
  }
}

/** The repository tool's restore, inside the run: a failure is reported (its findings, the cause, the staging gone). */
async function obtainInput(s: Settled, run: PhysicalRun, opts: PhysicalVerifyOptions): Promise<PhysicalInput | null> {
  const got = await opts.obtain!(opts.signal);
  run.report.backup = { ...run.report.backup, path: got.label };
  if (got.ok) return { ...(await readInput(got.dataDir, got.walDir, s.config, opts, { integrity: got.integrity, label: got.label, osUser: s.env.sandboxUser })), staging: got.staging ?? null };
  const b = run.builder;
  run.logger.info(`${got.label} could not be restored: ${got.failure.detail}`);
  await b.stage('backup', async () => { for (const c of got.integrity) b.add(c); }, endsDrill);
  await b.stage('restore', async () => b.add(got.failure), endsDrill);
  b.skipStage('fidelity', 'not checked: the backup could not be restored out of its repository (see above)');
  await b.stage('teardown', async () => {
    const gone = !(await pathExists(got.staging));
    b.expect('teardown.confirmed', 'teardown', gone, `no sandbox was started; the restore's staging directory ${got.staging} was removed`, `${got.staging} is still there after the failed restore`);
  }, () => false);
  return null;
}

/** Integrity, then restore and checks, of a backup on disk. */
async function drillInput(s: Settled, run: PhysicalRun, input: PhysicalInput, opts: PhysicalVerifyOptions): Promise<RestoreOutcome | null> {
  const { builder, logger, report, runDir } = run;
  const { layout, facts, walDir, bins } = input;
  const ctx: DrillContext = { bins, sandboxUser: s.env.sandboxUser, logger, progress: opts.progress ?? (() => {}), builder, runDir, signal: opts.signal };
  report.versions = versionsReport(bins, { source: null, pgDump: null, targetMajor: null });
  report.backup = { ...report.backup, path: input.label, format: layout.format === 'plain' ? 'basebackup-plain' : 'basebackup-tar', tool: `pg_basebackup (${layout.format} format${layout.manifest ? ', with backup_manifest' : ''})` };
  logger.info(`verify physical backup ${input.artifact} (${layout.format}) to ${describeTarget(s.target)}${walDir ? ` with the WAL archive ${walDir}` : ''}; PostgreSQL ${facts.major ?? '?'}; sandbox ${bins.server.version.text} (${bins.server.bindir})`);
  const source = s.source;
  const plan = {
    layout, facts, walDir, target: s.target, targetTimeline: s.targetTimeline, keep: opts.keep ?? false, timeoutSeconds: opts.recoveryTimeoutSeconds ?? 6 * 3600, integrity: input.integrity, staging: input.staging ?? null,
    compareWithSource: source ? (tables: readonly TableRow[], sysid: string | null) => compareWithSourceNow(builder, source, s.config, tables, sysid, opts.signal) : undefined,
  };
  let outcome: RestoreOutcome | null = null;
  try {
    const wal = await integrityStage(ctx, plan);
    if (!builder.failed) outcome = await restoreStage(ctx, plan, wal);
    else builder.skipStage('restore', 'not restored: an integrity check failed (see above) — the backup never reached a server');
    return outcome;
  } finally {
    report.physical = physicalReport(layout, plan, outcome);
  }
}

/** The source in the report, and `guard.identity` (the guard itself ran before any file existed). */
function describeSource(b: ReportBuilder, report: Report, source: GuardedSource): void {
  const id = source.identity;
  b.add({ name: 'guard.identity', stage: 'guard', status: 'pass', detail: `source system_identifier ${id.systemIdentifier}, database ${id.database}`, evidence: { system_identifier: id.systemIdentifier, database: id.database } });
  b.note('source-not-snapshot-exact', `every comparison with the source (${source.spec.redacted}) is against its state now, not the backup's moment: differences can be changes made since`);
  report.source = {
    url: source.spec.redacted, database: id.database, system_identifier: id.systemIdentifier, server_version: id.serverVersionText, user: id.user,
    is_superuser: id.isSuperuser, can_write: source.capability.canWrite, can_write_detail: source.capability.detail, in_recovery: id.inRecovery, snapshot: null,
  };
  report.production.system_identifier_before = id.systemIdentifier;
  report.production.fingerprint_before = `${source.before.fingerprint} (${source.before.items} items)`;
  report.production.session_settings = `${source.spec.sessionOptions} application_name=pgdrill`;
}

/** The report's `physical` section. */
function physicalReport(layout: BackupLayout, plan: { facts: BackupFacts; walDir: string | null; target: RecoveryTarget; targetTimeline: string | undefined }, o: RestoreOutcome | null): PhysicalReport {
  const label = plan.facts.label;
  const r = o?.recovered ?? null;
  const log = r?.log ?? null;
  const start = lsnValue(label?.startLsn);
  const end = lsnValue(o?.replay?.lsn);
  const replayed = start !== null && end !== null && end >= start ? Number(end - start) : null;
  const rto = r && o?.checksMs !== null ? r.copyMs + r.recoveryMs + (o?.checksMs ?? 0) : r ? r.copyMs + r.recoveryMs : null;
  return {
    layout: layout.format, manifest: layout.manifest, wal_dir: plan.walDir, start_lsn: label?.startLsn ?? null, start_timeline: label?.timeline ?? null,
    backup_end_lsn: plan.facts.walRange?.endLsn ?? log?.consistentAt ?? null, target: describeTarget(plan.target), target_timeline: plan.targetTimeline ?? 'latest',
    reached: {
      lsn: o?.replay?.lsn ?? null, last_commit_time: o?.replay?.lastCommit ?? null, stop_line: log?.stopLine ?? null, consistent_at: log?.consistentAt ?? null,
      redo_done_at: log?.redoDone ?? null, new_timeline: log?.newTimeline ?? null, fatal: log?.fatal ?? null,
    },
    wal: {
      staged_segments: r?.staged?.segments ?? 0, history_files: r?.staged?.histories ?? 0, restored_segments: log?.restoredSegments ?? 0,
      replayed_bytes: replayed, replay_ms: r?.recoveryMs ?? null, replay_bytes_per_s: replayed !== null && r?.recoveryMs ? Math.round(replayed / (r.recoveryMs / 1000)) : null,
    },
    isolation: o?.physical.isolation ?? { system_identifier: null, settings: {}, overridden: [], preload_dropped: [], tcp_sockets: null },
    data_checksums: o?.physical.data_checksums ?? null,
    databases: o?.physical.databases ?? [],
    timings: { copy_ms: r?.copyMs ?? null, recovery_ms: r?.recoveryMs ?? null, checks_ms: o?.checksMs ?? null, rto_ms: rto },
  };
}
