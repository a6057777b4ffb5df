/** Durations in config and flags: "30s", "500ms", "2m", "26h", "7d", or a number of seconds. */
export function parseDuration(v: string | number): number | null {
  if (typeof v === 'number') return v >= 0 ? v * 1000 : null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(v);
  if (!m) return null;
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'];
  return n * unit;
}

/** "1.2 s", "3 min 4 s" — for reports. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const min = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  if (min < 60) return `${min} min ${s} s`;
  return `${Math.floor(min / 60)} h ${min % 60} min`;
}

/** "667,414,820 bytes (636.5 MiB)" style, short form. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}
