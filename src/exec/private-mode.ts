/**
 * What pgdrill writes is private to the user running it: a dump holds production's rows, and reports, globals and
 * logs name roles and objects. Run directories are 0700 and files 0600 whatever the caller's umask (the CLI also
 * sets umask 077 for everything, children included; a library caller keeps its own, so pgdrill passes these modes
 * where it creates files and directories).
 */
import { chmod, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Mode of every file pgdrill creates. */
export const PRIVATE_FILE = 0o600;
/** Mode of every directory pgdrill creates. */
export const PRIVATE_DIR = 0o700;
/** The umask the CLI sets at start: nothing it or its children create is readable by group or others. */
export const PRIVATE_UMASK = 0o077;

/**
 * Make a tree another program wrote (pg_dump's directory archive, whose files follow the caller's umask) private:
 * directories 0700, files 0600. Symbolic links are left alone (chmod would follow them).
 */
export async function makeTreePrivate(dir: string): Promise<void> {
  await chmod(dir, PRIVATE_DIR);
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await makeTreePrivate(p);
    else if (e.isFile()) await chmod(p, PRIVATE_FILE);
  }
}
