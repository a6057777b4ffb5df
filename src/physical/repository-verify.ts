/**
 * `pgdrill verify pgbackrest:STANZA[@LABEL]` and `barman:SERVER[@BACKUP_ID]`: the backup is restored out of its
 * repository by the tool's own restore (as the sandbox user, in its jail, the repository bound read-only:
 * pgbackrest.ts, barman.ts) into a private staging directory, with the WAL recovery needs beside it — then drilled
 * exactly as a pg_basebackup output with its WAL archive (verify-physical.ts): continuity, isolated recovery to the
 * target, proof, checks, report. The tool's own integrity check (pgbackrest verify, barman verify-backup) opens the
 * report. The staging directory is removed afterwards.
 *
 * The staging directory is on the drill's file system: the restored data directory, and pgBackRest's fetched WAL,
 * are moved into the sandbox (a rename), never copied a second time; the tool's restore and the WAL fetch are timed
 * and counted in the RTO's copy time.
 */
import { chmod, mkdir, mkdtemp, readdir, realpath } from 'node:fs/promises';
import { processStartTicks } from '../exec/process-liveness.js';
import { dropSandboxRecord, recordSandbox, type StoredRecord } from '../sandbox/sandbox-records.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../config/load.js';
import { resolveDrillEnvironment } from '../pipeline/context.js';
import { ConfigError } from '../errors.js';
import { removeTree } from '../exec/remove-tree.js';
import type { OsUser } from '../exec/os-user.js';
import type { CheckResult } from '../report/model.js';
import { localToolchain } from '../toolchain/toolchain.js';
import type { VerifyResult } from '../verify/verify-artifact.js';
import { isBarmanArtifact, parseBarmanArtifact, restoreFromBarman } from './barman.js';
import { parsePgBackRestArtifact, type PgBackRestArtifact } from './pgbackrest-config.js';
import { runPgBackRest, type PgBackRestRunner } from './pgbackrest-run.js';
import { pgBackRestRunner, restoreFromPgBackRest, type PgBackRestBackup } from './pgbackrest.js';
import { verifyPhysical, type ObtainedBackup, type PhysicalVerifyOptions } from './verify-physical.js';
import { parseWalFileName } from './wal-names.js';
import { handOver } from '../exec/hand-over.js';

/** Options of a repository drill: a physical verify's, plus the tools' configuration files. */
export interface RepositoryVerifyOptions extends PhysicalVerifyOptions {
  /** `--pgbackrest-config` (default pgBackRest's own). */
  readonly pgbackrestConfig?: string;
  /** `--barman-config` (default /etc/barman.conf). */
  readonly barmanConfig?: string;
}

/** Whether `artifact` names a backup in a repository (`pgbackrest:…`, `barman:…`). */
export function isRepositoryArtifact(artifact: string): boolean {
  return artifact.startsWith('pgbackrest:') || isBarmanArtifact(artifact);
}

/** Restore out of the repository, then drill as a base backup (see the module comment); a restore that fails is a FAIL report. */
export async function verifyRepositoryBackup(opts: RepositoryVerifyOptions): Promise<VerifyResult> {
  if (opts.wal) throw new ConfigError(`--wal is for pg_basebackup outputs: the WAL of ${opts.artifact} is read from its repository`);
  const config = validateConfig(opts.config ?? {});
  const { sandboxUser } = await resolveDrillEnvironment(config);
  const name = isBarmanArtifact(opts.artifact) ? parseBarmanArtifact(opts.artifact).server : parsePgBackRestArtifact(opts.artifact).stanza;
  const staging = await repositoryStagingDir(sandboxUser);
  const stage = staging.dir;
  try {
    return await verifyPhysical({
      ...opts, database: opts.database ?? config.source.database ?? name,
      // Inside the run, so that a restore that fails is reported like every other failure.
      obtain: () => (isBarmanArtifact(opts.artifact) ? fromBarman(opts, stage, sandboxUser) : fromPgBackRest(opts, stage, sandboxUser)).then((got) => (got.ok ? got : discarded(got, stage))),
    });
  } finally {
    await removeTree(stage);
    await dropSandboxRecord(staging.record.path);
  }
}

/** The tool could not restore: its staging directory removed now, so that the report's teardown confirms it gone. */
async function discarded(got: Extract<ObtainedBackup, { ok: false }>, stage: string): Promise<ObtainedBackup> {
  await removeTree(stage);
  return got;
}

/**
 * A private directory of the sandbox user under the temp directory (the tool runs as that user), recorded in
 * pgdrill's state directory as a sandbox is (label `repository-staging`, no server): a drill killed before it removes
 * it leaves the restored backup there, and `pgdrill cleanup` removes only what is recorded (src/sandbox/orphans.ts).
 * `stateDir`: default state-dir.ts's.
 */
export async function repositoryStagingDir(user: OsUser | null, stateDir?: string): Promise<{ dir: string; record: StoredRecord }> {
  const dir = await mkdtemp(join(tmpdir(), 'pgdrill-repository-'));
  try {
    const real = await realpath(dir);
    // Recorded before the sandbox user owns it; its data directory is where the tool restores (no server runs there).
    const record = await recordSandbox(stateDir, {
      label: 'repository-staging', pgdrill_pid: process.pid, pgdrill_start_ticks: processStartTicks(process.pid), root_dir: real,
      data_dir: join(real, 'data'), socket_dir: real, server_uid: user?.uid ?? process.geteuid?.() ?? 0,
    });
    await chmod(dir, 0o700);
    await handOver(dir, user);
    return { dir, record };
  } catch (err) {
    await removeTree(dir);
    throw err;
  }
}

async function fromPgBackRest(opts: RepositoryVerifyOptions, stage: string, user: OsUser | null): Promise<ObtainedBackup> {
  const artifact = parsePgBackRestArtifact(opts.artifact);
  const r = await restoreFromPgBackRest({ artifact, configFile: opts.pgbackrestConfig, dataDir: join(stage, 'data'), workDir: join(stage, 'pgbackrest'), osUser: user, target: { kind: 'latest' }, signal: opts.signal });
  const label = `pgbackrest:${artifact.stanza}@${r.backup.label} (${r.backup.type})`;
  if (r.error || !r.dataDir) return notRestored('pgbackrest restore', label, r.error, r.integrity, stage);
  const runner = await pgBackRestRunner({ artifact, configFile: opts.pgbackrestConfig, osUser: user, workDir: join(stage, 'pgbackrest'), signal: opts.signal });
  const walDir = join(stage, 'wal');
  const t0 = performance.now();
  const unfetched = await fetchWal(runner, artifact, r.backup, r.dataDir, walDir, user);
  // The repository lists a WAL file archive-get cannot deliver: a verdict on the backup (exit 1), not on the config.
  if (unfetched) return notRestored('pgbackrest archive-get', label, unfetched, r.integrity, stage);
  // The fetched WAL is the drill's own directory: checked in place and moved, like the restored data directory.
  return { ok: true, dataDir: r.dataDir, walDir, integrity: r.integrity, label, staging: { restoredMs: Math.round(r.restoreMs + performance.now() - t0), walInPlace: true } };
}

/**
 * Every WAL file of the backup's archive from its start segment on, and every history file, fetched with
 * archive-get (what the restored server would have asked for) into the flat directory `walDir`. The repository's
 * archive directory is only listed (names), never read by pgdrill itself. Returns null, or why the first WAL file
 * archive-get could not fetch was not fetched (naming it): the repository's WAL is damaged, a verdict on the backup.
 */
async function fetchWal(r: PgBackRestRunner, a: PgBackRestArtifact, b: PgBackRestBackup, dataDir: string, walDir: string, user: OsUser | null): Promise<string | null> {
  await mkdir(walDir, { mode: 0o700 });
  await handOver(walDir, user);
  const repo = r.config.repos.find((x) => x.key === b.repo) ?? r.config.repos[0]!;
  const base = join(repo.path, 'archive', a.stanza);
  const ids = (await readdir(base, { withFileTypes: true })).filter((e) => e.isDirectory() && b.pgVersion !== null && e.name.startsWith(`${b.pgVersion}-`));
  const names = new Set<string>();
  for (const id of ids) {
    for (const e of await readdir(join(base, id.name), { withFileTypes: true })) {
      if (e.isFile() && parseWalFileName(e.name)?.kind === 'history') names.add(e.name);
      if (!e.isDirectory() || !/^[0-9A-F]{16}$/.test(e.name)) continue;
      for (const f of await readdir(join(base, id.name, e.name))) {
        const seg = f.slice(0, 24);
        if (parseWalFileName(seg)?.kind === 'segment' && seg.slice(8) >= b.startSegment.slice(8)) names.add(seg);
      }
    }
  }
  for (const name of [...names].sort()) {
    // archive-get checks the WAL against pg1-path's pg_control: the restored copy's (never production's).
    const opts = [`--repo=${b.repo}`, `--pg1-path=${dataDir}`, '--no-archive-async', `--lock-path=${join(r.workDir, 'lock')}`];
    const res = await runPgBackRest(r, 'archive-get', opts, [walDir, dataDir], [name, join(walDir, name)]);
    // Exit 1 is archive-get's "no such file" (the name was listed from the segment's .backup file, say).
    if (res.exitCode === 1) return `the WAL file ${name} is missing from the repository's archive (archive-get found no such file)`;
    if (res.exitCode !== 0) return `the WAL file ${name} is in the repository's archive but could not be fetched (exit ${res.exitCode}): ${res.stderrTail.trim().slice(-300)}`;
  }
  return null;
}

async function fromBarman(opts: RepositoryVerifyOptions, stage: string, user: OsUser | null): Promise<ObtainedBackup> {
  const artifact = parseBarmanArtifact(opts.artifact);
  const bins = await localToolchain().catch(() => null);
  const r = await restoreFromBarman({ artifact, configFile: opts.barmanConfig, dataDir: join(stage, 'data'), workDir: join(stage, 'barman'), osUser: user, target: { kind: 'latest' }, pgBindir: bins?.server.bindir ?? null, signal: opts.signal });
  const label = `barman:${artifact.server}@${r.backup.id}`;
  if (r.error || !r.dataDir) return notRestored('barman recover', label, r.error, r.integrity, stage);
  // Barman's WAL lies inside the data directory (barman_wal/, pg_wal/): the continuity check copies it out.
  return { ok: true, dataDir: r.dataDir, walDir: r.walDir, integrity: r.integrity, label, staging: { restoredMs: r.restoreMs, walInPlace: false } };
}

/**
 * The repository tool could not restore the backup: a verdict on the backup (exit 1) — `restore.repository` names the
 * tool's error, beside the integrity checks' findings (which usually name the damaged file).
 */
function notRestored(tool: string, label: string, error: string | null, integrity: readonly CheckResult[], staging: string): ObtainedBackup {
  const failed = integrity.filter((c) => c.status === 'fail').map((c) => c.name);
  const detail = `${tool} could not restore ${label}: ${error ?? 'no data directory'}${failed.length ? ` (see ${failed.join(', ')})` : ''}`;
  return { ok: false, integrity, label, staging, failure: { name: 'restore.repository', stage: 'restore', status: 'fail', detail, evidence: { tool, error } } };
}
