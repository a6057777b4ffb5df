/**
 * Peak resident memory of pgdrill's own process, for the report (`run.peak_rss_bytes`): the kernel's high-water
 * mark (VmHWM in /proc/self/status), which catches short spikes that sampling would miss. The library only reads
 * it, never resets it (`/proc/self/clear_refs` is the host process's to touch): for the `pgdrill` command, one drill
 * per process, it is the drill's peak; a host that runs drills in a process of its own reads the process's peak so
 * far. Linux only; elsewhere null.
 */
import { readFileSync } from 'node:fs';

/** Peak resident set size since the process started (or its host last reset the mark), in bytes; null without /proc. */
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
