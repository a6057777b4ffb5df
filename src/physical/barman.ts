/**
 * The Barman adapter of physical drills: `barman:SERVER[@BACKUP_ID]` → the backup (`barman show-backup`), its
 * manifest checked (`barman verify-backup`: pg_verifybackup), and `barman recover` into the sandbox's new data
 * directory, which copies the WAL recovery needs into `barman_wal/` there (restore_command `cp barman_wal/%f %p`).
 *
 * Barman takes lock files in barman_home even to show a backup (measured, Barman 3.4: "Read-only file system:
 * …/.demo-xlogdb.lock"), so it runs with a configuration of pgdrill's own, the user's with `barman_lock_directory`
 * and `log_file` moved into a private work directory: barman_home and the configuration are then bound read-only
 * into the jail, and nothing Barman does can change them. `barman check-backup` rewrites backup.info, so it is not run.
 */
import { constants } from 'node:fs';
import { access, lstat, mkdir, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { ConfigError, EnvironmentError } from '../errors.js';
import { readBoundedFile, resolveInputPath } from '../exec/input-file.js';
import type { OsUser } from '../exec/os-user.js';
import { runProcess, type ProcessResult } from '../exec/run-process.js';
import type { CheckResult } from '../report/model.js';
import { jailedCommand, resolveJail } from '../sandbox/jail.js';
import type { PhysicalTarget } from './pgbackrest.js';
import { assertShellSafePath, writeJailIdentity } from './pgbackrest-run.js';
import type { PhysicalBackupSpan, RepositoryRestoreOptions } from './backup-span.js';
import { handOver } from '../exec/hand-over.js';

/** A Barman artefact: the server, and the backup id (null: the latest). */
export interface BarmanArtifact {
  readonly server: string;
  readonly backupId: string | null;
}

/** Barman's default configuration file. */
export const DEFAULT_BARMAN_CONFIG = '/etc/barman.conf';
const BARMAN = '/usr/bin/barman';

/** Whether `text` names a Barman artefact. */
export function isBarmanArtifact(text: string): boolean {
  return text.startsWith('barman:');
}

/**
 * Parse `barman:SERVER[@BACKUP_ID]` (an id like 20261206T150729, or latest/oldest/first/last).
 * @throws ConfigError (exit 2).
 */
export function parseBarmanArtifact(text: string): BarmanArtifact {
  const [server = '', id, ...more] = text.slice('barman:'.length).split('@');
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(server) || more.length) throw new ConfigError(`${text}: write barman:SERVER or barman:SERVER@BACKUP_ID (a server name of letters, digits, '_', '.', '-')`);
  if (id !== undefined && !/^(\d{8}T\d{6}|latest|last|oldest|first)$/.test(id)) throw new ConfigError(`${text}: "${id}" is not a Barman backup id (like 20261206T150729, or latest, oldest)`);
  return { server, backupId: id ?? null };
}

/** One Barman backup, from `barman show-backup --format json`. */
export interface BarmanBackup extends PhysicalBackupSpan {
  readonly id: string;
  readonly status: string;
  readonly size: number;
  readonly pgVersion: number | null;
}

/** What `restoreFromBarman` needs (as the pgBackRest adapter's options). */
export interface BarmanRestoreOptions extends RepositoryRestoreOptions<BarmanArtifact> {
  /** Directory of pg_verifybackup (the backup's major's); null: verify-backup is not run. */
  readonly pgBindir: string | null;
}

/** What the recovery gave. */
export interface BarmanRestore {
  readonly backup: BarmanBackup;
  readonly integrity: CheckResult[];
  readonly dataDir: string | null;
  readonly error: string | null;
  /**
   * Barman's restore_command: WAL copied into the data directory (`barman_wal/`), nothing read from barman_home; null
   * for `latest`, where Barman copies every segment into pg_wal/ and writes no recovery settings.
   */
  readonly restoreCommand: string | null;
  /** The WAL Barman copied for recovery (barman_wal/ or pg_wal/): a flat archive checkWalContinuity can read. */
  readonly walDir: string;
  /** Milliseconds `barman recover` took (its verify-backup not counted). */
  readonly restoreMs: number;
}

interface BarmanRunner {
  readonly config: string;
  readonly ro: readonly string[];
  readonly osUser: OsUser | null;
  readonly workDir: string;
  readonly pgBindir: string | null;
  readonly signal?: AbortSignal;
}

/** Choose the backup, verify its manifest, recover it into dataDir. A failed recover is returned, not thrown. */
export async function restoreFromBarman(o: BarmanRestoreOptions): Promise<BarmanRestore> {
  assertShellSafePath(o.dataDir);
  const workDir = o.workDir ?? join(dirname(o.dataDir), 'barman');
  const r = await barmanRunner(o, workDir);
  const id = o.artifact.backupId ?? 'latest';
  const backup = await showBackup(r, o.artifact.server, id);
  const integrity = r.pgBindir ? [await verifyBackup(r, o.artifact.server, backup.id)] : [];
  await mkdir(o.dataDir, { recursive: true, mode: 0o700 });
  await handOver(o.dataDir, o.osUser);
  const t0 = performance.now();
  const res = await runBarman(r, ['recover', ...barmanTargetOptions(o.target, o.targetTimeline), o.artifact.server, backup.id, o.dataDir], [o.dataDir]);
  const restoreMs = Math.round(performance.now() - t0);
  const error = res.exitCode === 0 ? null : `barman recover of ${backup.id} exited ${res.exitCode}: ${(res.stdout + res.stderrTail).trim().split('\n').slice(-5).join(' ')}`;
  // With a target Barman copies the WAL into barman_wal/ and writes recovery.signal; without one, into pg_wal/ itself
  // (every segment it has), and the copy replays it all without archive recovery.
  const pitr = await lstat(join(o.dataDir, 'barman_wal')).then((st) => st.isDirectory(), () => false);
  return { backup, integrity, dataDir: error ? null : o.dataDir, error, restoreCommand: pitr ? 'cp barman_wal/%f %p' : null, walDir: join(o.dataDir, pitr ? 'barman_wal' : 'pg_wal'), restoreMs };
}

/** barman recover's target options for a pgdrill target; always promoting at a target. */
export function barmanTargetOptions(t: PhysicalTarget, timeline?: number | 'latest'): string[] {
  const tl = timeline === undefined ? [] : [`--target-tli=${timeline}`];
  if (t.kind === 'latest') return tl;
  if (t.kind === 'immediate') return ['--target-immediate', '--target-action=promote', ...tl];
  return [`--target-${t.kind}=${t.value}`, '--target-action=promote', ...tl];
}

async function barmanRunner(o: BarmanRestoreOptions, workDir: string): Promise<BarmanRunner> {
  if (!(await access(BARMAN, constants.X_OK).then(() => true, () => false))) {
    throw new EnvironmentError(`barman is not installed (${BARMAN}): install it (Debian: apt-get install barman; pgdrill: scripts/setup --with-pgbackrest) to drill barman: artefacts`);
  }
  const given = await resolveInputPath(o.configFile ?? DEFAULT_BARMAN_CONFIG, 'the Barman configuration');
  const text = (await readBoundedFile(given.path, 'the Barman configuration', 1 << 20)).toString('utf8');
  const main = barmanSection(text);
  const home = main.get('barman_home') ?? '/var/lib/barman';
  const confDir = main.get('configuration_files_directory');
  await mkdir(join(workDir, 'locks'), { recursive: true, mode: 0o700 });
  const user = o.osUser?.name ?? userInfo().username;
  const own = rewriteBarmanSection(text, { barman_user: user, barman_lock_directory: join(workDir, 'locks'), log_file: join(workDir, 'barman.log') });
  await writeFile(join(workDir, 'barman.conf'), own, { mode: 0o644 });
  if (o.osUser) await runProcess({ bin: '/bin/chown', args: ['-R', `${o.osUser.uid}:${o.osUser.gid}`, workDir] });
  if ((await resolveJail(o.osUser)).mountNamespace) await writeJailIdentity(workDir, o.osUser);
  return { config: join(workDir, 'barman.conf'), ro: [home, ...(confDir ? [confDir] : [])], osUser: o.osUser, workDir, pgBindir: o.pgBindir, signal: o.signal };
}

/** The [barman] section's options. */
function barmanSection(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let inMain = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const sec = /^\[([^\]]+)\]$/.exec(line);
    if (sec) inMain = sec[1] === 'barman';
    else if (inMain && /^[a-z_]+\s*=/.test(line)) out.set(line.slice(0, line.indexOf('=')).trim(), line.slice(line.indexOf('=') + 1).trim());
  }
  return out;
}

/** The configuration with `set`'s options of the [barman] section replaced. */
function rewriteBarmanSection(text: string, set: Record<string, string>): string {
  const out: string[] = [];
  let inMain = false;
  for (const raw of text.split('\n')) {
    const sec = /^\s*\[([^\]]+)\]\s*$/.exec(raw);
    if (sec) {
      inMain = sec[1] === 'barman';
      out.push(raw);
      if (inMain) for (const [k, v] of Object.entries(set)) out.push(`${k} = ${v}`);
      continue;
    }
    const key = /^\s*([a-z_]+)\s*=/.exec(raw)?.[1];
    if (inMain && key && key in set) continue;
    out.push(raw);
  }
  return out.join('\n');
}

async function runBarman(r: BarmanRunner, args: readonly string[], rw: readonly string[] = []): Promise<ProcessResult> {
  const jail = await resolveJail(r.osUser);
  const ro = [r.config, ...r.ro, ...(r.pgBindir && !r.pgBindir.startsWith('/usr/') ? [r.pgBindir] : [])];
  const view = jail.mountNamespace ? { ro, rw: [r.workDir, ...rw], passwd: join(r.workDir, 'passwd'), group: join(r.workDir, 'group') } : { ro, rw: [r.workDir, ...rw] };
  const cmd = jailedCommand(jail, BARMAN, ['-c', r.config, ...args], view);
  const path = `${r.pgBindir ? `${r.pgBindir}:` : ''}/usr/bin:/bin`;
  return runProcess({ ...cmd, env: { PATH: path }, stdout: 'capture', allowFailure: true, signal: r.signal });
}

async function showBackup(r: BarmanRunner, server: string, id: string): Promise<BarmanBackup> {
  const res = await runBarman(r, ['-f', 'json', 'show-backup', server, id]);
  let b: Record<string, unknown> | undefined;
  try {
    b = (JSON.parse(res.stdout) as Record<string, Record<string, unknown>>)[server];
  } catch {
    /* below */
  }
  const info = b?.base_backup_information as Record<string, unknown> | undefined;
  if (!b || !info || typeof b.backup_id !== 'string') {
    throw new ConfigError(`barman show-backup ${server} ${id} did not describe a backup (exit ${res.exitCode}): ${(res.stdout + res.stderrTail).trim().slice(-500)}`);
  }
  const str = (k: string) => {
    const v = info[k];
    return typeof v === 'string' || typeof v === 'number' ? String(v) : '';
  };
  return {
    id: b.backup_id, status: String(b.status), startLsn: str('begin_lsn'), stopLsn: str('end_lsn'), timeline: Number(info.timeline ?? 1),
    startSegment: str('begin_wal'), stopSegment: str('end_wal'), startTime: str('begin_time'), stopTime: str('end_time'),
    size: Number(info.disk_usage_bytes ?? 0), pgVersion: typeof b.postgresql_version === 'number' ? b.postgresql_version : null,
  };
}

async function verifyBackup(r: BarmanRunner, server: string, id: string): Promise<CheckResult> {
  const res = await runBarman(r, ['verify-backup', server, id]);
  const out = (res.stdout + res.stderrTail).trim();
  const ok = res.exitCode === 0 && /successfully verified/.test(out);
  const tail = out.split('\n').filter((l) => !/^(Verifying backup|Calling pg_verifybackup)/.test(l)).slice(-8).join('; ');
  return { name: 'backup.barman_verify', stage: 'backup', status: ok ? 'pass' : 'fail', detail: ok ? `barman verify-backup: pg_verifybackup found every file of ${id} as its backup_manifest lists it` : `barman verify-backup ${id} (exit ${res.exitCode}): ${tail}`, evidence: { exit_code: res.exitCode } };
}
