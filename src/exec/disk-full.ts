/**
 * A full file system (ENOSPC, or EDQUOT for a quota) is an environment problem (exit 4), and its message names the
 * path, the file system it lives on and the space left there — not a stack trace.
 */
import { readFileSync } from 'node:fs';
import { realpath, statfs } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { formatBytes } from '../config/duration.js';
import { EnvironmentError, isSystemError } from '../errors.js';

/** Whether `err` (or an error it wraps) says a file system is full. */
export function isDiskFull(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (isSystemError(e) && (e.code === 'ENOSPC' || e.code === 'EDQUOT')) return true;
  }
  return false;
}

/** The mount point and file system type `path` lives on, from /proc/self/mountinfo (longest matching mount point). */
export function mountOf(path: string): { mountPoint: string; fsType: string; source: string } | null {
  try {
    let best: { mountPoint: string; fsType: string; source: string } | null = null;
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const [left, right] = line.split(' - ');
      if (!left || !right) continue;
      const mountPoint = left.split(' ')[4]!.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
      const [fsType, source] = right.split(' ');
      const inside = path === mountPoint || path.startsWith(mountPoint.endsWith('/') ? mountPoint : `${mountPoint}/`);
      if (inside && (!best || mountPoint.length >= best.mountPoint.length)) best = { mountPoint, fsType: fsType!, source: source! };
    }
    return best;
  } catch {
    return null;
  }
}

/** "file system /srv (ext4 on /dev/sda1): 12.0 KiB free of 1.0 GiB" for the nearest existing directory of `path`. */
export async function describeFileSystem(path: string): Promise<string> {
  let dir = resolve(path);
  for (;;) {
    try {
      const real = await realpath(dir);
      const s = await statfs(real);
      const m = mountOf(real);
      const where = m ? `${m.mountPoint} (${m.fsType}${m.source && m.source !== 'none' && m.source !== m.fsType ? ` on ${m.source}` : ''})` : real;
      return `file system ${where}: ${formatBytes(s.bavail * s.bsize)} free of ${formatBytes(s.blocks * s.bsize)}`;
    } catch {
      if (dirname(dir) === dir) return 'file system unknown';
      dir = dirname(dir);
    }
  }
}

/**
 * An EnvironmentError (exit 4) for a full file system while writing `path` (the error's own path when it has one).
 * `what` says what was being written.
 */
export async function diskFullError(err: unknown, path: string | undefined, what: string): Promise<EnvironmentError> {
  const p = (isSystemError(err) && err.path) || path;
  const fs = p ? await describeFileSystem(p) : 'file system unknown';
  return new EnvironmentError(
    `no space left writing ${what}${p ? ` ${p}` : ''} (${fs}); free space there or choose another --out`, undefined, { cause: err },
  );
}
