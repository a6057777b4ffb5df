/** Dumps made directly with pg_dump (as users' cron jobs make them), and facts about files for "nothing lost" checks. */
import { createHash } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { runProcess } from '../../src/exec/run-process.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { bins } from './clusters.js';

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
