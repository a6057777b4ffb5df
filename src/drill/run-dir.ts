/** The run directory `<out>/<database>-<UTC timestamp>/`: every artefact of one drill lives there. */
import { mkdir } from 'node:fs/promises';
import { PRIVATE_DIR } from '../exec/private-mode.js';
import { join, resolve } from 'node:path';

/** 20261127T233317Z */
export function utcStamp(d = new Date()): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** A file-system-safe version of a database name. */
export function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 60) || 'db';
}

/** The database part (safeName'd) of a run directory's name, `<database>-<UTC stamp>[-n]`; null for any other name. */
export function runDirDatabase(name: string): string | null {
  return /^(.+)-\d{8}T\d{6}Z(?:-\d+)?$/.exec(name)?.[1] ?? null;
}

/**
 * Create a fresh run directory, 0700 (and `outDir`, 0700, when it does not exist yet; an existing one keeps its
 * mode); a second run in the same second gets a suffix, never the same directory.
 */
export async function createRunDir(outDir: string, database: string, at = new Date()): Promise<string> {
  const base = join(resolve(outDir), `${safeName(database)}-${utcStamp(at)}`);
  await mkdir(resolve(outDir), { recursive: true, mode: PRIVATE_DIR });
  for (let i = 1; ; i++) {
    const dir = i === 1 ? base : `${base}-${i}`;
    try {
      await mkdir(dir, { mode: PRIVATE_DIR });
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}
