/**
 * Removing a directory tree with flat memory. Node's recursive `rm` starts a request per entry at once: measured,
 * 45,000 files (the relation files of a sandbox of ~11,000 small tables, or a directory-format dump of as many
 * tables) took the process from 41 MB to 165 MB of RSS, which the C allocator then keeps, in 1.5 s. `rm -rf` walks
 * the tree a directory at a time: 0.4 s, and none of pgdrill's memory.
 */
import { runProcess } from './run-process.js';

/** `rm -rf -- path`: nothing left at `path` (absent already is fine); throws rm's complaint (`rm: cannot remove …`). */
export async function removeTree(path: string): Promise<void> {
  const r = await runProcess({ bin: 'rm', args: ['-rf', '--', path], allowFailure: true });
  if (r.exitCode !== 0) throw new Error(r.stderrTail.trim() || `rm -rf ${path} exited with code ${r.exitCode}`);
}
