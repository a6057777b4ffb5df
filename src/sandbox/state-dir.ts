/**
 * pgdrill's state directory: where it records the sandboxes it created (sandbox-records.ts), so that
 * `pgdrill cleanup` can prove a sandbox is pgdrill's before it stops a server or removes a file. A proof is only as
 * good as the place it is kept, so the state directory must be out of reach of everyone but the user running
 * pgdrill: the directory itself owned by that user and mode 0700, every directory above it owned by root or that
 * user and writable by no one else (a world-writable one only with the sticky bit, like /tmp), any symbolic link on
 * the way owned by root or that user. The sandbox's server runs as another OS user (as root) and owns nothing
 * there; the dump, which runs inside that server, cannot write a record.
 *
 * Where: `PGDRILL_STATE_DIR` when set; else, as root, /var/lib/pgdrill; else `$XDG_STATE_HOME/pgdrill`
 * (default ~/.local/state/pgdrill).
 */
import { chmod, lstat, mkdir, realpath } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { EnvironmentError } from '../errors.js';

/** The state directory pgdrill uses (see the module comment); never created here. */
export function defaultStateDir(): string {
  const env = process.env.PGDRILL_STATE_DIR;
  if (env) return resolve(env);
  if (process.geteuid?.() === 0) return '/var/lib/pgdrill';
  const xdg = process.env.XDG_STATE_HOME;
  return join(xdg?.startsWith('/') ? xdg : join(homedir(), '.local', 'state'), 'pgdrill');
}

function euid(): number {
  return process.geteuid?.() ?? -1;
}

/** Root and the user running pgdrill: the only owners trusted for anything pgdrill relies on. */
export function trustedOwner(uid: number): boolean {
  return uid === 0 || uid === euid();
}

/**
 * Why the directories leading to `path` (not `path` itself) could be changed by someone else; null when they
 * cannot. A component that does not exist ends the walk (whoever creates it is checked when it is created).
 */
export async function ancestorProblem(path: string, depth = 0): Promise<string | null> {
  if (depth > 16) return `too many symbolic links on the way to ${path}`;
  const parts = resolve(path).split('/').filter(Boolean);
  let cur = '/';
  for (let i = 0; i < parts.length; i++) {
    const st = await lstat(cur).catch(() => null);
    if (!st) return null;
    if (!st.isDirectory()) return `${cur} is not a directory`;
    if (!trustedOwner(st.uid)) return `${cur} is owned by uid ${st.uid}, not by root or the user running pgdrill`;
    const sticky = (st.mode & 0o1000) !== 0;
    if ((st.mode & 0o002) !== 0 && !sticky) return `${cur} is writable by every user`;
    if ((st.mode & 0o020) !== 0 && st.gid !== 0 && !sticky) return `${cur} is writable by group ${st.gid}`;
    const next = join(cur, parts[i]!);
    const lst = await lstat(next).catch(() => null);
    if (lst?.isSymbolicLink()) {
      if (!trustedOwner(lst.uid)) return `${next} is a symbolic link owned by uid ${lst.uid}`;
      // Root's or our own link: trusted as far as it goes; what it points to is checked in turn.
      const target = await realpath(next).catch(() => null);
      if (target === null) return null;
      return ancestorProblem(join(target, ...parts.slice(i + 1)), depth + 1);
    }
    cur = next;
  }
  return null;
}

/** Why the existing directory `dir` is not private to the user running pgdrill; null when it is. */
export async function privateDirProblem(dir: string): Promise<string | null> {
  const above = await ancestorProblem(dir);
  if (above) return above;
  const st = await lstat(dir).catch((e: NodeJS.ErrnoException) => e);
  if (st instanceof Error) return `${dir}: ${st.code === 'ENOENT' ? 'does not exist' : st.message}`;
  if (st.isSymbolicLink()) return `${dir} is a symbolic link`;
  if (!st.isDirectory()) return `${dir} is not a directory`;
  if (st.uid !== euid()) return `${dir} is owned by uid ${st.uid}, not by the user running pgdrill (uid ${euid()})`;
  if ((st.mode & 0o077) !== 0) return `${dir} has mode ${(st.mode & 0o777).toString(8)}, not 700`;
  return null;
}

/**
 * The state directory (default: `defaultStateDir()`), created 0700 if missing, and checked private.
 * @throws EnvironmentError naming the problem and the fix when it is not private (nothing is recorded in it then).
 */
export async function ensureStateDir(dir = defaultStateDir()): Promise<string> {
  const abs = resolve(dir);
  const above = await ancestorProblem(abs);
  if (above) throw untrusted(abs, above);
  if (!(await lstat(abs).catch(() => null))) {
    try {
      // One level at a time (Node's recursive mkdir loops forever on some file systems, /proc for one).
      let cur = '/';
      for (const part of abs.split('/').filter(Boolean)) {
        cur = join(cur, part);
        await mkdir(cur, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'EEXIST') throw e;
        });
      }
      await chmod(abs, 0o700);
    } catch (err) {
      throw new EnvironmentError(`cannot create pgdrill's state directory ${abs} (${(err as Error).message}): it records the sandboxes pgdrill creates. Set PGDRILL_STATE_DIR to a directory of the user running pgdrill.`, undefined, { cause: err });
    }
  }
  const problem = await privateDirProblem(abs);
  if (problem) throw untrusted(abs, problem);
  return abs;
}

function untrusted(dir: string, problem: string): EnvironmentError {
  return new EnvironmentError(
    `pgdrill's state directory ${dir} is not private (${problem}): it records which sandboxes pgdrill created, which ` +
      `\`pgdrill cleanup\` relies on before it stops a server. Make it a directory owned by the user running pgdrill, ` +
      `mode 700, under directories only root or that user can write, or set PGDRILL_STATE_DIR to one.`,
  );
}

export { readOwnFile } from '../exec/input-file.js';
