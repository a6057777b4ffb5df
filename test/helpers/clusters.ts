/**
 * Test fixtures: real throwaway PostgreSQL clusters (no mocks), created and disposed per test file, loaded with
 * real SQL from ../shared/data. They reuse pgdrill's own SandboxCluster, so they start the same way users' do.
 */
import { mkdtemp, rm } from 'node:fs/promises';
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

/** A source cluster for tests: superuser `postgres`, optional databases loaded from SQL files. */
export async function startSource(opts: { parentDir: string; settings?: Record<string, string>; label?: string } ): Promise<SandboxCluster> {
  return SandboxCluster.start({
    bins: await bins(), parentDir: opts.parentDir, osUser: await resolveSandboxUser(), logger: silentLogger,
    superuser: 'postgres', label: opts.label ?? 'test-source', settings: opts.settings,
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

/** Build a plain libpq URL for a test cluster. */
export function urlOf(c: SandboxCluster, db: string): string {
  return c.url(db).replace('pgdrill@', `${c.superuser}@`);
}

export { silentLogger };
