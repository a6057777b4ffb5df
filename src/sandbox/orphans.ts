/**
 * `pgdrill cleanup`: find sandboxes whose pgdrill died without tearing them down (SIGKILL, OOM, power loss), stop
 * their servers and remove their directories — and never touch anything that is not provably pgdrill's. It runs as
 * root next to production, in directories other users can write (the temp directory), so everything it finds there
 * is treated as planted until proven otherwise:
 *
 * - a sandbox is pgdrill's only if pgdrill recorded it when it created it (sandbox-records.ts), in a state directory
 *   only the user running pgdrill can write (state-dir.ts). A marker file (`pgdrill-sandbox.json`) or a socket
 *   directory (`<tmp>/pgdrill-sock-*`) without a record proves nothing — anyone can make one — and is reported as
 *   refused, never acted on;
 * - it is an orphan only if the pgdrill process recorded is gone (same pid and start time: a reused pid is not
 *   it), and it was not kept on purpose (`--keep`) unless `includeKept`;
 * - its directories must still be what pgdrill made: the recorded root, data and socket directories real
 *   directories (no symbolic link anywhere on the way: their realpath is the recorded path), owned by the
 *   sandbox's OS user or the user running pgdrill. The sandbox's OS user owns them and could swap them: anything
 *   else is refused, and left alone with its record (the next cleanup reports it again);
 * - a process is signalled only if /proc shows it is that sandbox's postmaster: the recorded pid with the recorded
 *   start time (or, before it was recorded, the pid in postmaster.pid started after the pgdrill that created the
 *   sandbox), running as the sandbox's uid, its working directory (a postmaster chdirs into its data directory)
 *   the recorded data directory. SIGINT, which is what `pg_ctl stop -m fast` sends, then SIGKILL if it is still
 *   there after 30 s;
 * - removal (`rm -rf --one-file-system`, exec/remove-tree.ts) never follows a symbolic link.
 *
 * In the out directories it also removes stale drill locks (`<out>/.pgdrill-*.lock`), partial dumps
 * (`<out>/<run>/*.partial`) and a physical drill's checked WAL copy (`<out>/<run>/wal-checked`) whose drill is gone
 * (no live lock of its database) — only regular files and directories owned by the user running pgdrill, in a run
 * directory of that user, never a symbolic link.
 */
import { lstat, readdir, realpath, unlink } from 'node:fs/promises';
import { openNoFollow } from '../exec/input-file.js';
import { hostname, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { isAlive, processAlive } from '../exec/process-liveness.js';
import { SANDBOX_MARKER } from './marker.js';
import { notThePostmaster, processIdentity, type ExpectedPostmaster } from './process-identity.js';
import { dropSandboxRecord, readSandboxRecords, type SandboxRecord, type StoredRecord } from './sandbox-records.js';
import { ancestorProblem, defaultStateDir } from './state-dir.js';
import { drillLockKey, drillLockPathOfKey, readDrillLock, type DrillLockOwner } from '../out-dir/drill-lock.js';
import { lockHolderAlive } from '../exec/lock-file.js';
import { runDirKey } from '../out-dir/run-dir.js';
import { removeTree } from '../exec/remove-tree.js';

/** What to clean. */
export interface CleanupOptions {
  /** Out directories to scan. Default ['./drills']. */
  readonly outDirs?: readonly string[];
  /** Temp directory to scan for markers and socket directories pgdrill has no record of (reported). Default os.tmpdir(). */
  readonly tmpDir?: string;
  /** pgdrill's state directory, where the sandboxes it created are recorded. Default: see state-dir.ts. */
  readonly stateDir?: string;
  /** Also remove sandboxes left running with --keep. Default false. */
  readonly includeKept?: boolean;
  /** Only say what would be done. Default false. */
  readonly dryRun?: boolean;
  /** How long a stopping postmaster gets before SIGKILL, in ms. Default 30 s. */
  readonly stopTimeoutMs?: number;
}

/** One thing found. */
export interface CleanupItem {
  readonly kind: 'sandbox' | 'socket_dir' | 'drill_lock' | 'partial_dump' | 'wal_copy' | 'state_file';
  readonly path: string;
  /** `refused`: not provably pgdrill's, or changed since pgdrill made it; left alone. */
  readonly action: 'removed' | 'would_remove' | 'skipped' | 'refused' | 'failed';
  readonly reason: string;
  /** The postmaster that was stopped (sandboxes). */
  readonly postmaster_pid?: number | null;
}

/** Everything found, in the order it was handled. */
export interface CleanupResult {
  readonly items: CleanupItem[];
  readonly removed: number;
  readonly failed: number;
  readonly refused: number;
}

const SOCKET_PREFIX = 'pgdrill-sock-';
/** The temp directory's staging directories of repository drills (`pgdrill verify pgbackrest:…`, `barman:…`). */
const REPOSITORY_STAGING_PREFIX = 'pgdrill-repository-';

function euid(): number {
  return process.geteuid?.() ?? -1;
}

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
  return (await lstat(join(dir, SANDBOX_MARKER)).catch(() => null)) !== null;
}

/** The pid in the first line of a postmaster.pid or socket lock file, read without following a link; null if none. */
async function pidFile(path: string): Promise<number | null> {
  const opened = await openNoFollow(path);
  if ('problem' in opened) return null;
  const { fh } = opened;
  try {
    const buf = Buffer.alloc(64);
    const { bytesRead } = await fh.read(buf, 0, 64, 0);
    const pid = Number(buf.subarray(0, bytesRead).toString('utf8').split('\n')[0]?.trim().replace(/^-/, ''));
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } finally {
    await fh.close();
  }
}

/**
 * Is `path` still the directory pgdrill made? 'absent', 'ok', or why not: a symbolic link (itself or anywhere on
 * the way: its realpath must be `path`), not a directory, or owned by someone else than `owners`.
 */
async function madeDir(path: string, owners: readonly number[]): Promise<'absent' | 'ok' | string> {
  const st = await lstat(path).catch((e: NodeJS.ErrnoException) => e);
  if (st instanceof Error) return st.code === 'ENOENT' ? 'absent' : `${path}: ${st.message}`;
  if (st.isSymbolicLink()) return `${path} is now a symbolic link`;
  if (!st.isDirectory()) return `${path} is no longer a directory`;
  if (!owners.includes(st.uid)) return `${path} is owned by uid ${st.uid}`;
  const real = await realpath(path).catch(() => null);
  if (real !== path) return `${path} now lies behind a symbolic link (it resolves to ${real ?? 'nothing'})`;
  return 'ok';
}

/** Is the pgdrill that recorded a sandbox still running (same pid and start time)? */
function pgdrillAlive(r: SandboxRecord): boolean {
  return processAlive(r.pgdrill_pid, r.pgdrill_start_ticks);
}

/** Gone, or no longer the expected process (its pid reused). */
async function waitGone(pid: number, want: ExpectedPostmaster, ms: number): Promise<boolean> {
  const gone = async () => {
    const id = await processIdentity(pid);
    return id === null || (want.startTicks != null && id.startTicks !== want.startTicks);
  };
  for (let waited = 0; waited < ms && !(await gone()); waited += 100) await new Promise((r) => setTimeout(r, 100));
  return gone();
}

function isSocketDir(p: string): boolean {
  return basename(p).startsWith(SOCKET_PREFIX);
}

/** The live pids named by the socket lock files of a socket directory (names only: lock files can be planted). */
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

/** Find orphaned sandboxes, stale drill locks, partial dumps and checked WAL copies, and remove them (unless dryRun). */
export async function cleanupOrphans(opts: CleanupOptions = {}): Promise<CleanupResult> {
  const tmp = resolve(opts.tmpDir ?? tmpdir());
  const outDirs = (opts.outDirs?.length ? opts.outDirs : ['./drills']).map((d) => resolve(d));
  const stateDir = resolve(opts.stateDir ?? defaultStateDir());
  const dryRun = opts.dryRun ?? false;
  const stopMs = opts.stopTimeoutMs ?? 30_000;
  const { records, refused } = await readSandboxRecords(stateDir);
  const items: CleanupItem[] = [
    ...(await recordedSandboxes(records, refused, { dryRun, stopMs, includeKept: opts.includeKept ?? false })),
    ...(await unrecordedSandboxes(records, outDirs, tmp, stateDir)),
    ...(await staleDrillLocks(outDirs, dryRun)),
    ...(await runLeftovers(outDirs, dryRun)),
  ];
  const count = (a: CleanupItem['action']) => items.filter((i) => i.action === a).length;
  return { items, removed: count('removed'), failed: count('failed'), refused: count('refused') };
}

type SandboxRecords = Awaited<ReturnType<typeof readSandboxRecords>>;

/** 1. The sandboxes pgdrill recorded: the only ones it may act on. */
async function recordedSandboxes(records: SandboxRecords['records'], refused: SandboxRecords['refused'], o: { dryRun: boolean; stopMs: number; includeKept: boolean }): Promise<CleanupItem[]> {
  const items: CleanupItem[] = [];
  for (const r of refused) items.push({ kind: 'state_file', path: r.path, action: 'refused', reason: `refused: ${r.reason}; left alone` });
  for (const stored of [...records].sort((a, b) => a.record.root_dir.localeCompare(b.record.root_dir))) {
    const r = stored.record;
    const skip = (reason: string) => void items.push({ kind: 'sandbox', path: r.root_dir, action: 'skipped', reason });
    if (r.host !== hostname()) skip(`recorded by pgdrill on host ${r.host}: not judged from here`);
    else if (pgdrillAlive(r)) skip(`in use: pgdrill pid ${r.pgdrill_pid} is running`);
    // A kept sandbox its user already removed by hand (as --keep's message says) leaves only its record to drop.
    else if (r.kept && !o.includeKept && (await madeDir(r.root_dir, [r.server_uid, euid()])) !== 'absent') skip('kept running on purpose (--keep); use --include-kept to remove it');
    else items.push(await removeSandbox(stored, { dryRun: o.dryRun, stopMs: o.stopMs }));
  }
  return items;
}

/** 2. What looks like a sandbox but was not recorded: named, never touched (a marker or a lock file proves nothing). */
async function unrecordedSandboxes(records: SandboxRecords['records'], outDirs: readonly string[], tmp: string, stateDir: string): Promise<CleanupItem[]> {
  const items: CleanupItem[] = [];
  const recordedRoots = new Set(records.map((s) => s.record.root_dir));
  const recordedSockets = new Set(records.map((s) => s.record.socket_dir));
  const marked: string[] = [];
  for (const out of outDirs) {
    for (const d of await children(out)) {
      if (await hasMarker(d)) marked.push(d);
      for (const dd of await children(d)) if (await hasMarker(dd)) marked.push(dd);
    }
  }
  const tmpChildren = await children(tmp);
  for (const d of tmpChildren) if (!isSocketDir(d) && (await hasMarker(d))) marked.push(d);
  for (const d of [...new Set(marked)].sort()) {
    if (recordedRoots.has(d) || recordedRoots.has((await realpath(d).catch(() => d)))) continue;
    items.push({ kind: 'sandbox', path: d, action: 'refused', reason: `refused: it carries a ${SANDBOX_MARKER} marker, but pgdrill has no record of creating it (in ${join(stateDir, 'sandboxes')}): a marker proves nothing; left alone` });
  }
  // A repository drill's staging directory (src/physical/repository-verify.ts) is recorded like a sandbox.
  for (const d of tmpChildren.filter((p) => basename(p).startsWith(REPOSITORY_STAGING_PREFIX))) {
    if (recordedRoots.has(d) || recordedRoots.has(await realpath(d).catch(() => d))) continue;
    items.push({ kind: 'sandbox', path: d, action: 'refused', reason: `refused: named like a repository drill's staging directory, but pgdrill has no record of creating it (in ${join(stateDir, 'sandboxes')}); left alone` });
  }
  for (const d of tmpChildren.filter(isSocketDir)) {
    if (recordedSockets.has(d)) continue;
    const servers = await socketServers(d);
    const names = servers.length ? `; its lock file names pid ${servers.join(', ')}, which is not pgdrill's to stop` : '';
    items.push({ kind: 'socket_dir', path: d, action: 'refused', reason: `refused: pgdrill has no record of this socket directory${names}; left alone` });
  }
  return items;
}

/** 3. Stale drill locks: our own regular files only. */
async function staleDrillLocks(outDirs: readonly string[], dryRun: boolean): Promise<CleanupItem[]> {
  const items: CleanupItem[] = [];
  for (const out of outDirs) {
    for (const n of (await readdir(out).catch(() => [] as string[])).sort()) {
      if (drillLockKey(n) === null) continue;
      const path = join(out, n);
      const owner = await ownLockOwner(path);
      if ('problem' in owner) {
        items.push({ kind: 'drill_lock', path, action: 'refused', reason: `refused: ${owner.problem}; left alone` });
      } else if (lockHolderAlive(owner.owner)) {
        items.push({ kind: 'drill_lock', path, action: 'skipped', reason: `held by running drill pid ${owner.owner.pid} on ${owner.owner.host}` });
      } else {
        items.push(await removePath('drill_lock', path, `stale: drill pid ${owner.owner.pid} is gone`, dryRun));
      }
    }
  }
  return items;
}

/** What a drill that dies leaves in its run directory, never a backup nor a report: the names cleanup may remove. */
const RUN_LEFTOVERS: readonly { readonly kind: CleanupItem['kind']; readonly match: (name: string) => boolean; readonly dirOnly: boolean; readonly what: string }[] = [
  { kind: 'partial_dump', match: (n) => n.endsWith('.partial'), dirOnly: false, what: 'never a backup' },
  // The physical drill's checked copy of the WAL (src/physical/wal-checked-copy.ts), up to the whole WAL volume,
  // until recovery moves it into the sandbox: a drill killed in between leaves it.
  { kind: 'wal_copy', match: (n) => n === 'wal-checked', dirOnly: true, what: 'a copy of WAL the continuity check made for recovery, never the archive itself' },
];

/**
 * 4. What a killed drill left in its run directory (`<out>/<key>-<stamp>/`): partial dumps (`*.partial`) and a
 *    physical drill's checked WAL copy (`wal-checked`) — only when no running drill holds the lock of that database
 *    (a live drill removes its own on every path it survives), and only what the user running pgdrill made: its run
 *    directory and the entry itself owned by that user, a regular file or directory, never a symbolic link.
 */
async function runLeftovers(outDirs: readonly string[], dryRun: boolean): Promise<CleanupItem[]> {
  const items: CleanupItem[] = [];
  for (const out of outDirs) {
    for (const run of await children(out)) {
      const key = runDirKey(basename(run));
      if (!key) continue;
      const found = (await readdir(run).catch(() => [] as string[])).sort().flatMap((n) => {
        const kind = RUN_LEFTOVERS.find((k) => k.match(n));
        return kind ? [{ path: join(run, n), kind }] : [];
      });
      if (!found.length) continue;
      const runOwner = (await lstat(run).catch(() => null))?.uid;
      // rm resolves every directory on the way to what it removes: one that another user can write (an out directory
      // or a parent of it writable by others, without the sticky bit) lets that user swap the run directory for a
      // link between these checks and the removal, and point it at another `*.partial` or `wal-checked`.
      const above = await ancestorProblem(join(run, 'x'));
      const lock = await ownLockOwner(drillLockPathOfKey(out, key));
      const owner = 'owner' in lock ? lock.owner : null;
      for (const { path, kind } of found) {
        const st = await lstat(path).catch(() => null);
        if (!st) continue;
        const foreign =
          runOwner !== euid() ? `its run directory is owned by uid ${runOwner}, not by the user running pgdrill`
          : above ? `${above}: another user could swap the run directory for a link before it is removed`
          : st.isSymbolicLink() ? 'it is a symbolic link'
          : kind.dirOnly && !st.isDirectory() ? 'it is not a directory (pgdrill makes a directory of that name)'
          : !st.isFile() && !st.isDirectory() ? 'it is neither a file nor a directory'
          : st.uid !== euid() ? `it is owned by uid ${st.uid}, not by the user running pgdrill`
          : null;
        if (foreign) {
          items.push({ kind: kind.kind, path, action: 'refused', reason: `refused: ${foreign}; left alone` });
        } else if (owner && lockHolderAlive(owner)) {
          items.push({ kind: kind.kind, path, action: 'skipped', reason: `its drill may still be using it: drill pid ${owner.pid} on ${owner.host} holds the lock of ${owner.database}` });
        } else {
          items.push(await removePath(kind.kind, path, `left by a drill that is gone (${owner ? `drill pid ${owner.pid} is gone` : `no drill holds the lock of ${key}`}): ${kind.what}`, dryRun));
        }
      }
    }
  }
  return items;
}

/** The owner in a drill lock that the user running pgdrill wrote (a regular file of its own, not a link). */
async function ownLockOwner(path: string): Promise<{ owner: DrillLockOwner } | { problem: string }> {
  const read = await readDrillLock(path);
  if (read === null) return { problem: 'not a drill lock pgdrill wrote: it is gone' };
  return 'problem' in read ? { problem: `not a drill lock pgdrill wrote: ${read.problem}` } : read;
}

async function removePath(kind: CleanupItem['kind'], path: string, reason: string, dryRun: boolean): Promise<CleanupItem> {
  if (dryRun) return { kind, path, action: 'would_remove', reason };
  try {
    if ((await lstat(path)).isDirectory()) await removeTree(path);
    else await unlink(path);
    return { kind, path, action: 'removed', reason };
  } catch (err) {
    return { kind, path, action: 'failed', reason: `${reason}; removing failed: ${(err as Error).message}` };
  }
}

/** The postmaster of a recorded sandbox to stop (verified in /proc), null when none runs, or why it is refused. */
async function postmasterToStop(r: SandboxRecord, dataDirState: string): Promise<{ pid: number; want: ExpectedPostmaster } | null | { refuse: string }> {
  const want: ExpectedPostmaster = { uid: r.server_uid, dataDir: r.data_dir };
  if (r.postmaster_pid !== null) {
    const id = await processIdentity(r.postmaster_pid);
    if (id && (r.postmaster_start_ticks === null || id.startTicks === r.postmaster_start_ticks)) {
      const exact = { ...want, startTicks: r.postmaster_start_ticks };
      const no = notThePostmaster(id, exact);
      return no ? { refuse: `its postmaster ${r.postmaster_pid} is not as pgdrill started it (${no})` } : { pid: r.postmaster_pid, want: exact };
    }
    // Gone, or the pid now belongs to another process: nothing of ours runs under it.
    return null;
  }
  // Killed before it recorded the postmaster: postmaster.pid is the sandbox user's file, so its pid is only a hint.
  if (dataDirState !== 'ok') return null;
  const named = await pidFile(join(r.data_dir, 'postmaster.pid'));
  const id = named === null ? null : await processIdentity(named);
  if (!id || named === null) return null;
  const after = { ...want, startedAfterTicks: r.pgdrill_start_ticks };
  const no = notThePostmaster(id, after);
  return no ? { refuse: `its postmaster.pid names pid ${named}, which is not this sandbox's postmaster (${no})` } : { pid: named, want: { ...after, startTicks: id.startTicks } };
}

async function removeSandbox(stored: StoredRecord, o: { dryRun: boolean; stopMs: number }): Promise<CleanupItem> {
  const r = stored.record;
  const root = r.root_dir;
  const why = `orphaned: pgdrill pid ${r.pgdrill_pid} is gone`;
  const refuse = (what: string, pid: number | null = null): CleanupItem =>
    ({ kind: 'sandbox', path: root, action: 'refused', reason: `refused: ${why}, but ${what}; left alone`, postmaster_pid: pid });
  const owners = [r.server_uid, euid()];
  // The directories must still be the ones pgdrill made, or nothing is done at all.
  const rootState = await madeDir(root, owners);
  if (rootState !== 'ok' && rootState !== 'absent') return refuse(rootState);
  const dataState = rootState === 'absent' ? 'absent' : await madeDir(r.data_dir, owners);
  if (dataState !== 'ok' && dataState !== 'absent') return refuse(dataState);
  const pm = await postmasterToStop(r, dataState);
  if (pm && 'refuse' in pm) return refuse(pm.refuse);
  const pid = pm?.pid ?? null;
  if (o.dryRun) return { kind: 'sandbox', path: root, action: 'would_remove', reason: pid ? `${why}; postmaster ${pid} would be stopped` : why, postmaster_pid: pid };

  const notes: string[] = [];
  if (pm) {
    // SIGINT is PostgreSQL's fast shutdown (what pg_ctl stop -m fast sends); SIGKILL only if it does not go.
    try {
      process.kill(pm.pid, 'SIGINT');
    } catch {
      /* gone meanwhile */
    }
    if (!(await waitGone(pm.pid, pm.want, o.stopMs))) {
      const id = await processIdentity(pm.pid);
      if (id && !notThePostmaster(id, pm.want)) {
        process.kill(pm.pid, 'SIGKILL');
        notes.push('did not stop within the timeout: SIGKILL');
        await waitGone(pm.pid, pm.want, 5000);
      }
    }
    if (!(await waitGone(pm.pid, pm.want, 0))) {
      return { kind: 'sandbox', path: root, action: 'failed', reason: `${why}; its postmaster ${pm.pid} would not stop`, postmaster_pid: pm.pid };
    }
    notes.push(`postmaster ${pm.pid} stopped`);
  }
  try {
    // Checked again right before: the sandbox's OS user owns the directory and may have swapped it meanwhile.
    const again = await madeDir(root, owners);
    if (again !== 'ok' && again !== 'absent') return refuse(again, pid);
    if (again === 'ok') await removeTree(root);
    // The socket directory goes with it, unless it too is no longer what pgdrill made.
    const sock = await madeDir(r.socket_dir, owners);
    if (sock === 'ok' && (await socketServers(r.socket_dir)).length === 0) {
      await removeTree(r.socket_dir);
      notes.push(`socket dir ${r.socket_dir} removed`);
    } else if (sock !== 'absent') {
      notes.push(`socket dir ${r.socket_dir} left alone (${sock === 'ok' ? 'a server still names it' : sock})`);
    }
    await dropSandboxRecord(stored.path);
  } catch (err) {
    return { kind: 'sandbox', path: root, action: 'failed', reason: `${why}; removing failed: ${(err as Error).message}`, postmaster_pid: pid };
  }
  if (rootState === 'absent' && !pm) notes.push('nothing was left on disk; its record is dropped');
  return { kind: 'sandbox', path: root, action: 'removed', reason: `${why}${notes.length ? `; ${notes.join('; ')}` : ''}`, postmaster_pid: pid };
}
