/**
 * Which OS user runs the throwaway cluster. initdb and postgres refuse to run as root, so as root pgdrill runs
 * them as an unprivileged user and hands it the directories it needs. That user is pgdrill's own
 * (`pgdrill-sandbox`, created on first use): a restored dump is SQL run by a superuser, and `COPY … PROGRAM`,
 * server-file functions or C functions act with the server's OS privileges. As `postgres` they could reach every
 * other cluster on the host; as a user that owns nothing but the sandbox's directories they reach nothing else.
 */
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnvironmentError, ToolError } from '../errors.js';
import { withLockFile } from './lock-file.js';
import { runProcess } from './run-process.js';

/** The dedicated OS user the sandbox runs as when pgdrill runs as root (created on first use). */
export const DEFAULT_SANDBOX_USER = 'pgdrill-sandbox';

/** Where useradd lives on Debian/Ubuntu/RHEL; the first one that exists is used. */
const USERADD = ['/usr/sbin/useradd', '/sbin/useradd', '/usr/bin/useradd'];

/** An OS user a child runs as. */
export interface OsUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/** Look a user up in /etc/passwd. */
export async function lookupOsUser(name: string): Promise<OsUser | null> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 4) return { name, uid: Number(f[2]), gid: Number(f[3]) };
  }
  return null;
}

/**
 * The user the sandbox runs as: null (the caller) when not root; else `name` when given (an explicit override
 * that must exist), else the dedicated `pgdrill-sandbox` user, created here on first use with no home, no login
 * shell and its own group.
 * @throws EnvironmentError when running as root and the user does not exist (override) or cannot be created, or is root.
 */
export async function resolveSandboxUser(name?: string): Promise<OsUser | null> {
  if (process.getuid?.() !== 0) return null;
  const wanted = name ?? DEFAULT_SANDBOX_USER;
  const user = (await lookupOsUser(wanted)) ?? (name === undefined ? await createSandboxUser(wanted) : null);
  if (!user) {
    throw new EnvironmentError(
      `running as root, and initdb/postgres refuse root: pgdrill needs an unprivileged OS user to run the sandbox ` +
        `cluster, but sandbox.os_user "${wanted}" does not exist. Create it (useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group ${wanted}) ` +
        `or remove sandbox.os_user from the config to use pgdrill's own user ${DEFAULT_SANDBOX_USER}.`,
    );
  }
  if (user.uid === 0) throw new EnvironmentError(`sandbox.os_user "${wanted}" is root (uid 0); choose an unprivileged user`);
  return user;
}

/**
 * Create the dedicated sandbox user `name` (root only): a system account with its own group, no home directory
 * and no login shell; returns it as it already exists if it does. Two drills starting at once on a fresh machine
 * may both get here, and two concurrent useradd runs are not safe: both "succeeded" and the second rewrote
 * /etc/passwd with another uid. So creation is serialised by pgdrill's lock file (src/exec/lock-file.ts, in /run).
 * @throws EnvironmentError when useradd is missing or fails, or the lock is not released within ~30 s.
 */
export async function createSandboxUser(name: string): Promise<OsUser> {
  const existing = await lookupOsUser(name);
  if (existing) return existing;
  const bin = await firstExisting(USERADD);
  if (!bin) throw new EnvironmentError(`running as root: pgdrill runs the sandbox as OS user ${name}, which does not exist, and useradd was not found to create it. Create the user yourself or set sandbox.os_user.`);
  return withCreationLock(async () => {
    const now = await lookupOsUser(name); // created by whoever held the lock before us
    if (now) return now;
    const r = await runProcess({
      bin, args: ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', '--user-group', '--comment', 'pgdrill throwaway clusters', name],
      allowFailure: true,
    }).catch((e: ToolError) => ({ exitCode: -1, stderrTail: e.message }));
    const user = await lookupOsUser(name);
    if (user) return user;
    throw new EnvironmentError(`could not create the sandbox OS user ${name} with useradd (exit ${r.exitCode}): ${r.stderrTail.trim()}. Create it yourself (useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group ${name}) or set sandbox.os_user.`);
  });
}

/** Run `fn` holding `pgdrill-useradd.lock` in /run (root's), waiting up to 30 s for another pgdrill that holds it. */
async function withCreationLock<T>(fn: () => Promise<T>): Promise<T> {
  const dir = (await firstExisting(['/run'], constants.W_OK)) ?? tmpdir();
  return withLockFile(join(dir, 'pgdrill-useradd.lock'), fn, {
    waitMs: 30_000,
    busy: (h, path) => new EnvironmentError(`${path} is held by pgdrill pid ${h.pid}: another pgdrill is creating the sandbox OS user. Try again, or remove the file if no pgdrill runs.`),
  });
}

async function firstExisting(paths: readonly string[], mode = constants.X_OK): Promise<string | null> {
  for (const p of paths) {
    try {
      await access(p, mode);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}
