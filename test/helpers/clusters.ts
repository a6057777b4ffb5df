/**
 * Test fixtures: real throwaway PostgreSQL clusters (no mocks), created and disposed per test file, loaded with
 * real SQL from ../shared/data. They reuse pgdrill's own SandboxCluster, so they start the same way users' do.
 */
import { after, before } from 'node:test';
import { chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { findPgBinaries, type PgBinaries } from '../../src/exec/binaries.js';
import { resolveSandboxUser } from '../../src/exec/os-user.js';
import { runProcess } from '../../src/exec/run-process.js';
import { silentLogger } from '../../src/logger.js';
import { SandboxCluster } from '../../src/sandbox/cluster.js';

/** ../shared/data, wherever the checkout is (CI puts shared/ beside the clone). */
export const SHARED_DATA = process.env.PGDRILL_SHARED_DATA ?? resolve(import.meta.dirname, '../../../shared/data');
export const PAGILA_SCHEMA = join(SHARED_DATA, 'pagila/pagila-schema.sql');
export const PAGILA_DATA = join(SHARED_DATA, 'pagila/pagila-data.sql');
export const NORTHWIND = join(SHARED_DATA, 'northwind/northwind.sql');

let binsP: Promise<PgBinaries> | null = null;
export function bins(): Promise<PgBinaries> {
  return (binsP ??= findPgBinaries());
}

/** A scratch directory, removed by the returned disposer. */
export async function scratchDir(prefix = 'pgdrill-test-'): Promise<{ path: string } & AsyncDisposable> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

/** Options of startSource. */
export interface SourceOptions {
  readonly parentDir: string;
  readonly settings?: Record<string, string>;
  readonly label?: string;
  readonly shared?: readonly string[];
  /** The server's programs (default: the system's, bins()); test/helpers/majors.ts gives those of another major. */
  readonly bins?: PgBinaries;
}

/** A source cluster for tests: superuser `postgres`, optional databases loaded from SQL files. */
export async function startSource(opts: SourceOptions): Promise<SandboxCluster> {
  return SandboxCluster.start({
    bins: opts.bins ?? await bins(), parentDir: opts.parentDir, osUser: await resolveSandboxUser(), logger: silentLogger,
    superuser: 'postgres', label: opts.label ?? 'test-source', settings: opts.settings, shared: opts.shared,
  });
}

/** Run SQL (a string) or SQL files through psql against a cluster's database, stopping at the first error. */
export async function psql(cluster: SandboxCluster, database: string, input: { sql?: string; files?: string[] }): Promise<string> {
  const b = await bins();
  let out = '';
  for (const f of input.files ?? []) {
    const r = await runProcess({ bin: b.path('psql'), args: ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', f], env: cluster.env(database), stdout: 'capture' });
    out += r.stdout;
  }
  if (input.sql) {
    const r = await runProcess({ bin: b.path('psql'), args: ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-c', input.sql], env: cluster.env(database), stdout: 'capture' });
    out += r.stdout;
  }
  return out;
}

/** A source with pagila loaded into database `pagila`. */
export async function startPagila(parentDir: string): Promise<SandboxCluster> {
  const c = await startSource({ parentDir });
  try {
    await psql(c, 'postgres', { sql: 'CREATE DATABASE pagila' });
    await psql(c, 'pagila', { files: [PAGILA_SCHEMA, PAGILA_DATA] });
    return c;
  } catch (err) {
    await c.stop();
    throw err;
  }
}

/** A pagila source shared by the tests of a describe block, and the scratch directory it lives in. */
export interface PagilaFixture {
  /** The scratch directory (out directories of the tests go below it). */
  readonly dir: string;
  readonly source: SandboxCluster;
}

/**
 * Register before/after hooks in the current describe block: a scratch directory with a pagila source, started
 * before its tests and removed after them. Read the fields inside hooks and tests only.
 */
export function usePagila(): PagilaFixture {
  let scratch: Awaited<ReturnType<typeof scratchDir>> | undefined;
  let source: SandboxCluster | undefined;
  before(async () => {
    scratch = await scratchDir();
    source = await startPagila(scratch.path);
  });
  after(async () => {
    await source?.stop();
    await scratch?.[Symbol.asyncDispose]();
  });
  return {
    get dir() {
      if (!scratch) throw new Error('usePagila(): read fx.dir inside a hook or a test');
      return scratch.path;
    },
    get source() {
      if (!source) throw new Error('usePagila(): read fx.source inside a hook or a test');
      return source;
    },
  };
}

/** A physical copy of a test cluster, running: its data directory, its own socket directory and port. */
export interface PhysicalCopy extends AsyncDisposable {
  readonly dataDir: string;
  readonly socketDir: string;
  readonly port: number;
}

/**
 * A physical copy of `source` (`pg_basebackup` as its OS user), started with `options` (`-c name=value …`) on a socket
 * directory of its own: it keeps the source's system_identifier, like a clone or standby of production. With
 * `standby`, `-R`: a streaming standby of the source. Disposing stops it and removes it.
 */
export async function startPhysicalCopy(source: SandboxCluster, opts: { standby?: boolean; port: number; options?: string }): Promise<PhysicalCopy> {
  const b = await bins();
  const user = source.osUser;
  const root = await mkdtemp(join(tmpdir(), 'pgdrill-test-copy-'));
  const dataDir = join(root, 'data');
  const socketDir = join(root, 'sock');
  await mkdir(socketDir);
  if (user) {
    await chown(root, user.uid, user.gid);
    await chown(socketDir, user.uid, user.gid);
  }
  const as = { uid: user?.uid, gid: user?.gid };
  await runProcess({ bin: join(b.bindir, 'pg_basebackup'), args: ['-D', dataDir, '-h', source.socketDir, '-U', source.superuser, ...(opts.standby ? ['-R'] : []), '-X', 'stream', '--checkpoint=fast', '--no-sync'], ...as });
  await runProcess({
    bin: b.path('pg_ctl'), ...as, detached: true,
    args: ['-D', dataDir, '-l', join(root, 'log'), '-w', '-t', '60', '-o', `-c unix_socket_directories=${socketDir} -c port=${opts.port} ${opts.options ?? "-c listen_addresses=''"}`, 'start'],
  });
  return {
    dataDir, socketDir, port: opts.port,
    async [Symbol.asyncDispose]() {
      await runProcess({ bin: b.path('pg_ctl'), args: ['-D', dataDir, '-m', 'immediate', 'stop'], ...as, allowFailure: true });
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Build a plain libpq URL for a test cluster. */
export function urlOf(c: SandboxCluster, db: string): string {
  return c.url(db).replace('pgdrill@', `${c.superuser}@`);
}

export { silentLogger };
