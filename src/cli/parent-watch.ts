/**
 * A drill started by a fleet worker (src/fleet/drill-child.ts) ends with its worker: the worker sets
 * PGDRILL_EXIT_WITH_PARENT to its pid, and when the drill's parent is no longer that process (the worker was
 * killed with SIGKILL, OOM, a container stop that reached only the worker), the drill is interrupted as by SIGTERM:
 * its sandbox torn down, its report written. Otherwise the drill would run on unowned while the queue's lease
 * hands its database to another worker — two drills of one database at once.
 */
import { readFileSync } from 'node:fs';

/** The parent pid as the kernel says now (`process.ppid` is read once, at start). */
function currentParentPid(): number | null {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // The command name (field 2) may hold spaces and parentheses: the fields after its last ')' are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(fields[1]);
    return Number.isInteger(ppid) ? ppid : null;
  } catch {
    return null;
  }
}

/** When PGDRILL_EXIT_WITH_PARENT names a pid, call `onOrphaned` once that process is no longer our parent. */
export function watchParent(onOrphaned: () => void, env: NodeJS.ProcessEnv = process.env, everyMs = 1000): void {
  const expected = Number(env.PGDRILL_EXIT_WITH_PARENT);
  if (!Number.isInteger(expected) || expected <= 1) return;
  const timer = setInterval(() => {
    const now = currentParentPid();
    if (now !== null && now !== expected) {
      clearInterval(timer);
      onOrphaned();
    }
  }, everyMs);
  timer.unref();
}
