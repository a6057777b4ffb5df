/**
 * A sandbox's data directory, from a cached initdb when it can be: initdb costs the most CPU (and the drill's restore
 * waits for it), a copy of a pristine initdb output less (more under a running pg_dump: ~1000 files to create), a
 * rename of a spare copy made ahead of time almost nothing (docs/performance.md has the measurements).
 *
 * - The cache holds one pristine data directory per PostgreSQL build, superuser name, initdb options and set of the
 *   machine's locales (initdb imports them as collations: osLocalesFingerprint), in
 *   `~/.cache/pgdrill/initdb/<key>` (or `$PGDRILL_CACHE_DIR/initdb/<key>`; PGDRILL_CACHE_DIR=off disables it).
 * - Only when pgdrill runs as root with a dedicated sandbox OS user: the cache is root's (0700), so what a restore
 *   runs as the sandbox user can never reach it, and no drill can leave anything behind for the next one. A
 *   caller that runs pgdrill as itself gets a fresh initdb every time.
 * - The first drill runs initdb and copies its output (before any setting is appended) into the cache, through a
 *   temporary name and a rename, so concurrent drills never see half a template. Later drills copy it (`cp -a`)
 *   and hand it to the sandbox user (`chown -R`). A copy that fails, or a cluster that will not start from it,
 *   removes the cache entry and falls back to initdb (SandboxCluster.start).
 * - Every copy has the template's system_identifier: all that the isolation check needs is that it differs from
 *   the source's, and it is measured on the running server as before.
 * - The cache stays small: each use touches its template, and whenever a new one is saved (a new PostgreSQL build,
 *   superuser name or bindir) or a spare is made, only the `KEEP_TEMPLATES` most recently used stay, plus any used in the last
 *   `RECENT_MS` (a drill may be copying it); leftovers of interrupted saves and drops older than that go too.
 * - Restore sandboxes take a spare copy made ahead of time when there is one, and make the next one while they
 *   run (template-spare.ts): their data directory is then a rename, not a copy.
 */
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { chmod, mkdir, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { removeTree } from '../exec/remove-tree.js';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Toolchain } from '../toolchain/toolchain.js';
import type { OsUser } from '../exec/os-user.js';
import { runProcess } from '../exec/run-process.js';
import type { JailedCommand } from './jail.js';
import { spareOf, takeSpare } from './template-spare.js';
import { pathExists as exists } from '../exec/path-exists.js';

/** initdb's options for a sandbox (the data directory comes first). */
export function initdbArgs(dataDir: string, superuser: string, major: number): string[] {
  // --no-instructions (quiet about pg_ctl) exists from 14 on; 13's initdb refuses it.
  return ['-D', dataDir, '-U', superuser, '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync', ...(major >= 14 ? ['--no-instructions'] : [])];
}

/**
 * The cache directory (`…/initdb`) to use, or null: `override` (a path, or null for none) wins, else
 * PGDRILL_CACHE_DIR ("off" or empty: none), else `~/.cache/pgdrill`; and only as root with a dedicated OS user.
 */
export function templateCacheDir(user: OsUser | null, override?: string | null): string | null {
  if (override === null) return null;
  if (!user || process.getuid?.() !== 0 || user.uid === 0) return null;
  const env = process.env.PGDRILL_CACHE_DIR;
  const root = override ?? (env !== undefined ? (env === '' || env === 'off' ? null : env) : join(homedir(), '.cache', 'pgdrill'));
  return root ? join(root, 'initdb') : null;
}

/** Where the C library keeps compiled locales (Debian/Ubuntu and most glibc systems): `locale -a` lists what is there. */
export const OS_LOCALE_DIR = '/usr/lib/locale';

/**
 * What `locale -a` would list, as a fingerprint (names, sizes and times of the locale directory's entries, without
 * running a program): initdb imports every OS locale into pg_collation, so a template made before a locale was
 * generated lacks its collation (`COLLATE "en_US.utf8"` would not restore) — a new locale makes a new template.
 */
export function osLocalesFingerprint(dir = OS_LOCALE_DIR): string {
  try {
    return readdirSync(dir).sort().map((n) => {
      const st = statSync(join(dir, n));
      return `${n}:${st.size}:${Math.round(st.mtimeMs)}`;
    }).join(',');
  } catch {
    return 'none';
  }
}

/** Where the template for this build, superuser, initdb's options and the machine's locales lives. */
export function templatePath(cacheDir: string, bins: Toolchain, superuser: string): string {
  const key = createHash('sha256').update(JSON.stringify([bins.server.bindir, bins.server.version.text, initdbArgs('', superuser, bins.server.version.major), osLocalesFingerprint()])).digest('hex').slice(0, 16);
  return join(cacheDir, `pg${bins.server.version.major}-${key}`);
}

/** Where a sandbox's data directory came from: the template's spare copy, a copy of the template, or initdb. */
export type DataDirOrigin = 'spare' | 'template' | 'initdb';

/**
 * Create `dataDir` for `user`: the template's spare (with `spare`), a copy of the template when there is one ('template'), else initdb ('initdb'),
 * whose output then becomes the template. `dataDir` must not exist.
 */
export async function createDataDir(o: {
  readonly bins: Toolchain; readonly dataDir: string; readonly superuser: string; readonly user: OsUser | null;
  readonly cacheDir: string | null; readonly signal?: AbortSignal;
  /** Take the template's spare copy when there is one (template-spare.ts). Default false. */
  readonly spare?: boolean;
  /** Wrap initdb in the sandbox's jail (SandboxCluster.jailedCommand). Default: initdb spawned as `user`, unjailed. */
  readonly jailed?: (bin: string, args: readonly string[]) => JailedCommand;
}): Promise<DataDirOrigin> {
  const template = o.cacheDir ? templatePath(o.cacheDir, o.bins, o.superuser) : null;
  if (template && o.user && (await exists(join(template, 'PG_VERSION')))) {
    try {
      const spare = o.spare === true && (await takeSpare(template, o.dataDir));
      if (!spare) await runProcess({ bin: 'cp', args: ['-a', template, o.dataDir], signal: o.signal });
      await runProcess({ bin: 'chown', args: ['-R', `${o.user.uid}:${o.user.gid}`, o.dataDir], signal: o.signal });
      const now = new Date();
      await utimes(template, now, now).catch(() => {}); // "recently used", for pruneTemplates
      return spare ? 'spare' : 'template';
    } catch (err) {
      if (o.signal?.aborted) throw err;
      await removeTree(o.dataDir); // the sandbox user's by now (chown -R): never following a link it put there
      await dropTemplate(template);
    }
  }
  const initdb = o.jailed ? o.jailed(o.bins.path('initdb'), initdbArgs(o.dataDir, o.superuser, o.bins.server.version.major)) : { bin: o.bins.path('initdb'), args: initdbArgs(o.dataDir, o.superuser, o.bins.server.version.major), uid: o.user?.uid, gid: o.user?.gid };
  await runProcess({ ...initdb, signal: o.signal });
  if (template) {
    await saveTemplate(o.dataDir, template).catch(() => {}); // a cache that cannot be written is no cache
    await pruneTemplates(o.cacheDir!).catch(() => {});
  }
  return 'initdb';
}

/** Templates kept by `pruneTemplates` (the most recently used), beside any used within `RECENT_MS`. */
export const KEEP_TEMPLATES = 4;
const RECENT_MS = 60 * 60 * 1000;

/**
 * Bound the cache: keep the `keep` most recently used templates and any used within the last hour; remove the
 * others, and leftovers (`*.tmp-*`, `*.drop-*`) older than an hour. Returns the names removed.
 */
export async function pruneTemplates(cacheDir: string, keep = KEEP_TEMPLATES, now = Date.now()): Promise<string[]> {
  const entries = await Promise.all((await readdir(cacheDir)).map(async (name) => ({ name, mtime: (await stat(join(cacheDir, name)).catch(() => null))?.mtimeMs ?? now })));
  const leftovers = entries.filter((e) => /\.(tmp|drop)-\d+-\d+(-\d+)?$/.test(e.name));
  const spares = entries.filter((e) => !leftovers.includes(e) && e.name.endsWith('.spare'));
  const templates = entries.filter((e) => !leftovers.includes(e) && !spares.includes(e)).sort((a, b) => b.mtime - a.mtime);
  const doomedTemplates = templates.slice(keep).filter((e) => now - e.mtime > RECENT_MS);
  const kept = new Set(templates.filter((e) => !doomedTemplates.includes(e)).map((e) => spareOf(e.name)));
  const doomed = [
    ...doomedTemplates,
    ...spares.filter((e) => !kept.has(e.name)), // a template's spare goes with it
    ...leftovers.filter((e) => now - e.mtime > RECENT_MS),
  ];
  for (const e of doomed) await rm(join(cacheDir, e.name), { recursive: true, force: true });
  return doomed.map((e) => e.name);
}

/** Remove a template (it failed to copy or to start): the next sandbox runs initdb and saves a new one. */
export async function dropTemplate(template: string): Promise<void> {
  for (const dir of [template, spareOf(template)]) {
    const gone = `${dir}.drop-${process.pid}-${Date.now()}`;
    await rename(dir, gone).then(() => rm(gone, { recursive: true, force: true }), () => {});
  }
}

async function saveTemplate(dataDir: string, template: string): Promise<void> {
  const parent = join(template, '..');
  await mkdir(parent, { recursive: true, mode: 0o700 });
  await chmod(parent, 0o700);
  const tmp = `${template}.tmp-${process.pid}-${Date.now()}`;
  try {
    await runProcess({ bin: 'cp', args: ['-a', dataDir, tmp] });
    await runProcess({ bin: 'chown', args: ['-R', '0:0', tmp] });
    await rename(tmp, template); // fails if another drill saved one meanwhile: theirs is as good
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
