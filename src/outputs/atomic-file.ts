/**
 * Writing output files that other programs read while pgdrill runs (CI, node_exporter's textfile collector):
 * whole or not at all — a temporary file in the same directory, then a rename — and a lock file so that two
 * drills finishing together do not lose each other's update of a shared file.
 */
import { chmod, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { withLockFile } from '../exec/lock-file.js';

/**
 * Write `text` to `path` atomically: readers see the old file or the new one, never half of one. A new file is
 * 0600 (private, like everything pgdrill writes); a file that exists keeps its mode (e.g. made readable for
 * node_exporter's user by its owner).
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  // Same directory as the target, so that rename() never crosses a file system; a name node_exporter ignores (.prom only).
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  const mode = ((await stat(path).catch(() => null))?.mode ?? 0o600) & 0o777;
  try {
    await writeFile(tmp, text, { mode });
    await chmod(tmp, mode); // the umask may have taken bits the existing file had
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Run `fn` holding `<path>.lock` (pgdrill's one lock file, src/exec/lock-file.ts), waiting up to `waitMs` (default
 * 10 s) for a live holder; a lock whose holder is gone is taken over at once.
 * @throws EnvironmentError (exit 4) when a live holder keeps it longer, or the lock file is another user's.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, opts: { readonly waitMs?: number } = {}): Promise<T> {
  return withLockFile(`${path}.lock`, fn, { waitMs: opts.waitMs ?? 10_000 });
}

/** A file's text, or null when it does not exist. */
export async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Check before a drill starts that an output file can be written where asked: its directory exists and it is not
 * a directory itself — so that a typo costs a usage error (exit 2), not a finished drill without its output.
 * @throws ConfigError
 */
export async function assertOutputPath(flag: string, path: string | undefined): Promise<void> {
  if (!path) return;
  const abs = resolve(path);
  const dir = await stat(dirname(abs)).catch(() => null);
  if (!dir?.isDirectory()) throw new ConfigError(`${flag} ${path}: directory ${dirname(abs)} does not exist; create it or choose another path`);
  const self = await stat(abs).catch(() => null);
  if (self?.isDirectory()) throw new ConfigError(`${flag} ${path} is a directory; give a file path`);
}
