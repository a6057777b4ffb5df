/**
 * The spare of an initdb template: a copy of the template made ahead of time, so that the next restore sandbox's
 * data directory is a rename instead of a copy. Copying the ~1,000 files of a template costs system time (file
 * creation), more when pg_dump and the source's counts run beside it — on the restore's critical path, since psql
 * can start only once the sandbox is up (docs/performance.md has the measurements).
 *
 * - One spare per template, `<template>.spare`, in the same root-only cache. A sandbox takes it with one rename
 *   (atomic: of two drills starting at once, one gets it and the other copies the template as before), then hands
 *   it to the sandbox user (`chown -R`), exactly like a copy.
 * - Only when the cache and the sandbox's directory are on one filesystem (a rename cannot cross filesystems).
 * - The sandbox that took a spare, or copied the template, makes the next spare while it runs (`SpareRefill`):
 *   `cp -a` at nice 19 into `<template>.spare.tmp-<pid>-<time>-<start ticks>`, renamed to the spare once complete, so it uses the
 *   CPU the restore leaves idle and never shows half a copy. The sandbox's teardown ends a copy still running and
 *   removes it: nothing of it outlives the drill. A drill killed outright (SIGKILL) cannot end its copy: the `cp`
 *   finishes alone and its temporary copy stays, until the next refill of that template removes it once its own copy
 *   is complete (`sweepOrphanCopies`: its drill is gone and it has not changed for a minute), or the cache's pruning.
 */
import { readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { startProcess, type RunningProcess } from '../exec/run-process.js';
import { pathExists } from '../exec/path-exists.js';
import { processAlive, processStartTicks } from '../exec/process-liveness.js';

/** A temporary spare copy is an orphan once its drill is gone and it has not changed for this long (its `cp` is done). */
const ORPHAN_AFTER_MS = 60_000;

/** Where a template's spare lives. */
export function spareOf(template: string): string {
  return `${template}.spare`;
}

/** Are `a` and `b` on one filesystem (a rename between them can work)? */
async function sameFilesystem(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([stat(a).catch(() => null), stat(b).catch(() => null)]);
  return !!x && !!y && x.dev === y.dev;
}

/** Move the template's spare to `dataDir` (which must not exist). False when there is none (or it cannot be moved there). */
export async function takeSpare(template: string, dataDir: string): Promise<boolean> {
  if (!(await sameFilesystem(dirname(template), dirname(dataDir)))) return false;
  return rename(spareOf(template), dataDir).then(() => true, () => false);
}

/** The temporary name of a spare being copied: the copying process's pid, the time, and the process's start time. */
function spareCopyName(template: string): string {
  const ticks = processStartTicks(process.pid);
  return `${spareOf(template)}.tmp-${process.pid}-${Date.now()}${ticks === null ? '' : `-${ticks}`}`;
}

/**
 * Remove the temporary spare copies of `template` left by drills that were killed outright
 * (`<spare>.tmp-<pid>-<ms>[-<start ticks>]` whose process is gone — src/exec/process-liveness.ts: pid dead, or reused
 * by a process with another start time — unchanged for a minute). Returns the names removed.
 */
export async function sweepOrphanCopies(template: string, now = Date.now()): Promise<string[]> {
  const dir = dirname(template);
  const prefix = `${basename(spareOf(template))}.tmp-`;
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const m = name.startsWith(prefix) ? /^(\d+)-\d+(?:-(\d+))?$/.exec(name.slice(prefix.length)) : null;
    if (!m || processAlive(Number(m[1]), m[2] === undefined ? null : Number(m[2]))) continue;
    const st = await stat(join(dir, name)).catch(() => null);
    if (!st || now - st.mtimeMs < ORPHAN_AFTER_MS) continue;
    await rm(join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/** The copy that makes a template's next spare, beside a running sandbox. */
export class SpareRefill {
  private constructor(private readonly proc: RunningProcess | null, readonly done: Promise<boolean>) {}

  /**
   * Start copying `template` to its spare when none is there and the spare could serve a sandbox in `sandboxParent`
   * (one filesystem). `done` resolves true once the spare is in place, orphaned copies swept and `afterMade` (the
   * cache's pruning) done.
   */
  static async start(template: string, sandboxParent: string, afterMade?: () => Promise<unknown>): Promise<SpareRefill> {
    const tmp = spareCopyName(template);
    const spareThere = await pathExists(spareOf(template));
    const templateThere = await pathExists(join(template, 'PG_VERSION'));
    if (spareThere || !templateThere || !(await sameFilesystem(dirname(template), sandboxParent))) return new SpareRefill(null, Promise.resolve(spareThere));
    const proc = startProcess({ bin: 'nice', args: ['-n', '19', 'cp', '-a', template, tmp], allowFailure: true });
    const done = proc.done.then(async (r) => {
      if (r.exitCode !== 0) throw new Error(`cp exited ${r.exitCode ?? r.signal}`);
      await rename(tmp, spareOf(template)); // another drill's spare may have won: then this copy goes
      // Housekeeping after the copy, off the sandbox's start: orphaned copies, then the caller's (the cache's pruning).
      await sweepOrphanCopies(template).catch(() => null);
      await afterMade?.().catch(() => null);
      return true;
    }).catch(async () => {
      await rm(tmp, { recursive: true, force: true });
      return false;
    });
    return new SpareRefill(proc, done);
  }

  /** End the copy if it is still running (its partial copy is removed); resolves once nothing of it is left running. */
  async stop(): Promise<boolean> {
    this.proc?.child.kill('SIGKILL');
    return this.done;
  }
}
