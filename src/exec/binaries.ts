/**
 * Finding PostgreSQL's programs and knowing their version. Order: `PG_BINDIR` (or the `bindir` option),
 * `/usr/lib/postgresql/<major>/bin` highest major first, `pg_config --bindir`, then PATH.
 */
import { access, readdir } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { EnvironmentError } from '../errors.js';
import { runProcess } from './run-process.js';

/** The PostgreSQL programs pgdrill uses. */
export type PgTool =
  | 'pg_dump' | 'pg_dumpall' | 'pg_restore' | 'psql' | 'initdb' | 'pg_ctl' | 'postgres' | 'pg_amcheck' | 'pg_controldata';

/** A PostgreSQL version as `major.minor`. */
export interface PgVersion {
  readonly major: number;
  readonly minor: number;
  readonly text: string;
}

/** One directory of PostgreSQL programs, with their version. */
export interface PgBinaries {
  readonly bindir: string;
  readonly version: PgVersion;
  /** Absolute path of a tool in bindir. */
  path(tool: PgTool): string;
}

const REQUIRED: readonly PgTool[] = ['pg_dump', 'pg_dumpall', 'pg_restore', 'psql', 'initdb', 'pg_ctl', 'postgres'];

async function isExecutable(p: string): Promise<boolean> {
  try {
    await access(p, constants.X_OK);
    return true;
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

async function candidateDirs(explicit?: string): Promise<string[]> {
  const dirs: string[] = [];
  const fromEnv = explicit ?? process.env.PG_BINDIR;
  if (fromEnv) return [fromEnv];
  try {
    const majors = (await readdir('/usr/lib/postgresql')).filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(b) - Number(a));
    for (const m of majors) dirs.push(`/usr/lib/postgresql/${m}/bin`);
  } catch {
    /* no Debian layout */
  }
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (!dir) continue;
    const pgConfig = join(dir, 'pg_config');
    if (await isExecutable(pgConfig)) {
      try {
        const r = await runProcess({ bin: pgConfig, args: ['--bindir'], stdout: 'capture' });
        dirs.push(r.stdout.trim());
      } catch {
        /* ignore a broken pg_config */
      }
      break;
    }
  }
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir) dirs.push(dir);
  return [...new Set(dirs)];
}

/**
 * Find a directory holding every program pgdrill needs and read its version.
 * @throws EnvironmentError naming what is missing and how to install it.
 */
export async function findPgBinaries(opts: { bindir?: string } = {}): Promise<PgBinaries> {
  const tried: string[] = [];
  for (const dir of await candidateDirs(opts.bindir)) {
    const missing: PgTool[] = [];
    for (const t of REQUIRED) if (!(await isExecutable(join(dir, t)))) missing.push(t);
    if (missing.length === REQUIRED.length) continue;
    if (missing.length) {
      tried.push(`${dir} (missing ${missing.join(', ')})`);
      continue;
    }
    const r = await runProcess({ bin: join(dir, 'pg_dump'), args: ['--version'], stdout: 'capture' });
    const version = parseToolVersion(r.stdout);
    if (!version) throw new EnvironmentError(`cannot read the version of ${join(dir, 'pg_dump')}: "${r.stdout.trim()}"`);
    return { bindir: dir, version, path: (tool) => join(dir, tool) };
  }
  throw new EnvironmentError(
    `PostgreSQL programs not found (need ${REQUIRED.join(', ')}).` +
      (tried.length ? ` Incomplete: ${tried.join('; ')}.` : '') +
      ` Install them (Debian/Ubuntu: apt-get install postgresql) or set PG_BINDIR to their directory.`,
  );
}

/**
 * pg_dump cannot dump a server of a newer major version: refuse before starting, naming both versions.
 * @throws EnvironmentError
 */
export function assertCanDump(bins: PgBinaries, server: PgVersion): void {
  if (bins.version.major < server.major) {
    throw new EnvironmentError(
      `pg_dump ${bins.version.text} (${bins.bindir}) is older than the source server ${server.text}: ` +
        `pg_dump cannot dump a newer major version. Install the PostgreSQL ${server.major} client programs ` +
        `(Debian: apt-get install postgresql-client-${server.major}) or set PG_BINDIR to their directory.`,
    );
  }
}
