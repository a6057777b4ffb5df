/**
 * Refuse an out directory inside a PostgreSQL data directory or tablespace directory: dumps there could fill or
 * corrupt a cluster, and a tablespace directory with foreign files in it can no longer be dropped ("not empty").
 * Paths are compared resolved (symlinks, `..`), the way the kernel will follow them when pgdrill writes.
 */
import { readdir, readlink, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { ConfigError, GuardError } from '../../errors.js';
import { mountOf } from '../../exec/disk-full.js';
import type { DbSession } from '../../pg/client.js';

async function isDataDir(dir: string): Promise<boolean> {
  try {
    await stat(`${dir}/PG_VERSION`);
    return (await stat(`${dir}/global`)).isDirectory();
  } catch {
    return false;
  }
}

/** A tablespace location holds a `PG_<major>_<catalog version>` directory per server version using it. */
async function isTablespaceDir(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).some((n) => /^PG_\d+_\d{9}$/.test(n));
  } catch {
    return false;
  }
}

/** `path` with every symlink of its longest existing prefix resolved (the rest, not created yet, appended). */
export async function resolveExistingPrefix(path: string): Promise<string> {
  const abs = resolve(path);
  const rest: string[] = [];
  for (let d = abs; ; d = dirname(d)) {
    try {
      return join(await realpath(d), ...rest.reverse());
    } catch {
      if (dirname(d) === d) return abs;
      rest.push(basename(d));
    }
  }
}

/** File systems of the kernel, where no run directory can live. */
const VIRTUAL_FS = new Set(['proc', 'sysfs', 'devtmpfs', 'devpts', 'cgroup', 'cgroup2', 'debugfs', 'tracefs', 'securityfs', 'configfs', 'fusectl', 'pstore', 'bpf', 'mqueue', 'binfmt_misc', 'efivarfs', 'autofs', 'nsfs']);

const inside = (target: string, dir: string) => target === dir || target.startsWith(dir.endsWith(sep) ? dir : dir + sep);

/** The source's data directory and tablespace directories, as written and resolved (pg_tblspc links followed when local). */
async function sourceDirectories(db: DbSession): Promise<{ dataDir: string | null; tablespaces: string[] }> {
  // data_directory: superusers and pg_read_all_settings members only; pg_tablespace_location: anyone.
  const dataDir = await db.value<string>(`SELECT setting FROM pg_settings WHERE name = 'data_directory'`).catch(() => null);
  const rows = await db.query<{ oid: string; location: string }>(
    `SELECT oid::text AS oid, pg_tablespace_location(oid) AS location FROM pg_tablespace WHERE spcname NOT IN ('pg_default', 'pg_global')`,
  ).catch(() => [] as { oid: string; location: string }[]);
  const tablespaces: string[] = [];
  for (const r of rows) {
    if (r.location) tablespaces.push(r.location.startsWith('/') ? r.location : dataDir ? join(dataDir, r.location) : r.location);
    // The link PostgreSQL itself follows, when the source is on this host.
    if (dataDir) {
      const link = await readlink(join(dataDir, 'pg_tblspc', r.oid)).catch(() => null);
      if (link) tablespaces.push(link.startsWith('/') ? link : join(dataDir, 'pg_tblspc', link));
    }
  }
  return { dataDir, tablespaces };
}

/**
 * @throws GuardError (exit 3) when `outDir` is, or is inside, a data directory or a tablespace directory (any local
 *   one, or the source's), compared both as given and with symlinks resolved.
 */
export async function assertOutDirSafe(db: DbSession | null, outDir: string): Promise<void> {
  const given = resolve(outDir);
  const real = await resolveExistingPrefix(outDir);
  const targets = [...new Set([given, real])];
  // The kernel's own file systems hold no files of ours (mkdir -p under /proc never ends: measured, it spun until SIGKILL).
  const fsType = mountOf(real)?.fsType;
  if (fsType && VIRTUAL_FS.has(fsType)) {
    throw new ConfigError(`--out ${given} is on a ${fsType} file system (the kernel's, not a disk): choose a directory on a disk`);
  }
  for (const target of targets) {
    for (let d = target; ; d = dirname(d)) {
      if (await isDataDir(d)) {
        throw new GuardError(`out directory ${given}${target !== given ? ` (really ${target})` : ''} is inside the PostgreSQL data directory ${d}; choose a directory outside any cluster (--out)`, 'out_dir', 'outside any data directory', d);
      }
      if (await isTablespaceDir(d)) {
        throw new GuardError(`out directory ${given}${target !== given ? ` (really ${target})` : ''} is inside the PostgreSQL tablespace directory ${d}; choose a directory outside any cluster (--out)`, 'out_dir', 'outside any tablespace directory', d);
      }
      if (dirname(d) === d) break;
    }
  }
  if (!db) return;
  const { dataDir, tablespaces } = await sourceDirectories(db);
  for (const [what, dir] of [...(dataDir ? [['data directory', dataDir] as const] : []), ...tablespaces.map((t) => ['tablespace directory', t] as const)]) {
    const dirs = [...new Set([dir, await resolveExistingPrefix(dir)])];
    if (targets.some((t) => dirs.some((d) => inside(t, d)))) {
      throw new GuardError(`out directory ${given} is inside the source's ${what} ${dir}; choose another --out`, 'out_dir', `outside the source's ${what}`, dir);
    }
  }
}
