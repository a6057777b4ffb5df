/**
 * Resetting the process's peak-RSS mark, for memory tests that measure one step of a longer process. The library
 * never does this (`/proc/self/clear_refs` is the host process's to touch: src/pipeline/report/peak-rss.ts); a test is its
 * own host.
 */
import { writeFileSync } from 'node:fs';

/** Reset the peak-RSS mark to the current RSS ("5" > /proc/self/clear_refs, Linux 4.0+). @returns false where that is not possible. */
export function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}
