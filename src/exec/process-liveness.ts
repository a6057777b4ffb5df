/**
 * Is a process still running — the one liveness rule of pgdrill, for lock holders (src/exec/lock-file.ts), the
 * pgdrill that recorded a sandbox, a sandbox's postmaster and the spare copies of the initdb template.
 *
 * A pid alone proves little: pids are reused, so a pid recorded by a process that died can name another process
 * later. So a process is recorded as a stamp — pid, host, and its start time in clock ticks since boot (field 22
 * of /proc/PID/stat) — and a stamp is alive only when a process with that pid runs on this host (not a zombie) AND
 * started at the recorded tick: a reused pid is a different start time, so it is not taken for the recorded
 * process. Where the start time is unknown (recorded without /proc, or /proc hides the process) the pid is all
 * there is, and a running pid counts as alive. A stamp from another host is never judged (its pid means nothing
 * here): it counts as alive.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/** A process as recorded by whoever wrote a lock or a record. */
export interface ProcessStamp {
  readonly pid: number;
  readonly host: string;
  /** Start time in clock ticks since boot (/proc/PID/stat), null where /proc did not tell. */
  readonly start_ticks: number | null;
}

/** The stamp of this process. */
export function ownStamp(): ProcessStamp {
  return { pid: process.pid, host: hostname(), start_ticks: processStartTicks(process.pid) };
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

/**
 * Does a process with this pid run (on this host)? A zombie (exited, not yet reaped: in containers PID 1 may never
 * reap) counts as gone. The pid only: use `processAlive` or `stampAlive` when a start time was recorded.
 */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Is the process that had `pid` and started at `startTicks` (when known) still running on this host? */
export function processAlive(pid: number, startTicks: number | null | undefined): boolean {
  if (!isAlive(pid)) return false;
  if (startTicks == null) return true;
  const now = processStartTicks(pid);
  return now === null || now === startTicks;
}

/** Is the process of a stamp still running? One from another host counts as running (see above). */
export function stampAlive(s: ProcessStamp): boolean {
  return s.host !== hostname() || processAlive(s.pid, s.start_ticks);
}
