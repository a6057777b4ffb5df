/**
 * Removing a directory tree with flat memory. Node's recursive `rm` starts a request per entry at once: for the
 * relation files of a sandbox of many small tables (or a directory-format dump of as many tables) the process grew
 * by a hundred MB and more, which the C allocator then keeps. `rm -rf` walks the tree a directory at a time, faster
 * and with none of pgdrill's memory (docs/performance.md has the measurements).
 *
 * It never follows a symbolic link out: pgdrill removes, as root, trees that the sandbox's OS user owns and can fill
 * with links. GNU rm removes a link (at `path` itself or anywhere below) as a link, walks with openat/O_NOFOLLOW so a
 * directory swapped for a link mid-walk is not followed. A mount point inside the tree is refused before rm runs
 * (/proc/self/mountinfo): a bind mount has the device number of its file system, so rm's `--one-file-system` (kept,
 * for other file systems) would walk into it. `path` is made absolute and normalised first, so no trailing `/`
 * makes rm resolve a link at `path`.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { runProcess } from './run-process.js';

/** Mount points at or below `abs` (mountinfo's 5th field, octal escapes decoded); none where /proc is unavailable. */
async function mountsWithin(abs: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const points = info.split('\n').map((l) => l.split(' ')[4]).filter((m): m is string => !!m)
    .map((m) => m.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  return points.filter((m) => m === abs || m.startsWith(abs + '/'));
}

/** `rm -rf --one-file-system -- path`: nothing left at `path` (absent already is fine); throws rm's complaint (`rm: cannot remove …`). */
export async function removeTree(path: string): Promise<void> {
  const abs = resolve(path);
  if (abs === '/') throw new Error('refusing to remove /');
  const mounts = await mountsWithin(abs);
  if (mounts.length) throw new Error(`not removing ${abs}: ${mounts.join(', ')} ${mounts.length > 1 ? 'are mount points' : 'is a mount point'} inside it (unmount first)`);
  const r = await runProcess({ bin: 'rm', args: ['-rf', '--one-file-system', '--', abs], allowFailure: true });
  if (r.exitCode !== 0) throw new Error(r.stderrTail.trim() || `rm -rf ${path} exited with code ${r.exitCode}`);
}
