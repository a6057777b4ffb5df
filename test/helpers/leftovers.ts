/** Evidence that nothing of a drill is left running or on disk. */
import { readdir, readFile, stat } from 'node:fs/promises';

/** PIDs of processes whose command line mentions `needle` (e.g. a run directory). */
export async function processesMentioning(needle: string): Promise<number[]> {
  const out: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = (await readFile(`/proc/${p}/cmdline`, 'utf8')).replace(/\0/g, ' ');
      const st = await readFile(`/proc/${p}/stat`, 'utf8');
      const state = st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3);
      if (state !== 'Z' && cmd.includes(needle)) out.push(Number(p));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

export async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
