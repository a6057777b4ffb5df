/**
 * Which OS user runs the throwaway cluster. initdb and postgres refuse to run as root, so as root pgdrill runs
 * them as an unprivileged user (default `postgres`) and hands it the directories it needs.
 */
import { readFile } from 'node:fs/promises';
import { EnvironmentError } from '../errors.js';

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
 * The user the sandbox runs as: null (the caller) when not root, else `name` (default `postgres`).
 * @throws EnvironmentError when running as root and the user does not exist.
 */
export async function resolveSandboxUser(name?: string): Promise<OsUser | null> {
  if (process.getuid?.() !== 0) return null;
  const wanted = name ?? 'postgres';
  const user = await lookupOsUser(wanted);
  if (!user) {
    throw new EnvironmentError(
      `running as root, and initdb/postgres refuse root: pgdrill needs an unprivileged OS user to run the sandbox ` +
        `cluster, but "${wanted}" does not exist. Create one (useradd --system --no-create-home --shell /usr/sbin/nologin ${wanted}) ` +
        `or set sandbox.os_user in the config.`,
    );
  }
  if (user.uid === 0) throw new EnvironmentError(`sandbox.os_user "${wanted}" is root (uid 0); choose an unprivileged user`);
  return user;
}
