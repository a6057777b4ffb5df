/**
 * `restore.physical_isolation`: a physical copy has production's system_identifier, so the logical sandbox's proof
 * (a different identifier) cannot apply; isolation is proven on the running server instead, from what it actually
 * runs with (pg_settings) and what its postmaster holds (/proc): nothing to reach it by, nothing it can reach.
 */
import type { DbSession } from '../pg/client.js';
import type { CheckResult } from '../report/model.js';
import { egressSettingsDisabledForTests } from '../sandbox/egress-settings.js';
import { measureIsolation } from '../sandbox/isolation-check.js';
import { stagedRestoreCommand, type BackupConfigFacts } from './recovery-setup.js';

/** The settings read back and what each must be. */
const REQUIRED: Readonly<Record<string, (v: string, socketDir: string) => boolean>> = {
  listen_addresses: (v) => v === '',
  archive_mode: (v) => v === 'off',
  archive_command: (v) => v === '' || v === '(disabled)',
  archive_library: (v) => v === '',
  primary_conninfo: (v) => v === '',
  primary_slot_name: (v) => v === '',
  shared_preload_libraries: (v) => v === '',
  restore_command: (v) => v === 'false' || v === stagedRestoreCommand(),
  unix_socket_directories: (v, dir) => v === dir,
  unix_socket_permissions: (v) => v === '0700',
  // No subscription's apply worker (production's subscriptions are in the copy, enabled); no statement on a foreign table.
  max_logical_replication_workers: (v) => v === '0',
  restrict_nonsystem_relation_kind: (v) => v === 'foreign-table',
};

/** Settings a server may not have (older releases): missing is no problem. */
const OPTIONAL = new Set(['archive_library', 'restrict_nonsystem_relation_kind']);

/** The egress settings (src/sandbox/egress-settings.ts): not required only while a test has switched them off. */
const EGRESS = new Set(['max_logical_replication_workers', 'restrict_nonsystem_relation_kind']);

/** What is wrong with the settings read back and the postmaster's TCP sockets (empty: isolated). */
export function isolationProblems(settings: Readonly<Record<string, string>>, socketDir: string, tcpListeners: readonly string[] | null): string[] {
  const problems = Object.entries(REQUIRED)
    .filter(([k]) => !(EGRESS.has(k) && egressSettingsDisabledForTests()))
    .filter(([k, ok]) => !(k in settings) ? !OPTIONAL.has(k) : !ok(settings[k]!, socketDir))
    .map(([k]) => (k in settings ? `${k} = '${settings[k]}'` : `${k} could not be read`));
  if (tcpListeners?.length) problems.push(`the postmaster listens on TCP: ${tcpListeners.join(', ')}`);
  return problems;
}

/** What the isolation check found. */
export interface IsolationFacts {
  readonly check: CheckResult;
  readonly settings: Record<string, string>;
  readonly systemIdentifier: string;
  readonly tcpSockets: number | null;
}

/** Read the running copy's settings and sockets, and judge them. */
export async function physicalIsolation(db: DbSession, socketDir: string, config: BackupConfigFacts | null): Promise<IsolationFacts> {
  const rows = await db.query<{ name: string; setting: string }>('SELECT name, setting FROM pg_settings WHERE name = ANY($1) ORDER BY name', [Object.keys(REQUIRED)]);
  // primary_conninfo can hold a password: the report says whether it is set, never what it is.
  const settings: Record<string, string> = Object.fromEntries(rows.map((r) => [r.name, r.name === 'primary_conninfo' && r.setting !== '' ? '(set; value not shown)' : r.setting]));
  const e = await measureIsolation(db, null);
  const problems = isolationProblems(settings, socketDir, e.tcp_listeners);
  const tcp = e.tcp_listeners === null ? `TCP sockets not verified (${e.tcp_unreadable})` : `no TCP socket held by the postmaster (pid ${e.postmaster_pid})`;
  const backup = config
    ? `; the backup's own configuration was not read${config.overridden.length ? ` (it set ${config.overridden.join(', ')})` : ''}${config.preloadDropped.length ? `, its shared_preload_libraries ${config.preloadDropped.join(', ')} not loaded (no background jobs)` : ''}${config.standbySignalRemoved ? ', standby.signal removed' : ''}`
    : '';
  const check: CheckResult = {
    name: 'restore.physical_isolation', stage: 'restore', status: problems.length ? 'fail' : 'pass',
    detail: problems.length
      ? `the recovered copy is not isolated: ${problems.join('; ')} — it is stopped before its data is read`
      : `system_identifier ${e.sandbox_system_identifier} is production's own, as every physical copy's is: isolation is proven on the running server instead — listen_addresses '' and ${tcp}; Unix socket only, in ${socketDir} (0700); archive_mode off, no archive_command (it never writes to the WAL archive); no primary_conninfo or primary_slot_name; restore_command copies from pgdrill's private copy of the archive only; no shared_preload_libraries; no logical replication workers (production's subscriptions never start) and no statement on a foreign table${backup}`,
    evidence: { settings, postmaster_pid: e.postmaster_pid, tcp_listeners: e.tcp_listeners, system_identifier: e.sandbox_system_identifier, ...(config ?? {}) },
  };
  return { check, settings, systemIdentifier: e.sandbox_system_identifier, tcpSockets: e.tcp_listeners?.length ?? null };
}
