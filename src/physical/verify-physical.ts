/**
 * `verifyPhysical`: drill a physical backup — a pg_basebackup output (plain or tar, with or without
 * backup_manifest) and, with `wal`, the WAL archive `archive_command = 'cp %p DIR/%f'` fills. Integrity first
 * (the backup's files, pg_verifybackup, WAL continuity to the target), then the backup restored into the jailed
 * sandbox and recovered to the target in isolation, the target proven reached, the recovered cluster checked
 * (connections, exact counts, amcheck, pg_checksums), the sandbox torn down — one report, as `verify` of a dump
 * writes (history, status, JUnit, metrics, webhook). The backup and the archive are only ever read.
 */
import { join, resolve, sep, basename } from 'node:path';
import { validateConfig } from '../config/load.js';
import type { DrillConfig } from '../config/schema.js';
import { chooseToolchain, endsDrill, resolveDrillEnvironment, type DrillContext } from '../pipeline/context.js';
import { acquireDrillLock } from '../pipeline/drill-lock.js';
import { emptyReport } from '../pipeline/report/empty-report.js';
import { finishReport } from '../pipeline/report/finish-report.js';
import { assertOutDirSafe } from '../pipeline/guard/out-dir-guard.js';
import { createRunDir } from '../pipeline/run-dir.js';
import { versionsReport } from '../pipeline/report/versions-report.js';
import { ConfigError, InterruptedError } from '../errors.js';
import { resolveInputPath } from '../exec/input-file.js';
import { fileLogger, silentLogger, teeLogger } from '../logger.js';
import { assertOutputPaths } from '../outputs/publish.js';
import { ReportBuilder } from '../report/builder.js';
import type { CheckResult, PhysicalReport, Report, TableRow } from '../report/model.js';
import { guardSource, productionStage, type GuardedSource } from '../source/guard-and-proof.js';
import { compareWithSourceNow } from './source-compare.js';
import type { VerifyOptions, VerifyResult } from '../verify/verify-artifact.js';
import { detectBackupLayout, type BackupLayout } from './backup-layout.js';
import { readBackupFacts } from './label-reader.js';
import { integrityStage, restoreStage, type RestoreOutcome } from './physical-stages.js';
import { describeTarget, lsnValue, parseRecoveryTarget, parseTargetTimeline } from './target.js';
import type { RepositoryStaging } from './backup-span.js';

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
}

/** Is `path` a physical backup (a pg_basebackup output), by its content? */
export async function isPhysicalBackup(path: string): Promise<boolean> {
  return (await detectBackupLayout(resolve(path))) !== null;
}

/**
 * Drill a physical backup. `staging`: only from repository-verify.ts, whose private restore `artifact` and `wal` are.
 * @throws ConfigError (2), GuardError (3), EnvironmentError (4), InterruptedError after teardown.
 */
export async function verifyPhysical(opts: PhysicalVerifyOptions, staging?: RepositoryStaging): Promise<VerifyResult> {
  const config: DrillConfig = validateConfig(opts.config ?? {});
  const artifact = (await resolveInputPath(opts.artifact, 'the backup', { allowDirectory: true })).path;
  const layout = await detectBackupLayout(artifact);
  if (!layout) throw new ConfigError(`${artifact} is not a pg_basebackup output (no backup_label, backup_manifest or base.tar in it)`);
  const walDir = opts.wal ? (await resolveInputPath(opts.wal, '--wal', { allowDirectory: true })).path : null;
  const target = parseRecoveryTarget(opts.target, walDir !== null);
  const targetTimeline = parseTargetTimeline(opts.targetTimeline);
  if (opts.deep) throw new ConfigError('--deep is not supported for physical backups yet: with --source the recovered copy\'s exact counts are compared with the source\'s now');
  const outDir = resolve(opts.outDir ?? config.out ?? './drills');
  for (const inside of [artifact, walDir]) {
    if (inside && (outDir === inside || outDir.startsWith(inside + sep))) throw new ConfigError(`--out ${outDir} is inside ${inside}: verify never writes into what it verifies; choose another --out`);
  }
  await assertOutputPaths({ junit: opts.junit, metrics: opts.metrics });
  await assertOutDirSafe(null, outDir);
  const { sandboxUser, jail, scanOpts } = await resolveDrillEnvironment(config);
  // The source, when given: guarded before any file exists (exit 3 on a pin mismatch); only ever read.
  const source = opts.source ? await guardSource(opts.source, config, { signal: opts.signal, checks: (db) => assertOutDirSafe(db, outDir) }) : null;
  const facts = await readBackupFacts(layout, opts.signal);
  const bins = await chooseToolchain(config, opts, { source: null, sandboxMajor: opts.sandboxMajor ?? facts.major ?? undefined, dumpSource: false, archive: false });
  const database = opts.database ?? source?.identity.database ?? config.source.database ?? basename(artifact);
  const startedAt = new Date();
  await using drillLock = await acquireDrillLock(outDir, database);
  void drillLock;
  const runDir = await createRunDir(outDir, database, startedAt);
  const scrub = source?.scrub ?? ((s: string) => s);
  const logger = teeLogger(opts.logger ?? silentLogger, fileLogger(join(runDir, 'run.log'), scrub));
  const progress = opts.progress ?? (() => {});
  const builder = new ReportBuilder(progress, logger, runDir);
  const ctx: DrillContext = { bins, sandboxUser, logger, progress, builder, runDir, signal: opts.signal };
  const report = emptyReport('verify', runDir, startedAt, opts.argv ?? [], scrub, config.metadata);
  if (source) describeSource(builder, report, source);
  report.versions = versionsReport(bins, { source: null, pgDump: null, targetMajor: null });
  report.backup = { ...report.backup, path: opts.artifactLabel ?? artifact, format: layout.format === 'plain' ? 'basebackup-plain' : 'basebackup-tar', tool: `pg_basebackup (${layout.format} format${layout.manifest ? ', with backup_manifest' : ''})` };
  logger.info(`verify physical backup ${artifact} (${layout.format}) to ${describeTarget(target)}${walDir ? ` with the WAL archive ${walDir}` : ''}; PostgreSQL ${facts.major ?? '?'}; sandbox ${bins.server.version.text} (${bins.server.bindir})`);
  const plan = {
    layout, facts, walDir, target, targetTimeline, keep: opts.keep ?? false, timeoutSeconds: opts.recoveryTimeoutSeconds ?? 6 * 3600, integrity: opts.integrity ?? [], staging: staging ?? null,
    compareWithSource: source ? (tables: readonly TableRow[], sysid: string | null) => compareWithSourceNow(builder, source, config, tables, sysid, opts.signal) : undefined,
  };
  let interrupted: InterruptedError | null = null;
  let fatal: unknown = null;
  let outcome: RestoreOutcome | null = null;
  try {
    const wal = await integrityStage(ctx, plan);
    if (!builder.failed) outcome = await restoreStage(ctx, plan, wal);
    else builder.skipStage('restore', 'not restored: an integrity check failed (see above) — the backup never reached a server');
    report.physical = physicalReport(layout, plan, outcome, wal?.lastSegment ?? null);
  } catch (err) {
    if (err instanceof InterruptedError) interrupted = err;
    else fatal = err;
    if (!endsDrill(err) || !(err instanceof InterruptedError)) logger.debug(`drill aborted: ${(err as Error)?.stack ?? String(err)}`);
    builder.add({ name: 'drill.aborted', stage: 'drill', status: 'fail', detail: (err as Error).message });
  }
  if (source) report.production_untouched = await productionStage(builder, source, report, { what: 'verify', endsOnInterrupt: true });
  report.tables = outcome?.tables ?? [];
  report.teardown = outcome?.teardown
    ? { confirmed: outcome.teardown.confirmed, detail: outcome.teardown.detail, postmaster_pid: outcome.teardown.postmasterPid }
    : { confirmed: !outcome?.kept, detail: outcome?.kept ? `kept running: ${outcome.kept.url()}` : 'the sandbox is gone (see teardown.confirmed)', postmaster_pid: null };
  return finishReport({ builder, report, runDir, startedAt, config, jail, scanOpts, logger, junit: opts.junit, metrics: opts.metrics, interrupted, fatal });
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
function physicalReport(layout: BackupLayout, plan: { facts: Awaited<ReturnType<typeof readBackupFacts>>; walDir: string | null; target: ReturnType<typeof parseRecoveryTarget>; targetTimeline: string | undefined }, o: RestoreOutcome | null, lastSegment: string | null): PhysicalReport {
  const label = plan.facts.label;
  const r = o?.recovered ?? null;
  const log = r?.log ?? null;
  const start = lsnValue(label?.startLsn);
  const end = lsnValue(o?.replay?.lsn);
  const replayed = start !== null && end !== null && end >= start ? Number(end - start) : null;
  const rto = r && o?.checksMs !== null ? r.copyMs + r.recoveryMs + (o?.checksMs ?? 0) : r ? r.copyMs + r.recoveryMs : null;
  void lastSegment;
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
