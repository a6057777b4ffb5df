/**
 * The restore and recovery of a physical backup in the sandbox: the backup's files copied into a fresh private
 * data directory (plain: by pgdrill, reading without following links; tar: streamed by pgdrill into `tar -x` run
 * in the sandbox's jail), the WAL archive staged beside it (wal-stage.ts), the configuration replaced
 * (recovery-setup.ts), then the server started — same OS user, jail, private socket, state record and teardown as
 * a logical drill's sandbox (SandboxCluster). With hot_standby off, `pg_ctl start -w` returns as soon as recovery has
 * begun; the server accepts connections only once recovery has ended and the copy is promoted, so pgdrill waits for
 * that — or for the postmaster to exit at a FATAL recovery error (its log then says why). A server that stops
 * while its log gives no reason of the recovery's own (no FATAL or PANIC line, no crash of its startup process),
 * within the time allowed, was stopped or killed from outside pgdrill: an environment problem (exit 4,
 * StoppedFromOutside), not a verdict on the backup.
 */

import { removeTree } from '../exec/remove-tree.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { dirname, join } from 'node:path';
import { EnvironmentError } from '../errors.js';
import { endsDrill } from '../pipeline/context.js';
import { pathExists } from '../exec/path-exists.js';
import type { OsUser } from '../exec/os-user.js';
import { runProcess } from '../exec/run-process.js';
import type { Logger } from '../logger.js';
import { SandboxCluster, serverFileOwners } from '../sandbox/cluster.js';
import type { JailedCommand } from '../sandbox/jail.js';
import type { Toolchain } from '../toolchain/toolchain.js';
import type { CheckResult } from '../report/model.js';
import { runVerifyBackup } from './integrity.js';
import type { BackupLayout } from './backup-layout.js';
import { copyNoFollow, copyPlainBackup } from './backup-files.js';
import { bootstrapSuperuser, isolationSettings, prepareRecovery, stagedRestoreCommand, type BackupConfigFacts } from './recovery-setup.js';
import { parseRecoveryLog, readRecoveryLog, recoveryFailure, type RecoveryLog } from './recovery-log.js';
import { killedBySigkill } from '../sandbox/stopped-from-outside.js';
import { openTarStream } from './tar-stream.js';
import { adoptStagedWal, moveDir, stageWal, type StagedWal } from './wal-stage.js';
import { handOver } from '../exec/hand-over.js';

/** What the recovery needs. */
export interface RecoverOptions {
  readonly bins: Toolchain;
  readonly layout: BackupLayout;
  /** The WAL archive, or null (the WAL inside the backup only). */
  readonly walDir: string | null;
  readonly startSegment: string;
  readonly recoverySettings: Readonly<Record<string, string>>;
  readonly parentDir: string;
  readonly osUser: OsUser | null;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
  /** How long to wait for recovery to end (seconds). */
  readonly timeoutSeconds: number;
  /** pg_verifybackup, to check an extracted tar backup against its manifest before the server starts; null: not run. */
  readonly verifyBackup: string | null;
  /** The WAL the continuity check copied (or checked in place): moved into the sandbox, not copied again. */
  readonly stagedWal?: StagedWal | null;
  /** The plain backup is pgdrill's own private restore out of a repository: moved into the sandbox, not copied. */
  readonly adoptBackup?: boolean;
  /** Milliseconds spent restoring before (a repository tool's restore and WAL fetch, the WAL check-and-copy), counted in `copyMs`. Default 0. */
  readonly priorCopyMs?: number;
}

/** The outcome: a running promoted copy, or the log of a recovery that failed (its sandbox already removed). */
export interface RecoverResult {
  readonly cluster: SandboxCluster | null;
  readonly log: RecoveryLog;
  /** The failed start's message (the server's own log tail is parsed into `log`). */
  readonly failure: string | null;
  readonly config: BackupConfigFacts | null;
  readonly staged: StagedWal | null;
  readonly copyMs: number;
  readonly recoveryMs: number;
  /** The sandbox's directory (to confirm it is gone after a failed start). */
  readonly rootDir: string | null;
  /** `backup.pg_verifybackup` of a tar backup, checked once extracted; null when not run. */
  readonly verified: CheckResult | null;
  /** Why the backup could not be copied into the sandbox (what was being done, and the error); the server never started. */
  readonly copyFailure: string | null;
}

/** An extracted tar backup does not match its manifest: the server is not started. */
class BackupMismatch extends Error {
  constructor(readonly check: CheckResult) {
    super(check.detail);
  }
}

/**
 * The recovering server stopped and its log says nothing of a failed recovery: its postmaster was killed (SIGKILL,
 * the OOM killer) or asked to stop (pg_ctl stop, SIGTERM) by someone else. The drill ends (exit 4) with the
 * sandbox already torn down: `rootDir` is where it was, to confirm it is gone.
 */
export class StoppedFromOutside extends EnvironmentError {
  constructor(log: RecoveryLog, postmasterPid: number | null, readonly rootDir: string | null) {
    super(`the physical sandbox's postmaster${postmasterPid ? ` (pid ${postmasterPid})` : ''} stopped during recovery and was killed or stopped from outside pgdrill: nothing in its log says recovery failed (${
      log.shutdownRequest ? `its log says "${log.shutdownRequest}": someone asked it to stop, by pg_ctl stop or a signal`
        : log.startupEnded && killedBySigkill(log.startupEnded) ? `its log says "${log.startupEnded}": killed with SIGKILL, by the OOM killer or an admin — see dmesg or journalctl -k`
          : 'no shutdown request in its log: killed outright, by SIGKILL or the OOM killer — see dmesg or journalctl -k'
    }). This is not a verdict on the backup: nothing of it was judged; run the drill again once nothing stops the sandbox's server (a cleanup job, a memory limit)`);
  }
}

/** Did the server stop from outside? It stopped with no reason of the recovery's own in its log, within the time allowed. */
const stoppedFromOutside = (log: RecoveryLog, inTime: boolean) => inTime && recoveryFailure(log) === null;

/** The postmaster's pid named by SandboxCluster.start's error ("its postmaster, pid N, is not running"), else null. */
const pidInError = (err: Error) => Number(/\bits postmaster, pid (\d+),/.exec(err.message)?.[1]) || null;

/** Without an archive: a restore_command that never finds a file, so recovery reads pg_wal only (archive recovery needs one). */
const NO_ARCHIVE = 'false';

/** Extract one tar of the backup into `dir` with GNU tar in the jail, fed by pgdrill. */
async function extractTar(tarPath: string, dir: string, jailed: (bin: string, args: readonly string[]) => JailedCommand, osUser: OsUser | null, signal?: AbortSignal): Promise<void> {
  const cmd = jailed('/usr/bin/tar', ['-x', '-f', '-', '-C', dir, '--no-same-owner', '--no-overwrite-dir']);
  await runProcess({ ...cmd, stdin: await openTarStream(tarPath, signal, osUser), signal });
}

/**
 * What populating the data directory produced, and what it was doing (to name a step that failed); `startLog`: the
 * whole server log of a start that failed, read before the sandbox was removed.
 */
type Collected = { config?: BackupConfigFacts; staged?: StagedWal; verified?: CheckResult; step?: string; startLog?: RecoveryLog };

/** pg_verifybackup on the extracted tar backup, as the sandbox user in its jail, against a copy of the manifest. */
async function verifyExtracted(o: RecoverOptions, dataDir: string, jailed: (bin: string, args: readonly string[]) => JailedCommand, out: Collected): Promise<void> {
  const manifest = join(dirname(dataDir), 'backup_manifest');
  if (!(await copyNoFollow(join(o.layout.dir, 'backup_manifest'), manifest))) throw new Error(`${join(o.layout.dir, 'backup_manifest')} is not a regular file`);
  await handOver(manifest, o.osUser);
  const args = [...(o.walDir ? ['-n'] : []), '-m', manifest, dataDir];
  out.verified = await runVerifyBackup(o.verifyBackup!, dataDir, { manifest, skipWal: o.walDir !== null, signal: o.signal, as: jailed(o.verifyBackup!, args) });
  if (out.verified.status === 'fail') throw new BackupMismatch(out.verified);
}

async function populateFrom(o: RecoverOptions, dataDir: string, jailed: (bin: string, args: readonly string[]) => JailedCommand, out: Collected): Promise<string> {
  const { layout } = o;
  if (layout.format === 'plain' && o.adoptBackup) {
    out.step = `moving ${layout.dir} into the sandbox`;
    await moveDir(layout.dir, dataDir, () => copyPlainBackup(layout.dir, dataDir, o.osUser, o.signal));
  } else if (layout.format === 'plain') {
    out.step = `copying ${layout.dir} into the sandbox`;
    await copyPlainBackup(layout.dir, dataDir, o.osUser, o.signal);
  } else {
    await runProcess({ ...jailed('/usr/bin/mkdir', ['-m', '0700', dataDir]) });
    out.step = `extracting ${join(layout.dir, layout.baseTar!)}`;
    await extractTar(join(layout.dir, layout.baseTar!), dataDir, jailed, o.osUser, o.signal);
    if (layout.walTar) {
      out.step = `extracting ${join(layout.dir, layout.walTar)}`;
      await extractTar(join(layout.dir, layout.walTar), join(dataDir, 'pg_wal'), jailed, o.osUser, o.signal);
    }
    out.step = 'checking the extracted files against backup_manifest';
    if (layout.manifest && o.verifyBackup) await verifyExtracted(o, dataDir, jailed, out);
  }
  out.step = 'setting up recovery in the copy';
  out.config = await prepareRecovery(dataDir, o.osUser);
  const walArchive = join(dirname(dataDir), 'wal-archive');
  if (o.stagedWal) {
    out.step = `moving the checked WAL ${o.stagedWal.dir} beside the copy`;
    out.staged = await adoptStagedWal(o.stagedWal, walArchive, o.osUser, o.signal);
  } else if (o.walDir) {
    out.step = `staging the WAL archive ${o.walDir} beside the copy`;
    out.staged = await stageWal(o.walDir, o.startSegment, walArchive, o.osUser, o.signal);
  }
  out.step = 'setting up the copy\'s superuser';
  return (await bootstrapSuperuser(dataDir)) ?? 'postgres';
}

/** The failure of a recovery that had not ended when its time allowed did (`restore.recovery_target` names it so). */
const timedOut = (timeoutSeconds: number) => `recovery did not end within ${timeoutSeconds} s`;

/**
 * Wait until the recovering server accepts a connection (recovery ended, promoted), or its postmaster is gone
 * (recovery failed), or `until` passed. Null when it accepts; else why not.
 */
async function waitForPromotion(cluster: SandboxCluster, until: number, timeoutSeconds: number, signal?: AbortSignal): Promise<string | null> {
  let delay = 50;
  for (;;) {
    signal?.throwIfAborted();
    try {
      if (await promoted(cluster, signal)) return null;
    } catch (err) {
      signal?.throwIfAborted();
      const code = (err as { code?: string }).code;
      // 57P03: "the database system is starting up / not accepting connections" — still recovering.
      // Gone: its postmaster.pid removed as it exited, or the postmaster itself killed (the file then stays).
      if (code !== '57P03' && (cluster.postmasterGone() || !(await pathExists(join(cluster.dataDir, 'postmaster.pid'))))) return `the server stopped during recovery: ${(err as Error).message}`;
    }
    if (performance.now() > until) return timedOut(timeoutSeconds);
    await sleep(delay, undefined, { signal });
    delay = Math.min(delay * 2, 1000);
  }
}

/**
 * One look: is the server out of recovery? A function of its own, not an `await using` block in the loop above: the
 * lowering of `await using` for Node 20 (esbuild, in tsx and in the CLI bundle) hoists its error flag with `var`, so
 * once one iteration's block threw (57P03 while recovering), every later iteration rethrew that same error on dispose
 * — the wait never saw the promoted server and went on until the timeout (6 h by default).
 */
async function promoted(cluster: SandboxCluster, signal?: AbortSignal): Promise<boolean> {
  await using db = await cluster.open('template1', signal);
  return !(await db.value<boolean>('SELECT pg_is_in_recovery()'));
}

/**
 * Restore the backup into a sandbox and let it recover to the target. Never throws for a recovery that fails: see
 * `failure`. The recovery may end (the postmaster exits at a FATAL line) at any moment of pgdrill's watch — before
 * `pg_ctl start -w` has seen it begin, between pg_ctl's return and the postmaster's pid being read, or while
 * pgdrill waits for the promotion — and each of these is the same failed recovery, explained from the whole log.
 */
export async function recoverInSandbox(o: RecoverOptions): Promise<RecoverResult> {
  const out: Collected = {};
  let rootDir: string | null = null;
  let copyDone = 0;
  const t0 = performance.now();
  /** The end of the time allowed to recover (performance.now() ms), from the moment the server is started. */
  const deadline = () => copyDone + o.timeoutSeconds * 1000;
  try {
    const cluster = await SandboxCluster.start({
      bins: o.bins, parentDir: o.parentDir, osUser: o.osUser, logger: o.logger, label: 'physical-sandbox', signal: o.signal,
      templateCache: null,
      populate: async (dataDir, jailed) => {
        rootDir = dirname(dataDir);
        const superuser = await populateFrom(o, dataDir, jailed, out);
        copyDone = performance.now();
        return { superuser };
      },
      settings: { ...isolationSettings(o.walDir ? stagedRestoreCommand() : NO_ARCHIVE, o.bins.server.version), ...o.recoverySettings },
      // With hot_standby off, pg_ctl sees the server "started" once recovery has begun: within the recovery's time.
      startTimeoutSeconds: o.timeoutSeconds,
      onFailedStart: async (logFile) => {
        out.startLog = await readRecoveryLog(logFile, serverFileOwners(o.osUser));
      },
    });
    const failure = await waitForPromotion(cluster, deadline(), o.timeoutSeconds, o.signal).catch(async (err: unknown) => {
      await cluster.stop(); // interrupted while it recovered: nothing is left running
      throw err;
    });
    const recoveryMs = Math.round(performance.now() - copyDone);
    const log = await readRecoveryLog(cluster.logFile, cluster.serverFileOwners);
    const copyMs = Math.round(copyDone - t0 + (o.priorCopyMs ?? 0));
    if (failure) {
      const teardown = await cluster.stop();
      if (failure !== timedOut(o.timeoutSeconds) && stoppedFromOutside(log, true)) throw new StoppedFromOutside(log, teardown.postmasterPid ?? log.postmasterPid, rootDir);
    }
    return { cluster: failure ? null : cluster, log, failure: failure ? recoveryFailure(log) ?? failure : null, config: out.config ?? null, staged: out.staged ?? null, copyMs, recoveryMs, rootDir, verified: out.verified ?? null, copyFailure: null };
  } catch (err) {
    if (err instanceof StoppedFromOutside) throw err;
    const notStarted = { cluster: null, log: parseRecoveryLog(''), failure: null, config: null, staged: null, copyMs: Math.round(performance.now() - t0), recoveryMs: 0, rootDir, verified: out.verified ?? null, copyFailure: null };
    if (err instanceof BackupMismatch) return { ...notStarted, verified: err.check };
    // The copy failed (a tar GNU tar cannot read, a WAL file that cannot be staged): a verdict on the backup, and
    // SandboxCluster.start has already removed the sandbox. An interrupt, the environment or a bug ends the drill instead.
    if (!copyDone && rootDir !== null && !endsDrill(err)) return { ...notStarted, copyFailure: `${out.step ?? 'populating the data directory'} failed: ${(err as Error).message}` };
    // A server that would not start, or stopped right after it started, once its data directory was filled:
    // recovery failed — a verdict on the backup, read from the whole log (the error carries only its tail).
    if (!(err instanceof EnvironmentError) || !copyDone || !err.logTail) throw err;
    const log = out.startLog ?? parseRecoveryLog(err.logTail);
    const inTime = performance.now() < deadline();
    // A postmaster that ran (its pid known), no FATAL, no crash of the startup process, the time not out: the server
    // was stopped or killed from outside.
    const pid = pidInError(err) ?? log.postmasterPid;
    if (pid !== null && stoppedFromOutside(log, inTime)) throw new StoppedFromOutside(log, pid, rootDir);
    const failure = recoveryFailure(log) ?? (inTime ? err.message.split('\n')[0]! : timedOut(o.timeoutSeconds));
    return { cluster: null, log, failure, config: out.config ?? null, staged: out.staged ?? null, copyMs: Math.round(copyDone - t0 + (o.priorCopyMs ?? 0)), recoveryMs: Math.round(performance.now() - copyDone), rootDir, verified: out.verified ?? null, copyFailure: null };
  } finally {
    // The checked WAL copy is moved into the sandbox; one left where it was (the sandbox never started) goes now.
    // A repository's fetched WAL lies in the sandbox user's staging directory: removed never following a link (remove-tree.ts).
    if (o.stagedWal && !out.staged) await removeTree(o.stagedWal.dir);
  }
}
