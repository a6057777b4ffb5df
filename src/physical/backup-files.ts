/**
 * The files of a plain-format base backup, checked before anything is copied (`backup.physical_files`): every entry
 * a regular file or directory, no link (a tablespace's link in pg_tblspc is named: tablespaces are not restored
 * yet), no FIFO or device. And the copy into the sandbox's data directory: pgdrill reads each file itself without
 * following links (the sandbox user never needs to read the backup), and the copy belongs to the sandbox user.
 */
import { constants } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, mkdtemp, open, readdir, rename } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { foreignHardLink } from './wal-file-read.js';
import type { OsUser } from '../exec/os-user.js';
import { removeTree } from '../exec/remove-tree.js';
import { runProcess } from '../exec/run-process.js';

/** What was found in a plain backup's tree. */
export interface BackupTree {
  readonly files: number;
  readonly bytes: number;
  /** Entries that are neither a regular file nor a directory (relative path and what it is). */
  readonly refused: readonly string[];
  /** Tablespace links in pg_tblspc. */
  readonly tablespaces: readonly string[];
}

/** Files of a backup that are not part of its data directory. */
const NOT_DATA = new Set(['backup_manifest', 'postmaster.pid', 'postmaster.opts']);

/**
 * Copy one regular file without following a link: opened with O_NOFOLLOW, checked to be a regular file, copied in
 * the kernel (copy_file_range) through its /proc handle. Null (nothing written) when it is not a regular file.
 */
export async function copyNoFollow(src: string, dst: string): Promise<{ size: number } | null> {
  const fh = await open(src, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK); // a FIFO swapped in after the scan cannot block
  try {
    const st = await fh.stat();
    // Not a regular file, or a hard link to another owner's file (a root-only one linked into the backup): not copied.
    if (!st.isFile() || (await foreignHardLink(dirname(src), st))) return null;
    await copyFile(`/proc/self/fd/${fh.fd}`, dst, constants.COPYFILE_EXCL);
    return { size: st.size };
  } finally {
    await fh.close();
  }
}

/** Walk a plain backup without following links. */
export async function scanBackupTree(dir: string): Promise<BackupTree> {
  let files = 0;
  let bytes = 0;
  const refused: string[] = [];
  const tablespaces: string[] = [];
  for (const name of await readdir(dir, { recursive: true })) {
    const st = await lstat(join(dir, name));
    const linked = st.isFile() ? await foreignHardLink(dirname(join(dir, name)), st) : null;
    if (linked) {
      refused.push(`${name} (a hard link to a file of uid ${st.uid}, not the owner of its directory)`);
    } else if (st.isFile()) {
      files++;
      bytes += st.size;
    } else if (st.isSymbolicLink() && /^pg_tblspc\/\d+$/.test(name)) {
      tablespaces.push(name);
    } else if (!st.isDirectory()) {
      refused.push(`${name} (${st.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'})`);
    }
  }
  return { files, bytes, refused, tablespaces };
}

/**
 * Copy a plain backup into `dataDir` (which must not exist yet), every file and directory owned by `user`. Links and
 * special files are skipped (scanBackupTree refused them before). Returns the bytes copied.
 *
 * Neither side is walked by path. The backup's directories are opened one at a time without following a link and
 * read through their descriptors (`/proc/self/fd/N/name`): whoever writes the backup could otherwise swap a
 * directory for a link to /root between the listing and the descent, and root would copy what lies there into the
 * sandbox. The copy is made in a private directory beside the sandbox's (root's, 0700), given to `user` by
 * `chown -R` (which never follows a link) and only then renamed into place: inside the sandbox's directory, which
 * its user owns, any path root used could be redirected.
 */
export async function copyPlainBackup(from: string, dataDir: string, user: OsUser | null, signal?: AbortSignal): Promise<number> {
  const staging = await mkdtemp(join(dirname(dirname(dataDir)), '.pgdrill-copy-'));
  try {
    let bytes = 0;
    const walk = async (dirFd: number, to: string, top: boolean): Promise<void> => {
      const here = `/proc/self/fd/${dirFd}`;
      for (const entry of await readdir(here, { withFileTypes: true })) {
        signal?.throwIfAborted();
        const src = `${here}/${entry.name}`;
        const dst = join(to, entry.name);
        if (entry.isDirectory()) {
          const sub = await open(src, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((err: NodeJS.ErrnoException) => {
            throw new Error(`${join(from, relative(staging, dst))} is no longer a directory (${err.code === 'ELOOP' || err.code === 'ENOTDIR' ? 'replaced by a link or a file while it was copied' : err.message})`, { cause: err });
          });
          try {
            await mkdir(dst, { mode: 0o700 });
            await walk(sub.fd, dst, false);
          } finally {
            await sub.close();
          }
        } else if (entry.isFile() && !(top && NOT_DATA.has(entry.name))) {
          const st = await copyNoFollow(src, dst);
          if (st) bytes += st.size;
        }
      }
    };
    const root = await open(from, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      await walk(root.fd, staging, true);
    } finally {
      await root.close();
    }
    await chmod(staging, 0o700);
    if (user) await runProcess({ bin: 'chown', args: ['-R', `${user.uid}:${user.gid}`, '--', staging] });
    await rename(staging, dataDir);
    return bytes;
  } catch (err) {
    await removeTree(staging).catch(() => {});
    throw err;
  }
}
