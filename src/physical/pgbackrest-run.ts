/**
 * Running pgBackRest for a drill: only `info`, `verify` and `restore` (and, in the restored copy's
 * restore_command, `archive-get`) — never archive-push, backup, expire or a stanza-* command, which write to the
 * repository. Every run is as the sandbox's OS user, in its jail where bubblewrap is available: the configuration
 * and the repositories bound read-only (so nothing pgBackRest does can change them), a private work directory for
 * its lock and spool files, no log file (pgBackRest's default, /var/log/pgbackrest, is production's).
 */
import { access, mkdir, writeFile, chmod } from 'node:fs/promises';
import { constants } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { ConfigError, EnvironmentError } from '../errors.js';
import type { OsUser } from '../exec/os-user.js';
import { runProcess, type ProcessResult } from '../exec/run-process.js';
import { jailedCommand, resolveJail } from '../sandbox/jail.js';
import type { PgBackRestConfig } from './pgbackrest-config.js';
import { handOver } from '../exec/hand-over.js';

/** The pgBackRest commands pgdrill runs; nothing else can be asked for (none of them writes to a repository). */
export type ReadOnlyCommand = 'info' | 'verify' | 'restore' | 'archive-get';

/** Where and as whom pgBackRest runs. */
export interface PgBackRestRunner {
  readonly bin: string;
  readonly config: PgBackRestConfig;
  readonly stanza: string;
  readonly osUser: OsUser | null;
  /** Private directory of the sandbox user: lock and spool files, the jail's passwd. */
  readonly workDir: string;
  /** True when the repositories are bound read-only (bwrap); false: only file permissions protect them. */
  readonly readOnlyBind: boolean;
  readonly signal?: AbortSignal;
}

/** Characters a path may hold to be passed through restore_command's shell unquoted. */
const SAFE_PATH = /^\/[A-Za-z0-9_./@+,=-]*$/;

/** @throws ConfigError unless `p` can go into restore_command unquoted (see SAFE_PATH). */
export function assertShellSafePath(p: string): void {
  if (!SAFE_PATH.test(p)) throw new ConfigError(`${p}: pgdrill passes this path to the restored copy's restore_command, and it holds a character a shell would interpret (space, quote, %, …); use a path without them`);
}

/** pgBackRest's program, or EnvironmentError (exit 4). */
export async function pgBackRestBin(): Promise<string> {
  for (const p of ['/usr/bin/pgbackrest', '/usr/local/bin/pgbackrest']) {
    if (await access(p, constants.X_OK).then(() => true, () => false)) return p;
  }
  throw new EnvironmentError('pgbackrest is not installed (looked in /usr/bin and /usr/local/bin): install it (Debian: apt-get install pgbackrest; pgdrill: scripts/setup --with-pgbackrest) to drill pgbackrest: artefacts');
}

/**
 * Prepare the work directory and check that the sandbox user can read the configuration and every repository.
 * @throws ConfigError (exit 2) naming what the sandbox user cannot read, or a path restore_command cannot carry.
 */
export async function prepareRunner(o: { config: PgBackRestConfig; stanza: string; osUser: OsUser | null; workDir: string; signal?: AbortSignal }): Promise<PgBackRestRunner> {
  const bin = await pgBackRestBin();
  for (const p of [o.config.file, o.workDir, ...o.config.repos.map((r) => r.path)]) assertShellSafePath(p);
  await mkdir(o.workDir, { recursive: true, mode: 0o700 });
  await handOver(o.workDir, o.osUser);
  const who = o.osUser ? `the sandbox's OS user ${o.osUser.name}` : 'the user running pgdrill';
  for (const [p, what] of [[o.config.file, 'the pgBackRest configuration'], ...o.config.repos.map((r) => [r.path, `repository repo${r.key}`] as const)] as const) {
    const readable = await runProcess({ bin: '/usr/bin/test', args: ['-r', p, '-a', '(', '-f', p, '-o', '-x', p, ')'], uid: o.osUser?.uid, gid: o.osUser?.gid, allowFailure: true });
    if (readable.exitCode !== 0) {
      throw new ConfigError(`${what} ${p} cannot be read by ${who}, which runs pgBackRest for the drill (never as root): give it read access (e.g. add it to the repository's group), or pass --pgbackrest-config with a configuration it can read`);
    }
  }
  const jail = await resolveJail(o.osUser);
  if (jail.mountNamespace) await writeJailIdentity(o.workDir, o.osUser);
  return { bin, config: o.config, stanza: o.stanza, osUser: o.osUser, workDir: o.workDir, readOnlyBind: jail.mountNamespace, signal: o.signal };
}

/** A passwd and a group file for the jail (bound at /etc/passwd, /etc/group): pgBackRest and Barman look their user up. */
export async function writeJailIdentity(dir: string, osUser: OsUser | null): Promise<void> {
  const user = osUser ?? { name: userInfo().username, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  await writeFile(join(dir, 'passwd'), `${user.name}:x:${user.uid}:${user.gid}:pgdrill sandbox:/nonexistent:/usr/sbin/nologin\n`);
  await writeFile(join(dir, 'group'), `${user.name}:x:${user.gid}:\n`);
  for (const f of ['passwd', 'group']) await chmod(join(dir, f), 0o644);
}

/** The options every command gets: the configuration, the stanza, no log file. */
export function commonOptions(r: PgBackRestRunner): string[] {
  return [`--config=${r.config.file}`, `--stanza=${r.stanza}`, '--log-level-file=off'];
}

/**
 * Run `command` with `args` (after the common options) as the sandbox user in its jail; `rw`: directories it may
 * write besides the work directory (restore: the new data directory); `params`: the command's own (archive-get's file names).
 */
export async function runPgBackRest(r: PgBackRestRunner, command: ReadOnlyCommand, args: readonly string[], rw: readonly string[] = [], params: readonly string[] = []): Promise<ProcessResult> {
  const jail = await resolveJail(r.osUser);
  const ro = [r.config.file, ...r.config.included, ...r.config.repos.map((x) => x.path)];
  const view = jail.mountNamespace ? { ro, rw: [r.workDir, ...rw], passwd: join(r.workDir, 'passwd'), group: join(r.workDir, 'group') } : { ro, rw: [r.workDir, ...rw] };
  const cmd = jailedCommand(jail, r.bin, [...commonOptions(r), ...args, command, ...params], view);
  return runProcess({ ...cmd, stdout: 'capture', allowFailure: true, signal: r.signal });
}
