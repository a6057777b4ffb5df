/**
 * The proof that recovery reached its target, from two witnesses: the server log (recovery-log.ts: the
 * "recovery stopping …" line, the consistency point, the FATAL line of a failed recovery) and the server itself,
 * asked after promotion — pg_last_wal_replay_lsn() and pg_last_xact_replay_timestamp() keep the values of the
 * recovery that ended (PostgreSQL's documentation: "If recovery has completed then this will remain static"), so
 * the copy can be promoted at once (recovery_target_action = promote) rather than paused and read, which with
 * hot_standby off would not be possible, and with it on needs production's max_connections and friends.
 */
import type { CheckResult } from '../report/model.js';
import type { DbSession } from '../pg/client.js';
import type { RecoveryLog } from './recovery-log.js';
import { describeTarget, lsnValue, timeMs, type RecoveryTarget } from './target.js';

/** What the promoted server says about the recovery it ended. */
export interface ReplayFacts {
  readonly lsn: string | null;
  readonly lastCommit: string | null;
  readonly inRecovery: boolean;
  readonly walSegmentSize: number;
}

/** Ask the promoted server. */
export async function readReplayFacts(db: DbSession): Promise<ReplayFacts> {
  const [r] = await db.query<{ lsn: string | null; t: string | null; rec: boolean; seg: string }>(
    "SELECT pg_last_wal_replay_lsn()::text AS lsn, to_char(pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' AS t, pg_is_in_recovery() AS rec, current_setting('wal_segment_size') AS seg");
  const seg = /^(\d+)MB$/.exec(r!.seg);
  return { lsn: r!.lsn, lastCommit: r!.t, inRecovery: r!.rec, walSegmentSize: seg ? Number(seg[1]) << 20 : 16 << 20 };
}

/** The position part (last 16 hex digits) of the segment holding `lsn`. */
export function segmentPosition(lsn: string, segSize: number): bigint | null {
  const v = lsnValue(lsn);
  return v === null ? null : v / BigInt(segSize);
}

/** The position of a segment file name (`000000010000000000000005` → 5), timeline ignored. */
export function segmentNumber(name: string, segSize: number): bigint {
  const perId = 0x100000000n / BigInt(segSize);
  return BigInt(`0x${name.slice(8, 16)}`) * perId + BigInt(`0x${name.slice(16, 24)}`);
}

/** What the proof is held against. */
export interface ProofContext {
  readonly target: RecoveryTarget;
  /** Where the backup becomes consistent (manifest End-LSN), when known. */
  readonly backupEndLsn: string | null;
  /** backup_label's START TIME: a time target before it names a point the backup cannot reach. */
  readonly backupStartTime?: string | null;
  /** The last contiguous archived segment on the timeline path (latest must replay it). */
  readonly lastArchivedSegment: string | null;
  readonly failure: string | null;
  /** Whether recovery had a WAL archive (`--wal`, a repository's); false: only the backup's own pg_wal. Default true. */
  readonly walArchive?: boolean;
}

const name = 'restore.recovery_target' as const;
const stage = 'restore' as const;

/** No archive was given: the backup's own pg_wal was all recovery had, and it was not enough. */
function withoutArchive(log: RecoveryLog): string {
  const at = log.redoDone ?? log.consistentAt ?? log.redoStart;
  return `no WAL archive was given (--wal) and the backup's own pg_wal does not hold the WAL recovery needs${at ? ` (replay reached ${at})` : ''}: take the backup with \`pg_basebackup -X stream\` (or \`-X fetch\`) so that it carries its WAL, or pass --wal with the WAL archive`;
}

/** How far replay got, by the log: the LSN, the last segment restored from the archive, the last transaction. */
function replayReached(log: RecoveryLog): string {
  return `${log.redoDone ?? log.consistentAt ?? log.redoStart ?? 'an unknown LSN'} (last segment restored ${log.lastRestoredSegment ?? 'none'}${log.lastTransactionTime ? `, last transaction at ${log.lastTransactionTime}` : ''})`;
}

/** A failed recovery, explained with both points. */
function failedRecovery(log: RecoveryLog, c: ProofContext): CheckResult {
  const want = describeTarget(c.target);
  const reached = c.walArchive === false ? withoutArchive(log) : `the archive's WAL ran out at ${replayReached(log)}`;
  let detail: string;
  if (/^recovery did not end within /.test(c.failure ?? '')) {
    // The time allowed ran out, not the WAL: nothing is known to be missing.
    detail = `${c.failure}: the target ${want} was not reached in the time allowed; replay had reached ${replayReached(log)} — allow the recovery more time, or check why it is slow`;
  } else if (/before consistent recovery point/.test(c.failure ?? '')) {
    detail = `the target ${want} lies before the backup's consistency point ${c.backupEndLsn ?? log.consistentAt ?? '(unknown)'}: a base backup cannot be recovered to a point before its own end — choose a later target or an older backup (server: ${c.failure})`;
  } else if (/recovery ended before configured recovery target was reached/.test(c.failure ?? '')) {
    detail = `recovery ended before the target ${want} was reached: ${reached} — the archive does not reach that far (server: ${c.failure})`;
  } else if (/WAL ends before (end of online backup|consistent recovery point)/.test(c.failure ?? '')) {
    detail = `the WAL ends before the backup's consistency point ${c.backupEndLsn ?? '(unknown)'}: ${reached}; the backup cannot be recovered (server: ${c.failure})`;
  } else {
    // Another FATAL (or the server gone): the WAL did not run out, as far as anyone knows — say where replay was.
    detail = `recovery to ${want} failed: ${c.failure ?? 'the server stopped'}; ${c.walArchive === false ? withoutArchive(log) : `replay reached ${replayReached(log)}`}`;
  }
  return { name, stage, status: 'fail', detail, evidence: { ...log, failure: c.failure } };
}

/** Did the log and the server reach the target? */
function reachedTarget(log: RecoveryLog, f: ReplayFacts, c: ProofContext): { ok: boolean; how: string } {
  const t = c.target;
  const stop = log.stopLine ?? '';
  switch (t.kind) {
    case 'immediate':
      return { ok: /reaching consistency/.test(stop) || log.consistentAt !== null, how: `consistent at ${log.consistentAt ?? f.lsn} (${stop || 'the end of the backup'})` };
    case 'latest': {
      if (!c.lastArchivedSegment || !f.lsn) return { ok: f.lsn !== null, how: `replayed to ${f.lsn} (the WAL in the backup)` };
      const ok = (segmentPosition(f.lsn, f.walSegmentSize) ?? -1n) >= segmentNumber(c.lastArchivedSegment, f.walSegmentSize);
      return { ok, how: ok ? `every archived segment replayed: to ${f.lsn}, in or past the archive's last segment ${c.lastArchivedSegment}` : `replay stopped at ${f.lsn}, before the archive's last segment ${c.lastArchivedSegment}: recovery ended early` };
    }
    case 'time': {
      const m = /^recovery stopping (before|after) (commit|abort) of transaction (\d+), time (.+)$/.exec(stop);
      const okTime = Number.isNaN(timeMs(f.lastCommit)) || timeMs(f.lastCommit) <= timeMs(t.time);
      return { ok: m !== null && okTime, how: `${stop || 'no "recovery stopping" line'}; last replayed commit ${f.lastCommit ?? '(none)'} ${okTime ? '≤' : '>'} target ${t.time}` };
    }
    case 'lsn': {
      const ok = /^recovery stopping (after|before) WAL location \(LSN\)/.test(stop) && (lsnValue(f.lsn) ?? 0n) >= (lsnValue(t.lsn) ?? 0n);
      return { ok, how: `${stop || 'no "recovery stopping" line'}; replayed to ${f.lsn}` };
    }
    case 'xid':
      return { ok: new RegExp(`transaction ${t.xid}\\b`).test(stop), how: stop || 'no "recovery stopping" line' };
    case 'name':
      return { ok: stop.includes(`at restore point "${t.name}"`), how: stop || 'no "recovery stopping" line' };
  }
}

/** `restore.recovery_target`: the target reached, proven by the log and the promoted server. */
export function recoveryTargetCheck(log: RecoveryLog, facts: ReplayFacts | null, c: ProofContext): CheckResult {
  // A time before the backup began: recovery stops at its first commit, which can fall after the consistency point —
  // no FATAL, and a copy that is not the one asked for.
  const started = timeMs(c.backupStartTime?.replace(/ UTC$/, '+00') ?? null);
  if (c.target.kind === 'time' && timeMs(c.target.time) < started) {
    return { name, stage, status: 'fail', detail: `the target ${describeTarget(c.target)} lies before the backup began (${c.backupStartTime}, consistent at ${c.backupEndLsn ?? log.consistentAt ?? 'an unknown LSN'}): a base backup cannot be recovered to a point before it was taken — choose a later target or an older backup`, evidence: { ...log } };
  }
  if (c.failure || !facts) return failedRecovery(log, c);
  const evidence = { target: describeTarget(c.target), replay_lsn: facts.lsn, last_commit: facts.lastCommit, stop_line: log.stopLine, consistent_at: log.consistentAt, redo_done_at: log.redoDone, new_timeline: log.newTimeline, restored_segments: log.restoredSegments };
  if (facts.inRecovery) return { name, stage, status: 'fail', detail: `the copy is still in recovery: it was not promoted (target ${describeTarget(c.target)})`, evidence };
  const r = reachedTarget(log, facts, c);
  const tl = log.newTimeline ? `; promoted to a new timeline ${log.newTimeline}` : '';
  return { name, stage, status: r.ok ? 'pass' : 'fail', detail: `${r.ok ? 'reached' : 'NOT reached'}: ${describeTarget(c.target)} — ${r.how}${tl}`, evidence };
}
