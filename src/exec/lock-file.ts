/**
 * pgdrill's one lock file: the drill lock of a database in an out directory (src/out-dir/drill-lock.ts), the lock
 * that serialises updates of a shared metrics file (src/outputs/atomic-file.ts) and the one around creating the
 * sandbox OS user (src/exec/os-user.ts).
 *
 * - Created with O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600: two processes never both create it, and a symbolic link
 *   planted at its name is never followed (the create fails with EEXIST instead).
 * - It records its holder as JSON: the holder's process stamp (pid, host, start time: src/exec/process-liveness.ts),
 *   when it was taken, a random token, and what the caller adds (e.g. the database). Written whole or removed: a
 *   full disk never leaves an empty lock.
 * - One staleness rule: a lock is stale when its holder's stamp is not alive — the pid is gone, or runs a process
 *   with another start time (the pid was reused). Never by age: a long drill keeps its lock. A holder on another
 *   host is never judged stale. A stale lock is moved aside atomically (rename) and taken over; if what was moved
 *   was not the lock just judged (another process took it over meanwhile), it is put back.
 * - Read without following links (O_NOFOLLOW, regular files only, bounded size), and honoured only when it is the
 *   user running pgdrill's own: a link, a FIFO, or a file that does not parse is not a lock but garbage, removed (the
 *   link itself, never what it leads to) after a moment's grace (it may be a lock being written this instant); a file
 *   owned by another user, or writable by others, or a directory, is refused: neither honoured nor removed.
 * - Released on every path (`await using`); release removes the file only while it still carries the holder's token.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, open, rename, rm } from 'node:fs/promises';
import { EnvironmentError } from '../errors.js';
import { readOwnFile } from './input-file.js';
import { ownStamp, stampAlive, type ProcessStamp } from './process-liveness.js';

/** What a lock file records. */
export interface LockHolder extends ProcessStamp {
  readonly started_at: string;
  readonly token: string;
}

/** A held lock; dispose (or `release`) removes it. */
export interface HeldLock extends AsyncDisposable {
  readonly path: string;
  release(): Promise<void>;
}

/** Options of `acquireLockFile`. */
export interface LockFileOptions<X extends object> {
  /** Fields recorded beside the holder's stamp (e.g. `{ database }`). */
  readonly extra?: X;
  /** Wait this long for a live holder to let go before giving up. Default 0: give up at once. */
  readonly waitMs?: number;
  /** The error when a live holder keeps the lock. Default: an EnvironmentError (exit 4) naming the holder. */
  readonly busy?: (holder: LockHolder & Partial<X>, path: string) => Error;
  /** The error when the file is not a lock pgdrill may honour or remove (another user's). Default: EnvironmentError. */
  readonly refused?: (problem: string, path: string) => Error;
}

/** A lock file as read: its holder, or why it is no lock (`garbage`: removable; else refused). */
export type LockFileState<X extends object = object> =
  | { readonly holder: LockHolder & Partial<X> }
  | { readonly problem: string; readonly garbage: boolean }
  | { readonly absent: true };

/** Largest lock file read. */
const MAX_LOCK_BYTES = 65_536;
/** Rounds of takeover or garbage removal before giving up ("the lock keeps changing hands"). */
const MAX_TURNS = 8;
const POLL_MS = 50;

/** Read the lock file at `path` (never through a link; see the module's doc for what is honoured). */
export async function readLockFile<X extends object = object>(path: string): Promise<LockFileState<X>> {
  const read = await readOwnFile(path, MAX_LOCK_BYTES);
  if ('problem' in read) {
    if (read.code === 'ENOENT') return { absent: true };
    return { problem: read.problem, garbage: read.code !== 'FOREIGN' && read.code !== 'EISDIR' };
  }
  try {
    const h = JSON.parse(read.text) as LockHolder & Partial<X>;
    if (typeof h === 'object' && h !== null && Number.isInteger(h.pid) && typeof h.host === 'string') return { holder: h };
  } catch {
    /* not JSON */
  }
  return { problem: 'it is not a lock pgdrill wrote (no holder in it)', garbage: true };
}

/** Is the holder of a lock still running (same pid and start time; another host's always counts)? */
export function lockHolderAlive(h: ProcessStamp): boolean {
  return stampAlive(h);
}

/**
 * Take the lock file at `path` (its directory must exist), waiting up to `waitMs` for a live holder. A stale lock
 * is taken over; garbage is removed; another user's file is refused.
 * @throws what `busy` or `refused` return (default EnvironmentError, exit 4).
 */
export async function acquireLockFile<X extends object = object>(path: string, opts: LockFileOptions<X> = {}): Promise<HeldLock> {
  const me: LockHolder & X = { ...ownStamp(), started_at: new Date().toISOString(), token: randomBytes(8).toString('hex'), ...(opts.extra as X) };
  const deadline = Date.now() + (opts.waitMs ?? 0);
  for (let turns = 0; turns < MAX_TURNS; ) {
    if (await createLockFile(path, me)) return heldLock(path, me.token);
    const state = await readLockFile<X>(path);
    if ('absent' in state) continue; // released between our create and our read: try again
    if ('problem' in state) {
      if (!state.garbage) throw (opts.refused ?? defaultRefused)(state.problem, path);
      // Being written this instant by another process, or garbage: give the writer a moment, then judge again.
      await sleep(POLL_MS);
      const again = await readLockFile<X>(path);
      if ('problem' in again && again.garbage && ++turns >= 2) await rm(path, { force: true });
      continue;
    }
    if (lockHolderAlive(state.holder)) {
      if (Date.now() >= deadline) throw (opts.busy ?? defaultBusy)(state.holder, path);
      await sleep(POLL_MS);
      continue;
    }
    turns++;
    await takeOverStale(path, state.holder.token);
  }
  throw new EnvironmentError(`could not take the lock ${path}: it keeps changing hands (is another pgdrill starting?). Try again.`);
}

/** Run `fn` holding the lock file at `path` (see `acquireLockFile`). */
export async function withLockFile<T, X extends object = object>(path: string, fn: () => Promise<T>, opts: LockFileOptions<X> = {}): Promise<T> {
  await using _lock = await acquireLockFile(path, opts);
  return await fn();
}

/** Create the lock file and write its holder; false when it exists. A lock not written whole is removed, never left empty. */
async function createLockFile(path: string, me: LockHolder): Promise<boolean> {
  let fh;
  try {
    fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    await fh.writeFile(JSON.stringify(me, null, 2) + '\n');
  } catch (err) {
    await fh.close().catch(() => {});
    await rm(path, { force: true }); // created by this open: ours
    throw err;
  }
  await fh.close();
  return true;
}

/**
 * Move a stale lock aside atomically; if what was moved is not the lock just judged (another process took it over
 * meanwhile), put that one back (link: never over a newer lock) and let the next round judge it.
 */
async function takeOverStale(path: string, judgedToken: string): Promise<void> {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const moved = await readLockFile(aside);
  if ('holder' in moved && moved.holder.token !== judgedToken) await link(aside, path).catch(() => {});
  await rm(aside, { force: true });
}

function heldLock(path: string, token: string): HeldLock {
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    // Remove only our own lock, never one a later process took over after judging ours stale.
    const state = await readLockFile(path);
    if ('holder' in state && state.holder.token === token) await rm(path, { force: true });
  };
  return { path, release, [Symbol.asyncDispose]: release };
}

function defaultBusy(h: LockHolder, path: string): Error {
  return new EnvironmentError(`${path} is held by pgdrill pid ${h.pid} on ${h.host} since ${h.started_at}. Wait for it to finish; if no such process runs, remove the file.`);
}

function defaultRefused(problem: string, path: string): Error {
  return new EnvironmentError(`${path} is in the way of a lock pgdrill takes: ${problem}. It was neither honoured nor removed; remove it if no pgdrill of another user runs.`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
