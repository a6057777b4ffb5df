/**
 * PostgreSQL's own `regression` database as a test input (scripts/regression-db builds and caches it): the cache
 * entry, and a running source cluster started from the cached data directory — the database exactly as the
 * regression tests left it, which a dump and restore would not reproduce (column order, constraint names).
 */
import { chown, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runProcess } from '../../src/exec/run-process.js';
import { resolveSandboxUser } from '../../src/exec/os-user.js';
import { bins } from './clusters.js';

const SCRIPT = resolve(import.meta.dirname, '../../scripts/regression-db');

/** A cache entry of scripts/regression-db. */
export interface RegressionEntry {
  readonly dir: string;
  /** The cluster's data directory as the regression schedule left it (tar.gz of `data/`). */
  readonly dataTar: string;
  /** pg_dump -Fp / -Fc of the database, and pg_dumpall --globals-only of the cluster. */
  readonly plainDump: string;
  readonly archive: string;
  readonly globals: string;
  /** Where regress.so, autoinc.so and refint.so live (the path compiled into the database's C functions). */
  readonly libdir: string;
}

/**
 * The cache entry, built when missing (minutes, root only: apt and a build user). `{ missing }` says why there is
 * none here; a test must fail on it under CI=true and may skip elsewhere.
 */
export async function regressionEntry(): Promise<{ entry: RegressionEntry } | { missing: string }> {
  const pass = ['HOME', 'PGDRILL_CACHE_DIR', 'PGDRILL_REGRESS_LIBDIR', 'PGDRILL_REGRESS_USER', 'PG_BINDIR'];
  const env = Object.fromEntries(pass.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]]));
  const r = await runProcess({ bin: 'bash', args: [SCRIPT, '--quiet'], env: { HOME: homedir(), ...env }, stdout: 'capture', allowFailure: true });
  if (r.exitCode !== 0) return { missing: `scripts/regression-db exited ${r.exitCode}: ${r.stderrTail.trim()}` };
  const dir = r.stdout.trim().split('\n').pop()!;
  return {
    entry: {
      dir, dataTar: join(dir, 'data.tar.gz'), plainDump: join(dir, 'regression.sql'), archive: join(dir, 'regression.dump'),
      globals: join(dir, 'globals.sql'), libdir: (await readFile(join(dir, 'libdir'), 'utf8')).trim(),
    },
  };
}

/** The regression cluster, running from a private copy of the cached data directory; disposing removes it. */
export interface RegressionSource extends AsyncDisposable {
  readonly socketDir: string;
  readonly port: number;
  readonly superuser: string;
  /** libpq environment for `database`. */
  env(database?: string): Record<string, string>;
  /** A libpq URL of `database`. */
  url(database?: string): string;
}

/** Unpack the entry's data directory below a fresh directory and start it as the sandbox OS user, on a private socket. */
export async function startRegressionSource(entry: RegressionEntry): Promise<RegressionSource> {
  const b = await bins();
  const user = await resolveSandboxUser();
  const root = await mkdtemp(join(tmpdir(), 'pgdrill-test-regression-'));
  const dataDir = join(root, 'data');
  const socketDir = join(root, 'sock');
  const as = { uid: user?.uid, gid: user?.gid };
  const port = 5432; // the socket directory is private: the port only names the socket file
  try {
    await runProcess({ bin: 'tar', args: ['-C', root, '-xzf', entry.dataTar] });
    await mkdir(socketDir);
    if (user) {
      await runProcess({ bin: 'chown', args: ['-R', `${user.uid}:${user.gid}`, root] });
      await chown(root, user.uid, user.gid);
    }
    await runProcess({
      bin: b.path('pg_ctl'), ...as, detached: true,
      args: ['-D', dataDir, '-l', join(root, 'log'), '-w', '-t', '120', '-o', `-c unix_socket_directories=${socketDir} -c port=${port} -c listen_addresses=''`, 'start'],
    });
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw err;
  }
  const superuser = 'postgres';
  return {
    socketDir, port, superuser,
    env: (database = 'regression') => ({ PGHOST: socketDir, PGPORT: String(port), PGUSER: superuser, PGDATABASE: database }),
    url: (database = 'regression') => `postgresql://${superuser}@/${encodeURIComponent(database)}?host=${encodeURIComponent(socketDir)}&port=${port}`,
    async [Symbol.asyncDispose]() {
      await runProcess({ bin: b.path('pg_ctl'), args: ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], ...as, allowFailure: true });
      await rm(root, { recursive: true, force: true });
    },
  };
}
