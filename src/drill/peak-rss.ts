/**
 * Peak resident memory of pgdrill's own process, for the report (`run.peak_rss_bytes`): the kernel's high-water
 * mark (VmHWM in /proc/self/status), which catches short spikes that sampling would miss. The mark is reset at the
 * drill's start so that it measures the drill, not whatever the host process did before. Linux only; elsewhere
 * both functions say so (false / null). A process that runs several drills at once shares one mark.
 */
import { readFileSync, writeFileSync } from 'node:fs';

/** Reset the peak-RSS mark to the current RSS ("5" > /proc/self/clear_refs, Linux 4.0+). @returns false where that is not possible. */
export function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** Peak resident set size since the last reset (or since the process started), in bytes; null without /proc. */
export function peakRssBytes(): number | null {
  return statusField('VmHWM');
}

/** Current resident set size in bytes (VmRSS); null without /proc. */
export function currentRssBytes(): number | null {
  return statusField('VmRSS');
}

function statusField(name: string): number | null {
  try {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}
