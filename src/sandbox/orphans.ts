/**
 * `pgdrill cleanup`: find sandboxes whose pgdrill died without tearing them down (SIGKILL, OOM, power loss), stop
 * their servers and remove their directories — and never touch anything that is not provably pgdrill's:
 *
 * - a directory is a sandbox only if it carries the marker file (src/sandbox/marker.ts) describing itself (its data
 *   directory inside it);
 * - it is an orphan only if the pgdrill process named in the marker is gone (a reused pid looks alive: then it is
 *   left alone — the safe direction), and it was not kept on purpose (`--keep`) unless `includeKept`;
 * - a process is stopped only if it is the postmaster of that very data directory (its pid from postmaster.pid, its
 *   working directory — a postmaster chdirs into its data directory — equal to it): SIGINT, which is what
 *   `pg_ctl stop -m fast` sends, then SIGKILL if it is still there after 30 s;
 * - a socket directory (`<tmp>/pgdrill-sock-*`) is removed with its sandbox, or on its own only when no server
 *   holds it and it is older than a minute (a sandbox being created has one for a moment before its marker).
 *
 * Where it looks: the out directories (`<out>/*` and `<out>/<run>/*`), the temp directory (sandboxes placed there
 * when the run directory was not reachable by the sandbox user), and every running server whose socket is in a
 * `<tmp>/pgdrill-sock-*` directory (its data directory from /proc). Stale drill locks in the out directories go too,
 * and partial dumps (`<out>/<run>/*.partial`) whose drill is gone (no live lock of its database).
 */
import { lstat, readdir, readFile, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { isAlive } from './process-alive.js';
import { readMarker, SANDBOX_MARKER, type SandboxMarker } from './marker.js';
import { drillLockPath, lockOwnerAlive, readLockOwner } from '../drill/drill-lock.js';
import { runDirDatabase } from '../drill/run-dir.js';
import { removeTree } from '../exec/remove-tree.js';

/** What to clean. */
export interface CleanupOptions {
  /** Out directories to scan. Default ['./drills']. */
  readonly outDirs?: readonly string[];
  /** Temp directory to scan for fallback sandboxes and socket directories. Default os.tmpdir(). */
  readonly tmpDir?: string;
  /** Also remove sandboxes left running with --keep. Default false. */
  readonly includeKept?: boolean;
  /** Only say what would be done. Default false. */
  readonly dryRun?: boolean;
  /** How long a stopping postmaster gets before SIGKILL, in ms. Default 30 s. */
  readonly stopTimeoutMs?: number;
}

/** One thing found. */
export interface CleanupItem {
  readonly kind: 'sandbox' | 'socket_dir' | 'drill_lock' | 'partial_dump';
  readonly path: string;
  readonly action: 'removed' | 'would_remove' | 'skipped' | 'failed';
  readonly reason: string;
  /** The postmaster that was stopped (sandboxes). */
  readonly postmaster_pid?: number | null;
}

/** Everything found, in the order it was handled. */
export interface CleanupResult {
  readonly items: CleanupItem[];
  readonly removed: number;
  readonly failed: number;
}

const SOCKET_PREFIX = 'pgdrill-sock-';
const SOCKET_MIN_AGE_MS = 60_000;

async function isDir(p: string): Promise<boolean> {
  return (await lstat(p).catch(() => null))?.isDirectory() ?? false;
}

async function children(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: string[] = [];
  for (const n of names) if (await isDir(join(dir, n))) out.push(join(dir, n));
  return out;
}

async function hasMarker(dir: string): Promise<boolean> {
  return (await lstat(join(dir, SANDBOX_MARKER)).catch(() => null))?.isFile() ?? false;
}

/** The pid in a postmaster.pid or socket lock file (first line). */
async function pidFile(path: string): Promise<number | null> {
  const first = (await readFile(path, 'utf8').catch(() => '')).split('\n')[0]?.trim() ?? '';
  const pid = Number(first.replace(/^-/, ''));
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/** The working directory of a process (a postmaster's is its data directory); null when unreadable. */
async function cwdOf(pid: number): Promise<string | null> {
  return realpath(`/proc/${pid}/cwd`).catch(() => null);
}

/** Is `pid` the running postmaster of `dataDir`? 'unknown' when /proc does not say (not ours to judge). */
async function postmasterOf(pid: number | null, dataDir: string): Promise<boolean | 'unknown'> {
  if (pid === null || !isAlive(pid)) return false;
  const cwd = await cwdOf(pid);
  if (cwd === null) return 'unknown';
  const real = await realpath(dataDir).catch(() => resolve(dataDir));
  return cwd === real;
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  for (let waited = 0; waited < ms && isAlive(pid); waited += 100) await new Promise((r) => setTimeout(r, 100));
  return !isAlive(pid);
}

function isSocketDir(p: string): boolean {
  return basename(p).startsWith(SOCKET_PREFIX);
}

/** The socket lock files of a socket directory and the server pids in them. */
async function socketServers(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const n of await readdir(dir).catch(() => [] as string[])) {
    if (/^\.s\.PGSQL\.\d+\.lock$/.test(n)) {
      const pid = await pidFile(join(dir, n));
      if (pid !== null && isAlive(pid)) pids.push(pid);
    }
  }
  return pids;
}

/** Find orphaned sandboxes, socket directories and drill locks, and remove them (unless dryRun). */
export async function cleanupOrphans(opts: CleanupOptions = {}): Promise<CleanupResult> {
  const tmp = resolve(opts.tmpDir ?? tmpdir());
  const outDirs = (opts.outDirs?.length ? opts.outDirs : ['./drills']).map((d) => resolve(d));
  const stopMs = opts.stopTimeoutMs ?? 30_000;
  const items: CleanupItem[] = [];

  // 1. Candidate sandbox directories: anything carrying a marker where sandboxes are made.
  const candidates = new Set<string>();
  const addIfMarked = async (d: string) => {
    if (await hasMarker(d)) candidates.add(await realpath(d).catch(() => d));
  };
  for (const out of outDirs) {
    for (const d of await children(out)) {
      await addIfMarked(d);
      for (const dd of await children(d)) await addIfMarked(dd);
    }
  }
  const tmpChildren = await children(tmp);
  for (const d of tmpChildren) if (!isSocketDir(d)) await addIfMarked(d);
  // Running servers with a pgdrill socket directory: their data directory's parent may be a sandbox anywhere.
  for (const d of tmpChildren.filter(isSocketDir)) {
    for (const pid of await socketServers(d)) {
      const cwd = await cwdOf(pid);
      if (cwd) await addIfMarked(dirname(cwd));
    }
  }

  // 2. Each candidate: orphan or not, then stop and remove.
  const liveSocketDirs = new Set<string>();
  const handledSocketDirs = new Set<string>();
  for (const root of [...candidates].sort()) {
    const m = await readMarker(root);
    const skip = (reason: string) => void items.push({ kind: 'sandbox', path: root, action: 'skipped', reason });
    if (!m) {
      skip('marker unreadable');
      continue;
    }
    const dataDir = resolve(m.dataDir);
    const inside = dataDir.startsWith(root + sep) || (await realpath(dirname(dataDir)).catch(() => '')) === root;
    if (!inside) {
      skip(`its marker names a data directory outside it (${m.dataDir}): not touched`);
      continue;
    }
    if (isAlive(m.pgdrillPid)) {
      liveSocketDirs.add(resolve(m.socketDir));
      skip(`in use: pgdrill pid ${m.pgdrillPid} is running`);
      continue;
    }
    if (m.kept && !opts.includeKept) {
      liveSocketDirs.add(resolve(m.socketDir));
      skip('kept running on purpose (--keep); use --include-kept to remove it');
      continue;
    }
    items.push(await removeSandbox(root, m, dataDir, { dryRun: opts.dryRun ?? false, stopMs, tmp }));
    handledSocketDirs.add(resolve(m.socketDir));
  }

  // 3. Socket directories nobody serves and no live sandbox names.
  for (const d of tmpChildren.filter(isSocketDir)) {
    if (handledSocketDirs.has(d) || liveSocketDirs.has(d)) continue;
    const servers = await socketServers(d);
    if (servers.length) {
      items.push({ kind: 'socket_dir', path: d, action: 'skipped', reason: `server pid ${servers.join(', ')} listens there and no orphaned pgdrill sandbox owns it: not pgdrill's to stop` });
      continue;
    }
    const age = Date.now() - ((await stat(d).catch(() => null))?.mtimeMs ?? Date.now());
    if (age < SOCKET_MIN_AGE_MS) {
      items.push({ kind: 'socket_dir', path: d, action: 'skipped', reason: 'no server, but less than a minute old (a sandbox may be starting)' });
      continue;
    }
    items.push(await removePath('socket_dir', d, 'no server listens there and no running pgdrill names it', opts.dryRun ?? false));
  }

  // 4. Stale drill locks.
  for (const out of outDirs) {
    for (const n of await readdir(out).catch(() => [] as string[])) {
      if (!/^\.pgdrill-.+\.lock$/.test(n)) continue;
      const path = join(out, n);
      const owner = await readLockOwner(path);
      if (owner && lockOwnerAlive(owner)) {
        items.push({ kind: 'drill_lock', path, action: 'skipped', reason: `held by running drill pid ${owner.pid} on ${owner.host}` });
      } else if (owner) {
        items.push(await removePath('drill_lock', path, `stale: drill pid ${owner.pid} is gone`, opts.dryRun ?? false));
      }
    }
  }
  // 5. Partial dumps a killed drill left in its run directory (`<out>/<database>-<stamp>/*.partial`): only when no
  //    running drill holds the lock of that database (a live drill removes its own on every path it survives).
  for (const out of outDirs) {
    for (const run of await children(out)) {
      const db = runDirDatabase(basename(run));
      if (!db) continue;
      const partials = (await readdir(run).catch(() => [] as string[])).filter((n) => n.endsWith('.partial')).map((n) => join(run, n));
      if (!partials.length) continue;
      const owner = await readLockOwner(drillLockPath(out, db));
      for (const path of partials) {
        if (owner && lockOwnerAlive(owner)) {
          items.push({ kind: 'partial_dump', path, action: 'skipped', reason: `its drill may still be writing it: drill pid ${owner.pid} on ${owner.host} holds the lock of ${db}` });
        } else {
          items.push(await removePath('partial_dump', path, `left by a drill that is gone (${owner ? `drill pid ${owner.pid} is gone` : `no drill holds the lock of ${db}`}): never a backup`, opts.dryRun ?? false));
        }
      }
    }
  }
  return { items, removed: items.filter((i) => i.action === 'removed').length, failed: items.filter((i) => i.action === 'failed').length };
}

async function removePath(kind: CleanupItem['kind'], path: string, reason: string, dryRun: boolean): Promise<CleanupItem> {
  if (dryRun) return { kind, path, action: 'would_remove', reason };
  try {
    await removeTree(path);
    return { kind, path, action: 'removed', reason };
  } catch (err) {
    return { kind, path, action: 'failed', reason: `${reason}; removing failed: ${(err as Error).message}` };
  }
}

async function removeSandbox(root: string, m: SandboxMarker, dataDir: string, o: { dryRun: boolean; stopMs: number; tmp: string }): Promise<CleanupItem> {
  const pid = await pidFile(join(dataDir, 'postmaster.pid'));
  const running = await postmasterOf(pid, dataDir);
  const why = `orphaned: pgdrill pid ${m.pgdrillPid} is gone`;
  if (running === 'unknown') {
    return { kind: 'sandbox', path: root, action: 'skipped', reason: `${why}, but whether pid ${pid} is its postmaster cannot be read from /proc (run as the sandbox's OS user or root)`, postmaster_pid: pid };
  }
  if (o.dryRun) return { kind: 'sandbox', path: root, action: 'would_remove', reason: running ? `${why}; postmaster ${pid} would be stopped` : why, postmaster_pid: running ? pid : null };
  const notes: string[] = [];
  if (running && pid !== null) {
    // SIGINT is PostgreSQL's fast shutdown (what pg_ctl stop -m fast sends); SIGKILL only if it does not go.
    try {
      process.kill(pid, 'SIGINT');
    } catch {
      /* gone meanwhile */
    }
    if (!(await waitGone(pid, o.stopMs)) && (await postmasterOf(pid, dataDir)) === true) {
      process.kill(pid, 'SIGKILL');
      notes.push('did not stop within the timeout: SIGKILL');
      await waitGone(pid, 5000);
    }
    if (isAlive(pid)) {
      return { kind: 'sandbox', path: root, action: 'failed', reason: `${why}; its postmaster ${pid} would not stop`, postmaster_pid: pid };
    }
    notes.push(`postmaster ${pid} stopped`);
  }
  const socketDir = resolve(m.socketDir);
  try {
    await removeTree(root);
    // The socket directory goes with it, if it is one of pgdrill's and no other server uses it.
    if (isSocketDir(socketDir) && (await isDir(socketDir)) && (await socketServers(socketDir)).length === 0) {
      await rm(socketDir, { recursive: true, force: true });
      notes.push(`socket dir ${socketDir} removed`);
    }
  } catch (err) {
    return { kind: 'sandbox', path: root, action: 'failed', reason: `${why}; removing failed: ${(err as Error).message}`, postmaster_pid: pid };
  }
  return { kind: 'sandbox', path: root, action: 'removed', reason: `${why}${notes.length ? `; ${notes.join('; ')}` : ''}`, postmaster_pid: running ? pid : null };
}
