/**
 * Every directory that may hold PostgreSQL programs, in the order a choice between equals follows: `PG_BINDIR`
 * (an explicit choice: it wins for what it holds), the config's `binaries`, the packaged layouts of Debian/Ubuntu
 * (/usr/lib/postgresql/N/bin), RHEL (/usr/pgsql-N/bin) and Homebrew (postgresql@N), `pg_config --bindir`, PATH,
 * and last the server store (src/toolchain/server-store.ts). Each program is found on its own, and its version is
 * its own `--version` (read only for the programs a role considers, once per file).
 */
import { readdir, realpath } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { isExecutable, programVersion, type PgTool, type PgVersion } from '../exec/binaries.js';
import { runProcess } from '../exec/run-process.js';
import { storedServers, type StoredServer } from './server-store.js';

/** Where a directory of programs came from. */
export type ProgramOrigin = 'PG_BINDIR' | 'config' | 'debian' | 'rhel' | 'homebrew' | 'pg_config' | 'PATH' | 'store';

/** A directory that may hold PostgreSQL programs. */
export interface ProgramDir {
  readonly dir: string;
  readonly origin: ProgramOrigin;
}

/** The config's `binaries` section (see src/config/schema.ts). */
export interface BinariesConfig {
  readonly search_path?: readonly string[];
  readonly majors?: Readonly<Record<string, string>>;
}

/** Where to look. Every field has a default (the process's environment and the real file system). */
export interface DiscoverOptions {
  /** PG_BINDIR; default process.env.PG_BINDIR. */
  readonly pgBindir?: string;
  readonly config?: BinariesConfig;
  /** PATH; default process.env.PATH. */
  readonly path?: string;
  /** Prefix of the packaged layouts (/usr/lib/postgresql, /usr/pgsql-N, Homebrew's); default '' (the real ones). For tests. */
  readonly sysroot?: string;
  /** The server store's servers; default storedServers(). */
  readonly store?: () => Promise<readonly Pick<StoredServer, 'major' | 'bindir'>[]>;
}

/** One program file found, with where it was found. */
export interface FoundProgram {
  readonly tool: PgTool;
  readonly path: string;
  readonly dir: string;
  readonly origin: ProgramOrigin;
  /** The major the directory promises (config `binaries.majors`), checked against the program's own version. */
  readonly promisedMajor: number | null;
}

/** A found program with its version read. */
export interface VersionedProgram extends FoundProgram {
  readonly version: PgVersion;
}

async function numberedEntries(dir: string, re: RegExp): Promise<{ name: string; major: number }[]> {
  try {
    return (await readdir(dir))
      .map((name) => ({ name, m: re.exec(name) }))
      .filter((e): e is { name: string; m: RegExpExecArray } => e.m !== null)
      .map((e) => ({ name: e.name, major: Number(e.m[1]) }))
      .sort((a, b) => b.major - a.major);
  } catch {
    return [];
  }
}

/** `pg_config --bindir` answers, by pg_config's path: asked once per process. */
const pgConfigAnswers = new Map<string, Promise<string | null>>();

async function pgConfigBindir(pathDirs: readonly string[]): Promise<string | null> {
  for (const dir of pathDirs) {
    const pgConfig = join(dir, 'pg_config');
    if (!(await isExecutable(pgConfig))) continue;
    let answer = pgConfigAnswers.get(pgConfig);
    if (!answer) {
      answer = runProcess({ bin: pgConfig, args: ['--bindir'], stdout: 'capture', allowFailure: true })
        .then((r) => (r.exitCode === 0 && r.stdout.trim().startsWith('/') ? r.stdout.trim() : null), () => null);
      pgConfigAnswers.set(pgConfig, answer);
    }
    return answer;
  }
  return null;
}

/** The directories to search, in order of preference, each once. */
export async function programDirs(o: DiscoverOptions = {}): Promise<{ dirs: ProgramDir[]; promised: Map<string, number> }> {
  const root = o.sysroot ?? '';
  const dirs: ProgramDir[] = [];
  const promised = new Map<string, number>();
  const pgBindir = o.pgBindir ?? process.env.PG_BINDIR;
  if (pgBindir) dirs.push({ dir: pgBindir, origin: 'PG_BINDIR' });
  for (const [major, dir] of Object.entries(o.config?.majors ?? {}).sort((a, b) => Number(b[0]) - Number(a[0]))) {
    dirs.push({ dir, origin: 'config' });
    promised.set(dir, Number(major));
  }
  for (const dir of o.config?.search_path ?? []) dirs.push({ dir, origin: 'config' });
  for (const e of await numberedEntries(`${root}/usr/lib/postgresql`, /^(\d+)$/)) dirs.push({ dir: `${root}/usr/lib/postgresql/${e.name}/bin`, origin: 'debian' });
  for (const e of await numberedEntries(`${root}/usr`, /^pgsql-(\d+)$/)) dirs.push({ dir: `${root}/usr/${e.name}/bin`, origin: 'rhel' });
  for (const prefix of ['/opt/homebrew/opt', '/usr/local/opt']) {
    for (const e of await numberedEntries(`${root}${prefix}`, /^postgresql@(\d+)$/)) dirs.push({ dir: `${root}${prefix}/${e.name}/bin`, origin: 'homebrew' });
  }
  const pathDirs = (o.path ?? process.env.PATH ?? '').split(':').filter((d) => d.startsWith('/'));
  const fromPgConfig = await pgConfigBindir(pathDirs);
  if (fromPgConfig) dirs.push({ dir: fromPgConfig, origin: 'pg_config' });
  for (const dir of pathDirs) dirs.push({ dir, origin: 'PATH' });
  for (const s of await (o.store ?? storedServers)()) dirs.push({ dir: s.bindir, origin: 'store' });
  const seen = new Set<string>();
  return { dirs: dirs.filter((d) => (seen.has(d.dir) ? false : (seen.add(d.dir), true))), promised };
}

/**
 * Every program of `tools` in the directories, in their order; one file reached by two paths (a symlink in PATH
 * to a packaged directory) counts once, at its first place. Debian's pg_wrapper (/usr/bin/psql and friends: a
 * script that picks a major by itself) is skipped: the packaged directories it would pick from are searched anyway.
 */
export async function findPrograms(dirs: readonly ProgramDir[], promised: ReadonlyMap<string, number>, tools: readonly PgTool[]): Promise<FoundProgram[]> {
  const out: FoundProgram[] = [];
  const seen = new Set<string>();
  for (const d of dirs) {
    for (const tool of tools) {
      const path = join(d.dir, tool);
      if (!(await isExecutable(path))) continue;
      const real = await realpath(path).catch(() => path);
      if (basename(real) === 'pg_wrapper' || seen.has(real)) continue;
      seen.add(real);
      out.push({ tool, path, dir: d.dir, origin: d.origin, promisedMajor: promised.get(d.dir) ?? null });
    }
  }
  return out;
}

/** Read the versions of `programs` (in parallel, cached); a program whose version cannot be read is left out. */
export async function withVersions(programs: readonly FoundProgram[]): Promise<VersionedProgram[]> {
  const versions = await Promise.all(programs.map((p) => programVersion(p.path)));
  return programs.flatMap((p, i) => (versions[i] ? [{ ...p, version: versions[i] }] : []));
}
