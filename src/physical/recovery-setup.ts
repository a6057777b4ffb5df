/**
 * Turning a restored base backup into a cluster that recovers in isolation. The backup's own configuration is kept
 * aside and not read: `postgresql.conf` and `postgresql.auto.conf` are renamed (`*.pgdrill-backup`), so none of
 * production's settings — `archive_command` above all (a restored copy must never push WAL into production's
 * archive), `primary_conninfo`, `primary_slot_name`, `shared_preload_libraries` that run jobs (pg_cron), an
 * `ALTER SYSTEM` override — reach the server; pgdrill writes the few settings it needs (the sandbox's own,
 * appended by SandboxCluster, then the recovery's). `standby.signal` is removed, `recovery.signal` written.
 */
import { egressSettings } from '../sandbox/egress-settings.js';
import { constants } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { OsUser } from '../exec/os-user.js';
import { readSmallFile } from './backup-layout.js';
import { openNoFollow } from '../exec/input-file.js';
import { handOver } from '../exec/hand-over.js';

/** What the backup's own configuration held, for the report (setting names only: values can hold passwords). */
export interface BackupConfigFacts {
  /** Settings of the backup's configuration files that pgdrill overrides for isolation (names). */
  readonly overridden: readonly string[];
  /** shared_preload_libraries of the backup's configuration: not loaded in the sandbox. */
  readonly preloadDropped: readonly string[];
  /** standby.signal was in the backup (taken from a standby, or with -R) and was removed. */
  readonly standbySignalRemoved: boolean;
}

/** Settings whose production value must never reach the copy. */
const ISOLATION_SETTINGS = [
  'archive_mode', 'archive_command', 'archive_library', 'restore_command', 'archive_cleanup_command', 'recovery_end_command',
  'primary_conninfo', 'primary_slot_name', 'shared_preload_libraries', 'listen_addresses', 'port', 'unix_socket_directories',
  'ssl', 'data_directory', 'hba_file', 'ident_file', 'include', 'include_dir', 'include_if_exists',
];

/** The settings a postgresql.conf sets (last value wins), read leniently. */
function settingsOf(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][\w.]*)\s*(?:=\s*|\s+)(.*?)\s*(?:#.*)?$/.exec(line);
    if (m) out.set(m[1]!.toLowerCase(), m[2]!.replace(/^'(.*)'$/, '$1'));
  }
  return out;
}

/** The restore_command of a recovery with an archive: it runs in the data directory, the staged archive is its sibling. */
const STAGED_RESTORE = 'cp "../wal-archive/%f" "%p"';

/** A restore_command put in its place by tests that hold the recovery at a chosen moment (null: pgdrill's own). */
let restoreCommandForTests: string | null = null;

/** Tests only: recover with this restore_command (run in the data directory; the staged archive is `../wal-archive`). */
export function setRestoreCommandForTests(command: string | null): void {
  restoreCommandForTests = command;
}

/** The restore_command a recovery with an archive runs — and the only one the isolation check accepts besides none. */
export function stagedRestoreCommand(): string {
  return restoreCommandForTests ?? STAGED_RESTORE;
}

/**
 * The settings pgdrill adds for the recovery (beside the sandbox's: no TCP, private socket), and the egress settings of
 * every restored copy (src/sandbox/egress-settings.ts): a physical copy carries production's subscriptions, enabled,
 * whose apply workers would start at promotion and connect to the publisher — advancing production's replication
 * slot past changes its real subscriber has not received — and its foreign servers.
 */
export function isolationSettings(restoreCommand: string | null, server: { readonly major: number; readonly minor: number }): Record<string, string> {
  return {
    ...egressSettings(server.major, server.minor),
    archive_mode: 'off',
    archive_command: "''",
    archive_library: "''",
    restore_command: restoreCommand ? `'${restoreCommand.replace(/'/g, "''")}'` : "''",
    archive_cleanup_command: "''",
    recovery_end_command: "''",
    primary_conninfo: "''",
    primary_slot_name: "''",
    shared_preload_libraries: "''",
    hot_standby: 'off',
    max_connections: '100',
  };
}

async function own(path: string, user: OsUser | null): Promise<void> {
  await handOver(path, user);
}

/** Write `text` to a new file of the data directory (never through a link the backup planted). */
async function writeNew(path: string, text: string, user: OsUser | null): Promise<void> {
  await rm(path, { force: true });
  const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    await fh.writeFile(text);
  } finally {
    await fh.close();
  }
  await own(path, user);
}

/** Set up the restored data directory for an isolated archive recovery. */
export async function prepareRecovery(dataDir: string, user: OsUser | null): Promise<BackupConfigFacts> {
  const overridden = new Set<string>();
  let preload: string[] = [];
  for (const name of ['postgresql.conf', 'postgresql.auto.conf']) {
    const path = join(dataDir, name);
    const text = await readSmallFile(path, 16 << 20);
    if (text === null) continue;
    const s = settingsOf(text);
    for (const k of ISOLATION_SETTINGS) if (s.has(k) && s.get(k) !== '') overridden.add(k);
    const libs = s.get('shared_preload_libraries');
    if (libs !== undefined) preload = libs.split(',').map((l) => l.trim().replace(/^"(.*)"$/, '$1')).filter(Boolean);
    await rename(path, `${path}.pgdrill-backup`);
  }
  await writeNew(join(dataDir, 'postgresql.conf'), "# written by pgdrill for a recovery drill: the backup's own postgresql.conf and postgresql.auto.conf are kept as *.pgdrill-backup and not read\n", user);
  await writeNew(join(dataDir, 'postgresql.auto.conf'), '# emptied by pgdrill: ALTER SYSTEM settings of the backup are kept in postgresql.auto.conf.pgdrill-backup and not read\n', user);
  await writeNew(join(dataDir, 'pg_hba.conf'), '# pgdrill: the private Unix socket only\nlocal all all trust\n', user);
  await writeNew(join(dataDir, 'pg_ident.conf'), '', user);
  const standby = await rm(join(dataDir, 'standby.signal')).then(() => true, () => false);
  for (const f of ['postmaster.pid', 'postmaster.opts']) await rm(join(dataDir, f), { force: true });
  await writeNew(join(dataDir, 'recovery.signal'), '', user);
  return { overridden: [...overridden].sort(), preloadDropped: preload, standbySignalRemoved: standby };
}

/**
 * The name of the bootstrap superuser (the role with OID 10) from the backup's pg_authid heap (global/1260): the
 * restored cluster knows no role of pgdrill's, and trust over the private socket still needs a role that exists.
 * Reads heap pages directly: page header, line pointers, tuple header (t_hoff), then oid and rolname. A tuple whose
 * xmax is set (a renamed role's old version) is passed over. Null when not found (caller falls back to `postgres`).
 */
export async function bootstrapSuperuser(dataDir: string): Promise<string | null> {
  const opened = await openNoFollow(join(dataDir, 'global', '1260'));
  if ('problem' in opened) return null;
  const { fh } = opened;
  try {
    const { size } = await fh.stat();
    const page = Buffer.alloc(8192);
    let name: string | null = null;
    for (let off = 0; off + 8192 <= Math.min(size, 8192 * 64); off += 8192) {
      await fh.read(page, 0, 8192, off);
      const lower = page.readUInt16LE(12);
      for (let lp = 24; lp + 4 <= lower; lp += 4) {
        const word = page.readUInt32LE(lp);
        const lpOff = word & 0x7fff;
        const flags = (word >>> 15) & 3;
        const len = word >>> 17;
        if (flags !== 1 || lpOff + len > 8192 || len < 24 + 68) continue;
        const xmax = page.readUInt32LE(lpOff + 4);
        const hoff = page[lpOff + 22]!;
        const data = lpOff + hoff;
        if (xmax !== 0 || data + 68 > 8192 || page.readUInt32LE(data) !== 10) continue;
        const raw = page.subarray(data + 4, data + 68);
        name = raw.subarray(0, raw.indexOf(0) < 0 ? 64 : raw.indexOf(0)).toString('utf8');
      }
    }
    return name;
  } finally {
    await fh.close();
  }
}

