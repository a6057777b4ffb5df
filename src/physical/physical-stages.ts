/**
 * The stages of a physical drill, each adding its checks to the report builder: integrity (files, manifest, WAL
 * continuity) before anything is restored; then the restore and recovery, the proof and the isolation, the
 * recovered cluster's checks and the teardown.
 */
import { join } from 'node:path';
import { endsDrill, type DrillContext } from '../pipeline/context.js';
import type { CheckResult, PhysicalReport, TableRow } from '../report/model.js';
import type { SandboxCluster, TeardownResult } from '../sandbox/cluster.js';
import { pathExists } from '../exec/path-exists.js';
import type { BackupLayout } from './backup-layout.js';
import { amcheckDatabases, checksumsCheck, countDatabases, listDatabases, serverProgram } from './cluster-checks.js';
import { physicalFilesCheck, runVerifyBackup } from './integrity.js';
import { physicalIsolation } from './isolation.js';
import type { BackupFacts } from './label-reader.js';
import { recoverInSandbox, StoppedFromOutside, type RecoverResult } from './recover.js';
import { readReplayFacts, recoveryTargetCheck, type ReplayFacts } from './recovery-proof.js';
import { recoveryTargetSettings, type RecoveryTarget } from './target.js';
import { checkWalContinuity, type WalContinuity } from './wal-archive.js';
import type { RepositoryStaging } from './backup-span.js';

/** What the physical stages work on. */
export interface PhysicalPlan {
  readonly layout: BackupLayout;
  readonly facts: BackupFacts;
  readonly walDir: string | null;
  readonly target: RecoveryTarget;
  readonly targetTimeline: string | undefined;
  readonly keep: boolean;
  /** Seconds to wait for recovery to end. */
  readonly timeoutSeconds: number;
  /** Checks made before (a repository tool's own verify), added first to the backup stage. */
  readonly integrity?: readonly CheckResult[];
  /** The backup and WAL are pgdrill's own restore out of a repository: moved into the sandbox, not copied. */
  readonly staging?: RepositoryStaging | null;
  /** With --source: compare the recovered tables with the source now (`fidelity.source_rows_now`). */
  readonly compareWithSource?: (tables: readonly TableRow[], copySystemIdentifier: string | null) => Promise<CheckResult>;
}

/** Integrity first: the backup's files, pg_verifybackup, WAL continuity. Returns the continuity (null without --wal). */
export async function integrityStage(ctx: DrillContext, plan: PhysicalPlan): Promise<WalContinuity | null> {
  const b = ctx.builder;
  let wal: WalContinuity | null = null;
  await b.stage('backup', async () => {
    for (const c of plan.integrity ?? []) b.add(c);
    const files = await physicalFilesCheck(plan.layout, plan.facts);
    b.add(files);
    if (!plan.layout.manifest) {
      b.add({ name: 'backup.pg_verifybackup', stage: 'backup', status: 'skip', detail: 'the backup has no backup_manifest (pg_basebackup --no-manifest, or PostgreSQL 12 or older): its files cannot be checked against one' });
    } else if (plan.layout.format === 'tar') {
      // pg_verifybackup before 18 reads plain backups only: the tar is checked once extracted, before the server starts.
    } else {
      const prog = await serverProgram(ctx.bins, 'pg_verifybackup');
      b.add(prog
        ? await runVerifyBackup(prog, plan.layout.dir, { skipWal: plan.walDir !== null, signal: ctx.signal })
        : { name: 'backup.pg_verifybackup', stage: 'backup', status: 'warn', detail: `no pg_verifybackup beside the server in ${ctx.bins.server.bindir}: the files were not checked against backup_manifest` });
    }
    const label = plan.facts.label;
    if (!plan.walDir) {
      b.add({ name: 'backup.wal_continuity', stage: 'backup', status: 'skip', detail: 'no --wal: recovery uses the WAL inside the backup (pg_basebackup -X stream) and ends at the backup\'s end' });
    } else if (label) {
      const tl = plan.targetTimeline === undefined || plan.targetTimeline === 'latest' ? 'latest' : plan.targetTimeline === 'current' ? label.timeline : Number(plan.targetTimeline);
      const until = plan.target.kind === 'lsn' ? plan.target.lsn : undefined;
      // The check leaves the checked WAL for recovery (copied as it is read; a repository's fetched WAL in place).
      const stage = plan.staging?.walInPlace ? { inPlace: true as const } : b.failed ? undefined : { into: join(ctx.runDir, 'wal-checked') };
      wal = await checkWalContinuity({ walDir: plan.walDir, start: { timeline: label.timeline, lsn: label.startLsn }, targetTimeline: tl, untilLsn: until, signal: ctx.signal, osUser: ctx.sandboxUser, stage });
      const missing = wal.missingHistory ?? wal.firstMissing ?? wal.firstUnreadable?.segment ?? null;
      b.add({
        // Segments missing after the archive's end that a backup or timeline history file shows: a warning, since
        // they may still be on their way (archiving lags), and recovery to the end replays what is there.
        name: 'backup.wal_continuity', stage: 'backup', status: !wal.ok ? 'fail' : wal.end?.short ? 'warn' : 'pass',
        detail: wal.ok ? wal.detail : `${wal.detail}${missing && !wal.detail.includes(missing) ? ` (first missing: ${missing})` : ''} — found before recovery started`,
        evidence: { ...wal, staged: undefined },
      });
    }
  }, endsDrill);
  return wal;
}

/** What the restore stage produced, for the report. */
export interface RestoreOutcome {
  readonly recovered: RecoverResult | null;
  readonly replay: ReplayFacts | null;
  readonly physical: Partial<PhysicalReport>;
  readonly tables: TableRow[];
  readonly teardown: TeardownResult | null;
  readonly checksMs: number | null;
  readonly kept: SandboxCluster | null;
}

/** Restore, recover, prove, check, tear down. */
export async function restoreStage(ctx: DrillContext, plan: PhysicalPlan, wal: WalContinuity | null): Promise<RestoreOutcome> {
  const b = ctx.builder;
  const out = { recovered: null as RecoverResult | null, replay: null as ReplayFacts | null, physical: {} as Partial<PhysicalReport>, tables: [] as TableRow[], teardown: null as TeardownResult | null, checksMs: null as number | null, kept: null as SandboxCluster | null };
  let cluster: SandboxCluster | null = null;
  /** The sandbox of a server stopped from outside during recovery (already torn down): confirmed gone below. */
  let stoppedRoot: string | null = null;
  try {
    await b.stage('restore', async () => {
      const r = await recoverInSandbox({
        bins: ctx.bins, layout: plan.layout, walDir: plan.walDir, startSegment: plan.facts.label!.startSegment,
        recoverySettings: recoveryTargetSettings(plan.target, plan.targetTimeline), parentDir: join(ctx.runDir), osUser: ctx.sandboxUser,
        logger: ctx.logger, signal: ctx.signal, timeoutSeconds: plan.timeoutSeconds,
        verifyBackup: plan.layout.format === 'tar' && plan.layout.manifest ? await serverProgram(ctx.bins, 'pg_verifybackup') : null,
        stagedWal: wal?.staged ?? null, adoptBackup: plan.staging !== null && plan.staging !== undefined, priorCopyMs: (plan.staging?.restoredMs ?? 0) + (wal?.staged?.ms ?? 0),
      }).catch((err: unknown) => {
        if (err instanceof StoppedFromOutside) stoppedRoot = err.rootDir;
        throw err;
      });
      out.recovered = r;
      if (r.copyFailure) return void b.add({ name: 'restore.physical_copy', stage: 'restore', status: 'fail', detail: `${r.copyFailure} — the server was never started`, evidence: { sandbox: r.rootDir } });
      if (plan.layout.format === 'tar' && plan.layout.manifest) {
        b.add(r.verified ?? { name: 'backup.pg_verifybackup', stage: 'backup', status: 'warn', detail: `no pg_verifybackup beside the server in ${ctx.bins.server.bindir}: the files were not checked against backup_manifest` });
        if (r.verified?.status === 'fail') return; // the server was never started
      }
      cluster = r.cluster;
      // Every recovery that ran is judged, whatever fails after it: a copy that cannot be asked where its recovery
      // ended is a recovery not proven, named as such (and the error is the stage's too).
      let unasked: unknown = null;
      try {
        if (cluster) {
          await using db = await cluster.open('postgres', ctx.signal).catch(() => cluster!.open('template1', ctx.signal));
          out.replay = await readReplayFacts(db);
          const iso = await physicalIsolation(db, cluster.socketDir, r.config);
          out.physical = { isolation: { system_identifier: iso.systemIdentifier, settings: iso.settings, overridden: [...(r.config?.overridden ?? [])], preload_dropped: [...(r.config?.preloadDropped ?? [])], tcp_sockets: iso.tcpSockets } };
          b.add(iso.check);
          out.physical = { ...out.physical, data_checksums: (await db.value<string>('SHOW data_checksums')) === 'on' };
        }
      } catch (err) {
        unasked = err;
        throw err;
      } finally {
        if (!endsDrill(unasked)) {
          const notAsked = cluster && !out.replay && unasked ? `the promoted copy could not be asked where its recovery ended: ${(unasked as Error).message}` : null;
          b.add(recoveryTargetCheck(r.log, out.replay, {
            target: plan.target, backupEndLsn: plan.facts.walRange?.endLsn ?? null, backupStartTime: plan.facts.label?.startTime ?? null, lastArchivedSegment: wal?.lastSegment ?? null, failure: r.failure ?? notAsked, walArchive: plan.walDir !== null,
          }));
        }
      }
    }, endsDrill);
    const c = cluster as SandboxCluster | null;
    if (c && !b.failed) {
      const t0 = performance.now();
      await b.stage('fidelity', async () => {
        const names = await listDatabases(c, ctx.signal);
        const counted = await countDatabases(c, names, out.tables, ctx.signal);
        b.add(counted.check);
        out.physical = { ...out.physical, databases: counted.databases };
        b.add(await amcheckDatabases(c, ctx.bins, names.filter((n) => n !== 'template1'), ctx.signal));
        if (plan.compareWithSource) b.add(await plan.compareWithSource(out.tables, out.physical.isolation?.system_identifier ?? null));
        if (!plan.keep) b.add(await checksumsCheck(c, ctx.bins, out.physical.data_checksums ?? false, ctx.signal));
      }, endsDrill);
      out.checksMs = Math.round(performance.now() - t0);
    } else if (c) {
      b.skipStage('fidelity', 'not checked: the recovery or its isolation failed (see above)');
    }
  } finally {
    out.teardown = await finishSandbox(ctx, cluster, plan.keep && !b.failed, out.recovered?.rootDir ?? stoppedRoot, stoppedRoot ? 'was stopped from outside pgdrill during recovery' : 'stopped when recovery failed');
    if (plan.keep && cluster && !b.failed) out.kept = cluster;
  }
  return out;
}

/** Stop and remove the sandbox (or leave it running with --keep) and add `teardown.confirmed`. */
async function finishSandbox(ctx: DrillContext, cluster: SandboxCluster | null, keep: boolean, rootDir: string | null, stopped: string): Promise<TeardownResult | null> {
  const b = ctx.builder;
  let teardown: TeardownResult | null = null;
  if (cluster && keep) {
    await cluster.markKept();
    b.add({ name: 'teardown.confirmed', stage: 'teardown', status: 'warn', detail: `--keep: the recovered copy was left running; connect with psql '${cluster.url()}'` });
    return null;
  }
  if (cluster) teardown = await cluster.stop();
  await b.stage('teardown', async () => {
    if (teardown) b.expect('teardown.confirmed', 'teardown', teardown.confirmed, teardown.detail, teardown.detail, { ...teardown });
    else if (rootDir) {
      const gone = !(await pathExists(rootDir));
      b.expect('teardown.confirmed', 'teardown', gone, `the server ${stopped}; its directory ${rootDir} was removed`, `${rootDir} is still there after the server ${stopped}`);
    } else b.add({ name: 'teardown.confirmed', stage: 'teardown', status: 'pass', detail: 'no sandbox was started; nothing to tear down' } satisfies CheckResult);
  }, () => false);
  return teardown;
}

