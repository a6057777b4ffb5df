/**
 * PostgreSQL's programs as files: their names, their versions (`prog --version`, read once per file and cached for
 * the process), and whether a path is one. Which program serves which role is src/toolchain/'s business.
 */
import { access, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { runProcess } from './run-process.js';

/** The PostgreSQL programs pgdrill uses. */
export type PgTool =
  | 'pg_dump' | 'pg_dumpall' | 'pg_restore' | 'psql' | 'initdb' | 'pg_ctl' | 'postgres' | 'pg_amcheck' | 'pg_controldata';

/** Every program pgdrill may look for. */
export const PG_TOOLS: readonly PgTool[] = ['pg_dump', 'pg_dumpall', 'pg_restore', 'psql', 'initdb', 'pg_ctl', 'postgres', 'pg_amcheck', 'pg_controldata'];

/** A PostgreSQL version as `major.minor`. */
export interface PgVersion {
  readonly major: number;
  readonly minor: number;
  readonly text: string;
}

/** Whether `p` is a file this process may execute. */
export async function isExecutable(p: string): Promise<boolean> {
  try {
    await access(p, constants.X_OK);
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/** Parse "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" or "16beta1" into a version. */
export function parseToolVersion(text: string): PgVersion | null {
  const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(text) ?? /(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return null;
  return { major: Number(m[1]), minor: Number(m[2] ?? 0), text: `${m[1]}.${m[2] ?? 0}` };
}

/** Parse server_version_num (e.g. 150018) into a version. */
export function versionFromNum(num: number): PgVersion {
  const major = Math.floor(num / 10000);
  const minor = num % 10000;
  return { major, minor, text: `${major}.${minor}` };
}

/** Versions already read, by path and the file's identity (a replaced file is read again). */
const versionCache = new Map<string, Promise<PgVersion | null>>();

let versionReads = 0;

/** How many `--version` reads this process has spawned (a drill must not spawn dozens). */
export function versionReadCount(): number {
  return versionReads;
}

/**
 * The version a program reports with `--version`, or null when it does not run or says nothing readable.
 * Read once per file per process.
 */
export async function programVersion(path: string): Promise<PgVersion | null> {
  let key: string;
  try {
    const st = await stat(path);
    key = `${path}\0${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return null;
  }
  let v = versionCache.get(key);
  if (!v) {
    versionReads++;
    v = runProcess({ bin: path, args: ['--version'], stdout: 'capture', allowFailure: true })
      .then((r) => (r.exitCode === 0 ? parseToolVersion(r.stdout) : null))
      .catch(() => null);
    versionCache.set(key, v);
  }
  return v;
}
