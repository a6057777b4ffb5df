/**
 * The run directory `<out>/<key>-<UTC timestamp>/`: every artefact of one drill lives there. The key
 * (`databaseKey`) is the database's name made file-system-safe, plus a short hash of the exact name whenever that
 * changed it, so that two databases never share a run directory or a drill lock (`a b` and `a_b`). The exact name
 * is in the report (`source.database`), never taken from the directory's name.
 *
 * The out directory's layout lives at the ground level (src/out-dir/): the pipeline creates run directories and takes
 * drill locks, `pgdrill cleanup` (src/sandbox/orphans.ts) and the history (src/history/) read the same names.
 */
import { createHash } from 'node:crypto';
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

/**
 * The key of a database in file names (run directories, drill locks): `safeName`, and when that is not the name
 * itself, `~` and 8 hex digits of the SHA-256 of the exact name (`a_b~1c2d3e4f`). `~` is never in a safeName, so a
 * hashed key never equals a plain one; plain names (`shop`) keep their plain key.
 */
export function databaseKey(database: string): string {
  const safe = safeName(database);
  return safe === database ? safe : `${safe}~${createHash('sha256').update(database, 'utf8').digest('hex').slice(0, 8)}`;
}

/** The database key (`databaseKey`) of a run directory's name, `<key>-<UTC stamp>[-n]`; null for any other name. */
export function runDirKey(name: string): string | null {
  return /^(.+)-\d{8}T\d{6}Z(?:-\d+)?$/.exec(name)?.[1] ?? null;
}

/**
 * What a run directory's name says of its database, for a report that does not name it (a verify without a
 * source): the name without its stamp and without the key's hash.
 */
export function runDirLabel(name: string): string {
  return name.replace(/-\d{8}T\d{6}Z(-\d+)?$/, '').replace(/~[0-9a-f]{8}$/, '');
}

/**
 * Create a fresh run directory, 0700 (and `outDir`, 0700, when it does not exist yet; an existing one keeps its
 * mode); a second run in the same second gets a suffix, never the same directory.
 */
export async function createRunDir(outDir: string, database: string, at = new Date()): Promise<string> {
  const base = join(resolve(outDir), `${databaseKey(database)}-${utcStamp(at)}`);
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
