/**
 * CPU time of a process of this host, from /proc/PID/stat (utime + stime, in clock ticks of USER_HZ = 100 on every
 * Linux), and whether a backend pid the source reports is a process of this host at all. A source on another host,
 * or in another PID namespace, reports pids that mean nothing here: a pid is taken for a backend only when the process
 * is named `postgres` and started when the server says the session started (within the clock's second).
 */
import { readFileSync } from 'node:fs';

/** Linux's USER_HZ: the unit of /proc/PID/stat's times, fixed at 100 for user space whatever the kernel's HZ. */
const TICKS_PER_SECOND = 100;

/** One reading of a process's /proc/PID/stat. */
export interface ProcCpu {
  readonly comm: string;
  /** utime + stime, in milliseconds. */
  readonly cpuMs: number;
  /** Start time in clock ticks since boot: tells a reused pid from the process first seen. */
  readonly startTicks: number;
}

/** Parse the text of /proc/PID/stat; null when it is not one (the command name may hold spaces and parentheses). */
export function parseProcStat(text: string): ProcCpu | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const fields = text.slice(close + 2).trim().split(' ');
  // After the name: state is field 3; utime 14, stime 15, starttime 22 (1-based, as proc(5) numbers them).
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const start = Number(fields[19]);
  if (![utime, stime, start].every(Number.isFinite)) return null;
  return { comm: text.slice(open + 1, close), cpuMs: ((utime + stime) * 1000) / TICKS_PER_SECOND, startTicks: start };
}

/** The /proc/PID/stat of a process of this host, or null when there is none (or it is unreadable). */
export function readProcCpu(pid: number): ProcCpu | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** The boot time of this host in seconds since the epoch (/proc/stat `btime`), or null. */
export function bootTimeSeconds(): number | null {
  try {
    const m = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * Is the backend `pid`, which the server says started at `backendStartEpoch` (seconds), a process of this host that
 * pgdrill can read? Returns null when yes, else why not (for the report).
 */
export function whyBackendNotReadable(pid: number, backendStartEpoch: number): string | null {
  const stat = readProcCpu(pid);
  if (!stat) return `no process ${pid} readable in /proc on this host: the source runs on another host (or /proc hides it)`;
  const boot = bootTimeSeconds();
  if (boot === null) return '/proc/stat gives no boot time';
  const started = boot + stat.startTicks / TICKS_PER_SECOND;
  // btime has a resolution of a second, and the clock may have been stepped since boot by a little.
  if (stat.comm !== 'postgres' || Math.abs(started - backendStartEpoch) > 2) {
    return `process ${pid} of this host is not the source's backend (${stat.comm}, started ${Math.round(started - backendStartEpoch)} s apart): the source runs on another host or in another PID namespace`;
  }
  return null;
}

/** The process title of a process of this host (`postgres: user db [local] COPY`), or null. */
export function readProcTitle(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+/g, ' ').trim();
  } catch {
    return null;
  }
}
