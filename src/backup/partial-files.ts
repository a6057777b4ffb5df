/**
 * Dump files being written (`<dump>.partial`), so that a forced exit — a second Ctrl-C, a crash — removes them
 * after killing pg_dump instead of leaving a partial dump (possibly hundreds of GB) behind. The orderly paths remove
 * their own (src/backup/pg-dump.ts); what a SIGKILL leaves, `pgdrill cleanup` removes (src/sandbox/orphans.ts).
 */
import { rmSync } from 'node:fs';

const writing = new Set<string>();

/** A partial dump is being written at `path` (a file, or a directory for the directory format). */
export function registerPartial(path: string): void {
  writing.add(path);
}

/** It was renamed into place or removed. */
export function unregisterPartial(path: string): void {
  writing.delete(path);
}

/** Remove every partial dump still registered, synchronously (the process is about to exit). */
export function removePartialsNow(): void {
  for (const p of writing) {
    try {
      rmSync(p, { recursive: true, force: true });
    } catch {
      /* best effort: `pgdrill cleanup` finds it */
    }
  }
  writing.clear();
}
