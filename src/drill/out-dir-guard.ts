/** Refuse an out directory inside a PostgreSQL data directory: dumps there could fill or corrupt a cluster. */
import { stat } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import { GuardError } from '../errors.js';
import type { DbSession } from '../pg/client.js';

async function isDataDir(dir: string): Promise<boolean> {
  try {
    await stat(`${dir}/PG_VERSION`);
    return (await stat(`${dir}/global`)).isDirectory();
  } catch {
    return false;
  }
}

/** @throws GuardError (exit 3) when `outDir` is, or is inside, a data directory (any local one, or the source's). */
export async function assertOutDirSafe(db: DbSession | null, outDir: string): Promise<void> {
  const target = resolve(outDir);
  for (let d = target; ; d = dirname(d)) {
    if (await isDataDir(d)) {
      throw new GuardError(`out directory ${target} is inside the PostgreSQL data directory ${d}; choose a directory outside any cluster (--out)`, 'out_dir', 'outside any data directory', d);
    }
    if (dirname(d) === d) break;
  }
  if (!db) return;
  // Readable by superusers and pg_read_all_settings members only; without it the local walk above has to do.
  const dataDir = await db.value<string>(`SELECT setting FROM pg_settings WHERE name = 'data_directory'`).catch(() => null);
  if (dataDir && (target === dataDir || target.startsWith(dataDir + sep))) {
    throw new GuardError(`out directory ${target} is inside the source's data directory ${dataDir}; choose another --out`, 'out_dir', 'outside the source data directory', dataDir);
  }
}
