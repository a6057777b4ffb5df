/**
 * Who a process is, from /proc, before pgdrill signals it as root: its uid, its start time and its working
 * directory (a postmaster chdirs into its data directory). A pid alone proves nothing: pids are reused, and a pid
 * read from a file the sandbox's OS user can write (postmaster.pid, a socket lock file) may name any process.
 */
import { readFile, realpath } from 'node:fs/promises';
import { isAlive, processStartTicks } from '../exec/process-liveness.js';

/** What /proc says of a live process. */
export interface ProcessIdentity {
  readonly pid: number;
  /** Real and effective uid. */
  readonly uids: readonly [number, number];
  readonly startTicks: number | null;
  /** realpath of /proc/PID/cwd; null when unreadable. */
  readonly cwd: string | null;
}

/** The identity of `pid`, or null when it is gone (or a zombie). */
export async function processIdentity(pid: number): Promise<ProcessIdentity | null> {
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return null;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => null);
  const uid = status ? /^Uid:\s+(\d+)\s+(\d+)/m.exec(status) : null;
  if (!uid) return null;
  return {
    pid,
    uids: [Number(uid[1]), Number(uid[2])],
    startTicks: processStartTicks(pid),
    cwd: await realpath(`/proc/${pid}/cwd`).catch(() => null),
  };
}

/** What a sandbox's postmaster must be. `startTicks` exact when recorded; else `startedAfterTicks` bounds it. */
export interface ExpectedPostmaster {
  readonly uid: number;
  readonly dataDir: string;
  readonly startTicks?: number | null;
  readonly startedAfterTicks?: number | null;
}

/** Why process `id` is not the expected postmaster; null when it is. */
export function notThePostmaster(id: ProcessIdentity, want: ExpectedPostmaster): string | null {
  if (id.uids[0] !== want.uid || id.uids[1] !== want.uid) return `it runs as uid ${id.uids[1]}, not the sandbox's uid ${want.uid}`;
  if (want.startTicks != null && id.startTicks !== want.startTicks) return 'it is not the process pgdrill started (another start time: the pid was reused)';
  if (want.startTicks == null && want.startedAfterTicks != null && (id.startTicks === null || id.startTicks < want.startedAfterTicks)) {
    return 'it started before the pgdrill that created the sandbox';
  }
  if (id.cwd === null) return 'its working directory cannot be read from /proc';
  if (id.cwd !== want.dataDir) return `its data directory is ${id.cwd}, not ${want.dataDir}`;
  return null;
}
