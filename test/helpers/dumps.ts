/** Dumps made directly with pg_dump (as users' cron jobs make them), and facts about files for "nothing lost" checks. */
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runProcess } from '../../src/exec/run-process.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { bins, psql, scratchDir, startSource } from './clusters.js';

/** pg_dump formats, plus plain compressed with gzip (`--compress`). */
export type TestDumpFormat = 'plain' | 'plain-gzip' | 'custom' | 'directory' | 'tar';

/** `pg_dump` of `database` into `file`; returns `file`. */
export async function pgDump(cluster: SandboxCluster, database: string, format: TestDumpFormat, file: string, extra: string[] = []): Promise<string> {
  const b = await bins();
  const args = format === 'plain-gzip' ? ['--format=plain', '--compress=6'] : [`--format=${format}`];
  await runProcess({ bin: b.path('pg_dump'), args: [...args, '--no-sync', `--file=${file}`, ...extra], env: cluster.env(database) });
  return file;
}

/** sha256 of a file, or of a directory's files (name and content, sorted). */
export async function digestOf(path: string): Promise<string> {
  const h = createHash('sha256');
  const st = await stat(path);
  if (!st.isDirectory()) return h.update(await readFile(path)).digest('hex');
  for (const name of (await readdir(path)).sort()) h.update(name).update(await readFile(join(path, name)));
  return h.digest('hex');
}

/** mtimes (ms) of a file, or of a directory and each file in it. */
export async function mtimesOf(path: string): Promise<number[]> {
  const st = await stat(path);
  if (!st.isDirectory()) return [st.mtimeMs];
  const out = [st.mtimeMs];
  for (const name of (await readdir(path)).sort()) out.push((await stat(join(path, name))).mtimeMs);
  return out;
}

/** A scratch directory with a source whose database `shop` holds what `sql` made, its plain dump and a copy cut short. */
export interface ShopWithCutDump {
  readonly dir: Awaited<ReturnType<typeof scratchDir>>;
  readonly source: SandboxCluster;
  /** `<dir>/dumps/shop.sql`, whole. */
  readonly dump: string;
  /** `<dir>/cut/shop.sql`: the dump's first `cutAt(text)` bytes (same file name, so it files under the same database). */
  readonly cut: string;
}

/** Start a source with database `shop` made by `sql`, dump it (plain) and write the cut copy. Stop and dispose in an after hook. */
export async function shopWithCutDump(sql: string, cutAt: (text: Buffer) => number): Promise<ShopWithCutDump> {
  const dir = await scratchDir();
  const source = await startSource({ parentDir: dir.path });
  await psql(source, 'postgres', { sql: 'CREATE DATABASE shop' });
  await psql(source, 'shop', { sql });
  await mkdir(join(dir.path, 'dumps'));
  const dump = await pgDump(source, 'shop', 'plain', join(dir.path, 'dumps', 'shop.sql'));
  const text = await readFile(dump);
  await mkdir(join(dir.path, 'cut'));
  const cut = join(dir.path, 'cut', 'shop.sql');
  await writeFile(cut, text.subarray(0, cutAt(text)));
  return { dir, source, dump, cut };
}
