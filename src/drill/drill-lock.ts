/**
 * One drill per database and out directory at a time. Two drills never share a run directory, a sandbox or a
 * socket (each gets fresh private ones), so drills of *different* databases run side by side freely. Two drills
 * of the *same* database into the same out directory, though, would hold two snapshots open on production (both
 * holding back VACUUM), read every table twice, and compete for the same place in its history — nothing a second
 * drill could prove that the first does not. So the second one is refused (exit 3) before it acts.
 *
 * The lock is a file `<out>/.pgdrill-<key>.lock` (key: run-dir.ts's `databaseKey`, never shared by two
 * databases) created with O_EXCL, holding the owner's pid, host and process start time. A lock whose owner is
 * gone (same host, pid dead or reused) is stale and taken over; a lock from another host is never judged stale
 * (its pid means nothing here). It is released when the drill ends, on
 * every path (`await using`); after a SIGKILL it stays, stale, until the next drill or `pgdrill cleanup`.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, mkdir, open, rename, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { GuardError } from '../errors.js';
import { openNoFollow } from '../exec/input-file.js';
import { diskFullError, isDiskFull } from '../exec/disk-full.js';
import { isAlive } from '../sandbox/process-alive.js';
import { databaseKey } from './run-dir.js';

/** What a lock file records. */
export interface DrillLockOwner {
  readonly pid: number;
  readonly host: string;
  /** The owner's start time in clock ticks since boot (/proc/<pid>/stat), so that a reused pid is not taken for it. */
  readonly start_ticks: number | null;
  readonly database: string;
  readonly started_at: string;
  readonly token: string;
}

/** A held lock; dispose (or `release`) removes it. */
export interface DrillLock extends AsyncDisposable {
  readonly path: string;
  release(): Promise<void>;
}

/** Name of the lock file of `database` in an out directory. */
export function drillLockPath(outDir: string, database: string): string {
  return drillLockPathOfKey(outDir, databaseKey(database));
}

/** Name of the lock file of a database key (`databaseKey`, as in a run directory's name) in an out directory. */
export function drillLockPathOfKey(outDir: string, key: string): string {
  return join(resolve(outDir), `.pgdrill-${key}.lock`);
}

/** Start time of a process in clock ticks since boot, or null where /proc does not tell. */
export function processStartTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    return Number.isFinite(ticks) ? ticks : null;
  } catch {
    return null;
  }
}

/** Is the owner of a lock still running? Unknown (another host) counts as running. */
export function lockOwnerAlive(owner: DrillLockOwner): boolean {
  if (owner.host !== hostname()) return true;
  if (!isAlive(owner.pid)) return false;
  const ticks = processStartTicks(owner.pid);
  return owner.start_ticks === null || ticks === null || ticks === owner.start_ticks;
}

/**
 * The owner recorded in a lock file; null when it is missing or unreadable, or not a lock at all: a symbolic link
 * (never followed: pgdrill, as root, would read whatever it points at and repeat it in its refusal), anything but a
 * regular file, or larger than a lock (64 KiB). Such a "lock" is garbage, removed like a half-written one.
 */
export async function readLockOwner(path: string): Promise<DrillLockOwner | null> {
  try {
    const opened = await openNoFollow(path);
    if ('problem' in opened) return null;
    const { fh, stat: st } = opened;
    try {
      if (st.size > 65_536) return null;
      const o = JSON.parse(await fh.readFile('utf8')) as DrillLockOwner;
      return typeof o.pid === 'number' && typeof o.host === 'string' ? o : null;
    } finally {
      await fh.close();
    }
  } catch {
    return null;
  }
}

/** Create the lock file (O_EXCL) and write its owner; a lock that could not be written whole (a full disk) is removed, never left empty. */
async function writeLockFile(path: string, me: DrillLockOwner): Promise<void> {
  const fh = await open(path, 'wx', 0o600);
  try {
    await fh.writeFile(JSON.stringify(me, null, 2) + '\n');
  } catch (err) {
    await fh.close().catch(() => {});
    await rm(path, { force: true }); // created by this open: ours
    throw err;
  }
  await fh.close();
}

/**
 * Take the lock of `database` in `outDir`.
 * @throws GuardError (exit 3) when another live drill of the same database holds it.
 */
export async function acquireDrillLock(outDir: string, database: string): Promise<DrillLock> {
  await mkdir(resolve(outDir), { recursive: true, mode: 0o700 }); // --out created private (src/exec/private-mode.ts)
  const path = drillLockPath(outDir, database);
  const me: DrillLockOwner = {
    pid: process.pid, host: hostname(), start_ticks: processStartTicks(process.pid), database,
    started_at: new Date().toISOString(), token: randomBytes(8).toString('hex'),
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await writeLockFile(path, me);
      return heldLock(path, me);
    } catch (err) {
      if (isDiskFull(err)) throw await diskFullError(err, path, 'the drill lock');
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = await readLockOwner(path);
    if (owner === null) {
      // Being written this instant by another drill, or garbage: give the writer a moment, then judge again.
      await new Promise((r) => setTimeout(r, 50));
      if ((await readLockOwner(path)) === null && attempt >= 2) await rm(path, { force: true });
      continue;
    }
    if (lockOwnerAlive(owner)) {
      throw new GuardError(
        `another drill of database "${database}" is running into ${resolve(outDir)}: pid ${owner.pid} on ${owner.host}, since ${owner.started_at} ` +
          `(lock ${path}). Two drills of one database at once would double the load on production; nothing was done. ` +
          `Wait for it to finish, or use another --out. If no such drill runs${owner.host === hostname() ? '' : ` on ${owner.host}`}, remove the lock file.`,
        'drill_lock', 'no other drill of this database', `pid ${owner.pid}@${owner.host}`,
      );
    }
    // Stale: move it aside atomically; if what was moved is not the stale lock just judged (another drill took
    // it over meanwhile), put that one back and let the next round judge it.
    const aside = `${path}.stale-${process.pid}`;
    try {
      await rename(path, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    const moved = await readLockOwner(aside);
    if (moved && moved.token !== owner.token) await link(aside, path).catch(() => {});
    await rm(aside, { force: true });
  }
  throw new GuardError(`could not take the drill lock ${path}: it keeps changing hands; is another drill of "${database}" starting?`, 'drill_lock');
}

function heldLock(path: string, me: DrillLockOwner): DrillLock {
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    // Remove only our own lock, never one a later drill took over after judging ours stale.
    const owner = await readLockOwner(path);
    if (owner?.token === me.token) await rm(path, { force: true });
  };
  return { path, release, [Symbol.asyncDispose]: release };
}
