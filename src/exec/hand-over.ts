/**
 * Giving what pgdrill (as root) just made to the sandbox's OS user. `chown(path)` follows a symbolic link, and the
 * places pgdrill hands over are mostly inside directories that user already owns: between the creation and the
 * chown it could swap the new entry for a link to `/etc/shadow`, or a hard link to it (where fs.protected_hardlinks
 * is off), and root would give it that file. So the entry is opened without following a link and without waiting on
 * a FIFO, must still be a directory or a regular file with one link (what pgdrill made), and is given through its
 * descriptor (fchown).
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { kindOf } from './input-file.js';

/** Whom to give it to: an OS user's uid and gid. */
export interface HandOverTo {
  readonly uid: number;
  readonly gid: number;
}

/**
 * Give `path` (a directory or a file pgdrill just created) to `user`; nothing when `user` is null (the sandbox runs
 * as the caller).
 * @throws Error naming the path when it is no longer what pgdrill made (a link, another kind of file, hard-linked).
 */
export async function handOver(path: string, user: HandOverTo | null): Promise<void> {
  if (!user) return;
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`not giving ${path} to uid ${user.uid}: ${code === 'ELOOP' ? 'it became a symbolic link' : (err as Error).message}`, { cause: err });
  }
  try {
    const st = await fh.stat();
    if (!(st.isDirectory() || (st.isFile() && st.nlink === 1))) {
      throw new Error(`not giving ${path} to uid ${user.uid}: it is no longer what pgdrill made (${kindOf(st)}${st.isFile() ? ` with ${st.nlink} links` : ''})`);
    }
    await fh.chown(user.uid, user.gid);
  } finally {
    await fh.close();
  }
}
