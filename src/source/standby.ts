/**
 * Drilling a standby — where careful teams point backups, to spare the primary. It works (PostgreSQL 10+ exports
 * snapshots on a standby), with one hazard of its own: replaying WAL can conflict with the dump's snapshot. A
 * VACUUM on the primary that removes row versions the snapshot still sees, or an ACCESS EXCLUSIVE lock taken
 * there, makes the standby cancel pg_dump's query (and end the idle snapshot session) once
 * `max_standby_streaming_delay` (`max_standby_archive_delay` when replaying from the archive) has passed —
 * measured: "canceling statement due to conflict with recovery" during pg_dump's COPY. `hot_standby_feedback = on`
 * makes the primary keep those row versions; lock conflicts stay possible.
 *
 * The guard reads these settings (only on a standby) and warns before the drill when nothing protects the dump; a
 * dump cancelled so fails as `backup.recovery_conflict`, with the settings and what to change.
 */
import type { DbSession } from '../pg/client.js';
import type { CheckResult } from '../report/model.js';

/** The standby's settings that decide whether a long dump survives replay. */
export interface StandbySettings {
  readonly hotStandbyFeedback: boolean;
  /** As the server shows them (`30s`, `-1` waits forever). */
  readonly maxStandbyStreamingDelay: string;
  readonly maxStandbyArchiveDelay: string;
}

/** Null unless the source is in recovery. */
export async function readStandbySettings(db: DbSession, inRecovery: boolean): Promise<StandbySettings | null> {
  if (!inRecovery) return null;
  const [r] = await db.query<{ feedback: string; streaming: string; archive: string }>(
    "SELECT current_setting('hot_standby_feedback') AS feedback, current_setting('max_standby_streaming_delay') AS streaming, current_setting('max_standby_archive_delay') AS archive");
  return { hotStandbyFeedback: r!.feedback === 'on', maxStandbyStreamingDelay: r!.streaming, maxStandbyArchiveDelay: r!.archive };
}

const describe = (s: StandbySettings) =>
  `hot_standby_feedback ${s.hotStandbyFeedback ? 'on' : 'off'}, max_standby_streaming_delay ${s.maxStandbyStreamingDelay}, max_standby_archive_delay ${s.maxStandbyArchiveDelay}`;

const REMEDY = 'set hot_standby_feedback = on on this standby (the primary then keeps the row versions the snapshot needs), ' +
  'raise max_standby_streaming_delay (-1 waits for the dump), or drill the primary';

/** `guard.standby`: pass when the primary keeps what the snapshot needs or replay waits for it; warn otherwise. */
export function standbyCheck(s: StandbySettings): CheckResult {
  const evidence = { hot_standby_feedback: s.hotStandbyFeedback, max_standby_streaming_delay: s.maxStandbyStreamingDelay, max_standby_archive_delay: s.maxStandbyArchiveDelay };
  const waits = s.maxStandbyStreamingDelay === '-1' && s.maxStandbyArchiveDelay === '-1';
  if (s.hotStandbyFeedback || waits) {
    return {
      name: 'guard.standby', stage: 'guard', status: 'pass', evidence,
      detail: `the source is a standby (${describe(s)}): ${s.hotStandbyFeedback ? 'the primary keeps the row versions the dump\'s snapshot needs' : 'replay waits for the dump'}; an ACCESS EXCLUSIVE lock replayed from the primary can still cancel it`,
    };
  }
  return {
    name: 'guard.standby', stage: 'guard', status: 'warn', evidence,
    detail: `the source is a standby (${describe(s)}): a VACUUM on the primary can make the standby cancel a dump that runs longer than ${s.maxStandbyStreamingDelay} (a recovery conflict) — ${REMEDY}`,
  };
}

/** Did the standby cancel this (pg_dump's query, the counts, the snapshot session) to replay WAL? */
export function isRecoveryConflict(err: unknown): boolean {
  return /conflict with recovery/i.test((err as Error)?.message ?? String(err));
}

/** `backup.recovery_conflict`: the dump was cancelled by the standby's replay; no backup was kept. */
export function recoveryConflictCheck(err: unknown, s: StandbySettings | null): CheckResult {
  const message = (err as Error)?.message ?? String(err);
  const line = /ERROR:\s+(canceling statement due to conflict with recovery|terminating connection due to conflict with recovery)[^\n]*(\n\s*DETAIL:[^\n]*)?/i.exec(message)?.[0]?.replace(/\s+/g, ' ') ?? message.slice(0, 300);
  return {
    name: 'backup.recovery_conflict', stage: 'backup', status: 'fail',
    detail: `the standby cancelled the dump to replay WAL from the primary (${line}) — no backup was kept. ${s ? `Its settings: ${describe(s)}; ${REMEDY}` : `${REMEDY[0]!.toUpperCase()}${REMEDY.slice(1)}`}.`,
    evidence: { error: message, ...(s ? { hot_standby_feedback: s.hotStandbyFeedback, max_standby_streaming_delay: s.maxStandbyStreamingDelay, max_standby_archive_delay: s.maxStandbyArchiveDelay } : {}) },
  };
}
