/**
 * The pgBackRest adapter of physical drills: `pgbackrest:STANZA[@LABEL]` → the backup chosen (`pgbackrest info`), the
 * repository's integrity (`pgbackrest verify`), and the backup restored into the sandbox's new data directory
 * (`pgbackrest restore --pg1-path`, forced: the configuration's pg1-path, production's data directory, is never
 * used), with archiving off, every tablespace mapped into the sandbox, and a restore_command that only reads the
 * repository (`archive-get`). The physical drill then starts the copy and recovers it like any base backup.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { readBoundedFile } from '../exec/input-file.js';
import type { OsUser } from '../exec/os-user.js';
import type { CheckResult } from '../report/model.js';
import { readPgBackRestConfig, type PgBackRestArtifact } from './pgbackrest-config.js';
import { assertShellSafePath, commonOptions, prepareRunner, runPgBackRest, type PgBackRestRunner } from './pgbackrest-run.js';
import { parseVerifyOutput, verifyCheck } from './pgbackrest-verify.js';
import type { PhysicalBackupSpan, RepositoryRestoreOptions } from './backup-span.js';
import { handOver } from '../exec/hand-over.js';

/** The recovery target, as pgdrill's `--target` gives it. */
export type PhysicalTarget =
  | { readonly kind: 'immediate' }
  | { readonly kind: 'latest' }
  | { readonly kind: 'time' | 'lsn' | 'xid' | 'name'; readonly value: string };

/** One backup of a stanza, as `pgbackrest info` lists it (its timeline from its first WAL segment's name). */
export interface PgBackRestBackup extends PhysicalBackupSpan {
  readonly label: string;
  readonly type: string;
  /** Labels of the backups it depends on (a differential's or incremental's full, …). */
  readonly references: readonly string[];
  /** The repository holding it. */
  readonly repo: number;
  /** Bytes of the database it restores, and of the repository's files it reads. */
  readonly size: number;
  readonly repositorySize: number;
  readonly systemIdentifier: string | null;
  readonly pgVersion: string | null;
  /** pgBackRest found page checksum errors while backing up. */
  readonly checksumErrors: boolean;
}

const InfoSchema = z.array(z.object({
  name: z.string(),
  status: z.object({ code: z.number(), message: z.string() }),
  db: z.array(z.object({ id: z.number(), 'system-id': z.union([z.number(), z.string()]), version: z.string(), 'repo-key': z.number().optional() })).default([]),
  backup: z.array(z.object({
    label: z.string(), type: z.string(), error: z.boolean().optional(),
    archive: z.object({ start: z.string().nullable(), stop: z.string().nullable() }),
    lsn: z.object({ start: z.string(), stop: z.string() }),
    timestamp: z.object({ start: z.number(), stop: z.number() }),
    reference: z.array(z.string()).nullable().optional(),
    database: z.object({ id: z.number(), 'repo-key': z.number() }),
    info: z.object({ size: z.number(), repository: z.object({ size: z.number().optional(), delta: z.number().optional() }).optional() }),
  }).passthrough()).default([]),
}).passthrough());

/** What `restoreFromPgBackRest` needs. */
export interface PgBackRestRestoreOptions extends RepositoryRestoreOptions<PgBackRestArtifact> {
  /** Run verify first (default true); its check is in `integrity`. */
  readonly verify?: boolean;
}

/** What the restore gave. */
export interface PgBackRestRestore {
  readonly backup: PgBackRestBackup;
  readonly integrity: CheckResult[];
  /** The data directory restored; null when the restore failed (`error` says why). */
  readonly dataDir: string | null;
  readonly error: string | null;
  /** The restore_command written into postgresql.auto.conf: pgBackRest's archive-get, reading the repository only. */
  readonly restoreCommand: string;
  /** Paths the restored server's jail must bind read-only for restore_command; and the one it writes (lock, spool). */
  readonly readPaths: readonly string[];
  readonly workDir: string;
  /** The settings pgBackRest wrote into postgresql.auto.conf (recovery target, restore_command, archive_mode). */
  readonly recoverySettings: Readonly<Record<string, string>>;
  /** True when the repository was bound read-only while pgBackRest ran; false: only its file permissions protected it. */
  readonly repositoryReadOnly: boolean;
  /** Milliseconds `pgbackrest restore` took (its verify not counted). */
  readonly restoreMs: number;
}

/** Prepare a runner for the artefact: configuration read, repositories checked readable, work directory made. */
export async function pgBackRestRunner(o: { artifact: PgBackRestArtifact; configFile?: string; osUser: OsUser | null; workDir: string; signal?: AbortSignal }): Promise<PgBackRestRunner> {
  const config = await readPgBackRestConfig(o.artifact.stanza, o.configFile);
  return prepareRunner({ config, stanza: o.artifact.stanza, osUser: o.osUser, workDir: o.workDir, signal: o.signal });
}

/**
 * The backup the artefact names (its label, or the newest), from `pgbackrest info --output=json`.
 * @throws ConfigError (exit 2) when the stanza or the label is not in the repository, naming what is.
 */
export async function pgBackRestBackup(r: PgBackRestRunner, label: string | null): Promise<PgBackRestBackup> {
  const res = await runPgBackRest(r, 'info', ['--output=json', `--lock-path=${join(r.workDir, 'lock')}`]);
  let parsed: z.infer<typeof InfoSchema>;
  try {
    parsed = InfoSchema.parse(JSON.parse(res.stdout));
  } catch (err) {
    throw new ConfigError(`pgbackrest info for stanza ${r.stanza} did not give its JSON report (exit ${res.exitCode}): ${res.stderrTail.trim().slice(-500) || (err as Error).message}`, [], { cause: err });
  }
  const stanza = parsed.find((s) => s.name === r.stanza);
  if (!stanza || stanza.backup.length === 0) {
    throw new ConfigError(`pgbackrest info: stanza ${r.stanza} has no backup (${stanza ? `status ${stanza.status.code}: ${stanza.status.message}` : 'no such stanza'}) in ${r.config.repos.map((x) => x.path).join(', ')} (configuration ${r.config.file})`);
  }
  const b = label === null ? stanza.backup[stanza.backup.length - 1]! : stanza.backup.find((x) => x.label === label);
  if (!b) throw new ConfigError(`pgbackrest info: stanza ${r.stanza} has no backup ${label}; it has ${stanza.backup.map((x) => x.label).join(', ')}`);
  const db = stanza.db.find((d) => d.id === b.database.id);
  const iso = (s: number) => new Date(s * 1000).toISOString();
  return {
    label: b.label, type: b.type, startLsn: b.lsn.start, stopLsn: b.lsn.stop,
    timeline: b.archive.start ? parseInt(b.archive.start.slice(0, 8), 16) : 1,
    startSegment: b.archive.start ?? '', stopSegment: b.archive.stop ?? '',
    startTime: iso(b.timestamp.start), stopTime: iso(b.timestamp.stop), references: b.reference ?? [], repo: b.database['repo-key'],
    size: b.info.size, repositorySize: b.info.repository?.size ?? 0,
    systemIdentifier: db ? String(db['system-id']) : null, pgVersion: db?.version ?? null, checksumErrors: b.error === true,
  };
}

/** Run `pgbackrest verify` and judge it for `backup` (see pgbackrest-verify.ts). */
export async function pgBackRestVerify(r: PgBackRestRunner, backup: PgBackRestBackup): Promise<CheckResult> {
  const res = await runPgBackRest(r, 'verify', ['--output=text', '--verbose', '--log-level-console=info', '--log-level-stderr=off']);
  const check = verifyCheck(parseVerifyOutput(res.stdout), { label: backup.label, references: backup.references, exitCode: res.exitCode, stderr: res.stderrTail });
  if (backup.checksumErrors && check.status !== 'fail') {
    return { ...check, status: 'fail', detail: `pgBackRest recorded page checksum errors while it backed ${backup.label} up (pgbackrest info --set ${backup.label} names the files); ${check.detail}` };
  }
  return check;
}

/** pgBackRest's --type/--target/--target-action for a pgdrill target. */
export function targetOptions(t: PhysicalTarget, timeline?: number | 'latest'): string[] {
  const tl = timeline === undefined ? [] : [`--target-timeline=${timeline}`];
  if (t.kind === 'latest') return ['--type=default', ...tl];
  if (t.kind === 'immediate') return ['--type=immediate', '--target-action=promote', ...tl];
  return [`--type=${t.kind}`, `--target=${t.value}`, '--target-action=promote', ...tl];
}

/**
 * The restore_command of the restored copy: archive-get from the backup's repository, no log file, never
 * asynchronous (archive-async would prefetch into a spool directory; pgBackRest then refuses --spool-path), and
 * --pg1-path the restored copy's: archive-get chdir()s to pg1-path, which the configuration sets to production's
 * data directory (measured: without it, archive-get fails in the jail, where that directory does not exist).
 */
export function archiveGetCommand(r: PgBackRestRunner, repo: number, dataDir: string): string {
  return [r.bin, ...commonOptions(r), `--repo=${repo}`, `--pg1-path=${dataDir}`, '--log-level-console=off', '--log-level-stderr=warn', '--no-archive-async',
    `--lock-path=${join(r.workDir, 'lock')}`, 'archive-get', '%f', '"%p"'].join(' ');
}

/**
 * Choose the backup, verify the repository, and restore the backup into `dataDir` (see the module comment). A
 * restore that fails is returned (`error`), not thrown: the drill reports it beside the integrity checks.
 */
export async function restoreFromPgBackRest(o: PgBackRestRestoreOptions): Promise<PgBackRestRestore> {
  const workDir = o.workDir ?? join(dirname(o.dataDir), 'pgbackrest');
  assertShellSafePath(o.dataDir);
  const r = await pgBackRestRunner({ artifact: o.artifact, configFile: o.configFile, osUser: o.osUser, workDir, signal: o.signal });
  const backup = await pgBackRestBackup(r, o.artifact.label);
  const integrity = o.verify === false ? [] : [await pgBackRestVerify(r, backup)];
  const restoreCommand = archiveGetCommand(r, backup.repo, o.dataDir);
  await mkdir(o.dataDir, { recursive: true, mode: 0o700 });
  await handOver(o.dataDir, o.osUser);
  const t0 = performance.now();
  const res = await runPgBackRest(r, 'restore', [
    `--repo=${backup.repo}`, `--set=${backup.label}`, `--pg1-path=${o.dataDir}`, '--archive-mode=off', `--tablespace-map-all=${join(workDir, 'tablespaces')}`,
    `--lock-path=${join(workDir, 'lock')}`, `--spool-path=${join(workDir, 'spool')}`, '--log-level-console=warn',
    ...targetOptions(o.target, o.targetTimeline), `--recovery-option=restore_command=${restoreCommand}`,
  ], [o.dataDir]);
  const restoreMs = Math.round(performance.now() - t0);
  const error = res.exitCode === 0 ? null : `pgbackrest restore of ${backup.label} exited ${res.exitCode}: ${(res.stdout + res.stderrTail).trim().split('\n').slice(-5).join(' ')}`;
  return {
    backup, integrity, dataDir: error ? null : o.dataDir, error, restoreCommand, workDir,
    readPaths: [r.bin, r.config.file, ...r.config.included, ...r.config.repos.map((x) => x.path)],
    recoverySettings: error ? {} : await autoConfSettings(o.dataDir), repositoryReadOnly: r.readOnlyBind, restoreMs,
  };
}

/** The settings of postgresql.auto.conf (`name = 'value'`), as written by pgBackRest. */
async function autoConfSettings(dataDir: string): Promise<Record<string, string>> {
  // Written by pgBackRest as the sandbox user: read without following a link it could have planted there.
  const text = await readBoundedFile(join(dataDir, 'postgresql.auto.conf'), 'postgresql.auto.conf', 1 << 20).then((b) => b.toString('utf8'), () => '');
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([a-z_]+)\s*=\s*'((?:[^']|'')*)'/.exec(line);
    if (m) out[m[1]!] = m[2]!.replace(/''/g, "'");
  }
  return out;
}
