/**
 * One drill per database and out directory at a time. Two drills never share a run directory, a sandbox or a
 * socket (each gets fresh private ones), so drills of *different* databases run side by side freely. Two drills
 * of the *same* database into the same out directory, though, would hold two snapshots open on production (both
 * holding back VACUUM), read every table twice, and compete for the same place in its history — nothing a second
 * drill could prove that the first does not. So the second one is refused (exit 3) before it acts.
 *
 * The lock is a file `<out>/.pgdrill-<key>.lock` (key: run-dir.ts's `databaseKey`, never shared by two
 * databases), pgdrill's one lock file (src/exec/lock-file.ts: O_EXCL|O_NOFOLLOW, never read through a link, stale
 * when its holder's pid is gone or reused, never judged from another host). It is released when the drill ends, on
 * every path (`await using`); after a SIGKILL it stays, stale, until the next drill or `pgdrill cleanup`.
 */
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { GuardError } from '../errors.js';
import { diskFullError, isDiskFull } from '../exec/disk-full.js';
import { acquireLockFile, readLockFile, type HeldLock, type LockHolder } from '../exec/lock-file.js';
import { databaseKey } from './run-dir.js';

/** What a drill lock records (src/exec/lock-file.ts): its holder and the database. */
export interface DrillLockOwner extends LockHolder {
  readonly database: string;
}

/** A held lock; dispose (or `release`) removes it. */
export type DrillLock = HeldLock;

/** Name of the lock file of `database` in an out directory. */
export function drillLockPath(outDir: string, database: string): string {
  return drillLockPathOfKey(outDir, databaseKey(database));
}

/** Name of the lock file of a database key (`databaseKey`, as in a run directory's name) in an out directory. */
export function drillLockPathOfKey(outDir: string, key: string): string {
  return join(resolve(outDir), `.pgdrill-${key}.lock`);
}

/** The database key of a drill lock's file name (`.pgdrill-<key>.lock`, drillLockPathOfKey's); null for any other name. */
export function drillLockKey(name: string): string | null {
  return /^\.pgdrill-(.+)\.lock$/.exec(name)?.[1] ?? null;
}

/**
 * The owner recorded in a drill lock, or why it is none (a link, not a regular file, not the user's own, not a
 * lock): src/exec/lock-file.ts's reading rules.
 */
export async function readDrillLock(path: string): Promise<{ owner: DrillLockOwner } | { problem: string } | null> {
  const state = await readLockFile<{ database: string }>(path);
  if ('absent' in state) return null;
  if ('problem' in state) return { problem: state.problem };
  return { owner: { ...state.holder, database: state.holder.database ?? '?' } };
}

/**
 * Take the lock of `database` in `outDir`.
 * @throws GuardError (exit 3) when another live drill of the same database holds it, or the lock file is another
 * user's (neither honoured nor removed).
 */
export async function acquireDrillLock(outDir: string, database: string): Promise<DrillLock> {
  await mkdir(resolve(outDir), { recursive: true, mode: 0o700 }); // --out created private (src/exec/private-mode.ts)
  const path = drillLockPath(outDir, database);
  try {
    return await acquireLockFile(path, {
      extra: { database },
      busy: (owner) => new GuardError(
        `another drill of database "${database}" is running into ${resolve(outDir)}: pid ${owner.pid} on ${owner.host}, since ${owner.started_at} ` +
          `(lock ${path}). Two drills of one database at once would double the load on production; nothing was done. ` +
          `Wait for it to finish, or use another --out. If no such drill runs${owner.host === hostname() ? '' : ` on ${owner.host}`}, remove the lock file.`,
        'drill_lock', 'no other drill of this database', `pid ${owner.pid}@${owner.host}`,
      ),
      refused: (problem) => new GuardError(
        `the drill lock ${path} is not one pgdrill may honour or remove: ${problem}. Nothing was done. ` +
          `Remove it if no drill of "${database}" runs, or use another --out.`,
        'drill_lock',
      ),
    });
  } catch (err) {
    if (isDiskFull(err)) throw await diskFullError(err, path, 'the drill lock');
    throw err;
  }
}
