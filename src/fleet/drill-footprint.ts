/**
 * How much disk one running fleet drill holds: its run directory and its sandboxes, found from what the drill itself
 * writes, so that a worker running several drills into one `--out` charges each its own:
 *
 * - the run directory: every drill takes its database's drill lock `<out>/.pgdrill-<key>.lock` (holder: the drill's
 *   pid) before it creates `<out>/<key>-<UTC stamp>[-n]` (src/out-dir/drill-lock.ts, run-dir.ts); the newest such
 *   directory of the key the drill's pid holds is its own (a second drill of the key is refused by that lock);
 * - its sandboxes: the records in the worker's state directory whose `pgdrill_pid` is the drill's
 *   (src/sandbox/sandbox-records.ts). As root a sandbox usually sits in the temp directory, not the run directory
 *   (the sandbox user cannot reach the private run directory): it is counted where it is.
 *
 * Sizes are allocated blocks (`du`, not apparent sizes): what the file system lost. A file that vanishes mid-walk
 * (a sandbox torn down, a WAL segment recycled) is skipped. A walk reads directory entries only: a sandbox of a
 * 100 GB database holds a few thousand files (1 GB segments), a walk every few seconds is cheap.
 */
import { lstat, readdir, realpath } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { drillLockKey, readDrillLock } from '../out-dir/drill-lock.js';
import { runDirKey } from '../out-dir/run-dir.js';
import { readSandboxRecords } from '../sandbox/sandbox-records.js';

/** Bytes allocated under `path` (itself included); 0 when it is gone. */
export async function allocatedBytes(path: string): Promise<number> {
  let st;
  try {
    st = await lstat(path);
  } catch {
    return 0;
  }
  let total = st.blocks * 512;
  if (!st.isDirectory()) return total;
  const names = await readdir(path).catch(() => [] as string[]);
  for (const n of names) total += await allocatedBytes(join(path, n));
  return total;
}

/** The key (run-dir.ts's databaseKey) whose drill lock in `outDir` the process `pid` holds; null when none. */
async function lockedKey(outDir: string, pid: number): Promise<string | null> {
  for (const n of await readdir(outDir).catch(() => [] as string[])) {
    const key = drillLockKey(n);
    if (key === null) continue;
    const lock = await readDrillLock(join(outDir, n));
    if (lock && 'owner' in lock && lock.owner.pid === pid) return key;
  }
  return null;
}

/** The run directory of the drill `pid` in `outDir`, once it has one. */
export async function drillRunDir(outDir: string, pid: number): Promise<string | null> {
  const key = await lockedKey(outDir, pid);
  if (!key) return null;
  const runs = (await readdir(outDir)).filter((n) => runDirKey(n) === key);
  // Newest stamp, then the highest suffix: `createRunDir` adds `-n` to a second run within the same second.
  const order = (n: string) => { const [stamp, i = '1'] = n.slice(key.length + 1).split('-'); return `${stamp}-${i.padStart(6, '0')}`; };
  const newest = runs.sort((x, y) => order(x).localeCompare(order(y))).at(-1);
  return newest ? join(resolve(outDir), newest) : null;
}

/** Where the drill `pid` holds disk, and how much. */
export interface DrillFootprint {
  readonly bytes: number;
  readonly runDir: string | null;
  readonly sandboxes: readonly string[];
}

/** The drill `pid`'s run directory in `outDir` and its sandboxes recorded in `stateDir`, measured. */
export async function drillFootprint(outDir: string, stateDir: string, pid: number): Promise<DrillFootprint> {
  const found = await drillRunDir(outDir, pid);
  const runDir = found ? await realpath(found).catch(() => found) : null; // records hold canonical paths
  const { records } = await readSandboxRecords(stateDir);
  const sandboxes = records.map((r) => r.record).filter((r) => r.pgdrill_pid === pid).map((r) => r.root_dir)
    .filter((d) => !runDir || !(d + sep).startsWith(runDir + sep)); // one inside the run directory is counted with it
  let bytes = runDir ? await allocatedBytes(runDir) : 0;
  for (const d of sandboxes) bytes += await allocatedBytes(d);
  return { bytes, runDir, sandboxes };
}
