/**
 * The pure parts of physical drills: --target parsing, backup_label, the recovery log, the isolation judge
 * (restore.physical_isolation fails on a copy that could archive, replicate or listen) and the recovery proof
 * (restore.recovery_target) on log and server facts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseBackupLabel } from '../../src/physical/backup-layout.js';
import { isolationProblems } from '../../src/physical/isolation.js';
import { parseRecoveryLog, recoveryFailure } from '../../src/physical/recovery-log.js';
import { StoppedFromOutside } from '../../src/physical/recover.js';
import { recoveryTargetCheck, segmentNumber, segmentPosition } from '../../src/physical/recovery-proof.js';
import { parseRecoveryTarget, recoveryTargetSettings, timeMs } from '../../src/physical/target.js';
import { ConfigError } from '../../src/errors.js';

describe('physical drills: pure parts', () => {
  it('--target: defaults, kinds, and refusals', () => {
    assert.deepEqual(parseRecoveryTarget(undefined, true), { kind: 'latest' });
    assert.deepEqual(parseRecoveryTarget(undefined, false), { kind: 'immediate' });
    assert.deepEqual(parseRecoveryTarget('lsn:0/5036f90', true), { kind: 'lsn', lsn: '0/5036F90' });
    assert.deepEqual(parseRecoveryTarget('name:before_x', true), { kind: 'name', name: 'before_x' });
    assert.deepEqual(parseRecoveryTarget('2026-12-06 14:31:20.840280+00', true), { kind: 'time', time: '2026-12-06 14:31:20.840280+00' });
    assert.throws(() => parseRecoveryTarget('2026-12-06 14:31:20', true), /time zone/);
    assert.throws(() => parseRecoveryTarget('latest', false), ConfigError);
    assert.throws(() => parseRecoveryTarget("name:x'; drop", true), ConfigError);
    assert.throws(() => parseRecoveryTarget('lsn:zz', true), ConfigError);
    assert.equal(recoveryTargetSettings({ kind: 'name', name: "o'k" }, undefined).recovery_target_name, "'o''k'");
    assert.equal(recoveryTargetSettings({ kind: 'latest' }, '2').recovery_target_timeline, "'2'");
    assert.equal(timeMs('2026-12-06 14:31:20.840280+00'), Date.UTC(2026, 11, 6, 14, 31, 20, 840));
  });

  it('backup_label', () => {
    const l = parseBackupLabel('START WAL LOCATION: 0/3000028 (file 000000010000000000000003)\nCHECKPOINT LOCATION: 0/3000060\nBACKUP METHOD: streamed\nBACKUP FROM: primary\nSTART TIME: 2026-12-06 14:31:18 UTC\nLABEL: x\nSTART TIMELINE: 1\n');
    assert.equal(l?.startLsn, '0/3000028');
    assert.equal(l?.startSegment, '000000010000000000000003');
    assert.equal(l?.timeline, 1);
    assert.equal(parseBackupLabel('not a label'), null);
  });

  it('segments: an LSN past a switch lies in or after the last archived segment', () => {
    assert.equal(segmentPosition('0/6000000', 16 << 20), 6n);
    assert.equal(segmentNumber('000000010000000100000002', 16 << 20), 256n + 2n);
  });

  const LOG = [
    '2026-12-06 14:31:25.1 UTC [1] LOG:  starting point-in-time recovery to "p1"',
    '2026-12-06 14:31:25.2 UTC [1] FATAL:  the database system is starting up',
    '2026-12-06 14:31:25.3 UTC [1] LOG:  restored log file "000000010000000000000003" from archive',
    '2026-12-06 14:31:25.4 UTC [1] LOG:  redo starts at 0/3000028',
    '2026-12-06 14:31:25.5 UTC [1] LOG:  consistent recovery state reached at 0/3000100',
    '2026-12-06 14:31:25.6 UTC [1] LOG:  recovery stopping at restore point "p1", time 2026-12-06 14:31:22.1+00',
    '2026-12-06 14:31:25.7 UTC [1] LOG:  redo done at 0/5036F58 system usage: CPU: user: 0.00 s',
    '2026-12-06 14:31:25.8 UTC [1] LOG:  selected new timeline ID: 2',
  ].join('\n');

  it('the recovery log: stop line, points, timeline; connection refusals are not the FATAL', () => {
    const log = parseRecoveryLog(LOG);
    assert.equal(log.consistentAt, '0/3000100');
    assert.equal(log.redoDone, '0/5036F58');
    assert.equal(log.newTimeline, 2);
    assert.equal(log.restoredSegments, 1);
    assert.equal(log.fatal, null);
    assert.match(log.stopLine!, /restore point "p1"/);
  });

  it('the recovery log: a reason of the recovery\'s own for its end (FATAL, a crashed startup process), or none (stopped from outside)', () => {
    const at = (pid: number, level: string, msg: string) => `2026-12-06 14:31:25.1 UTC [${pid}] ${level}:  ${msg}`;
    const start = [at(40, 'LOG', 'starting PostgreSQL 16.4 on x86_64-pc-linux-gnu'), at(42, 'LOG', 'starting archive recovery'), at(42, 'LOG', 'redo starts at 0/3000028')];
    // Killed outright: the log just ends; pgdrill's own refused connections are no reason.
    const killed = parseRecoveryLog([...start, at(50, 'FATAL', 'the database system is not yet accepting connections')].join('\n'));
    assert.equal(recoveryFailure(killed), null);
    assert.equal(killed.shutdownRequest, null);
    assert.equal(killed.postmasterPid, 40);
    // pg_ctl stop: the request is named, and still no reason of the recovery's.
    const stopped = parseRecoveryLog([...start, at(40, 'LOG', 'received fast shutdown request'), at(40, 'LOG', 'shutting down'), at(40, 'LOG', 'database system is shut down')].join('\n'));
    assert.equal(recoveryFailure(stopped), null);
    assert.equal(stopped.shutdownRequest, 'received fast shutdown request');
    // The startup process crashed (bad WAL can crash it with no FATAL line): a failed recovery.
    const crashed = parseRecoveryLog([...start, at(40, 'LOG', 'startup process (PID 42) was terminated by signal 11: Segmentation fault'), at(40, 'LOG', 'aborting startup due to startup process failure')].join('\n'));
    assert.equal(recoveryFailure(crashed), 'startup process (PID 42) was terminated by signal 11: Segmentation fault');
    assert.equal(recoveryFailure(parseRecoveryLog([...start, at(40, 'LOG', 'aborting startup due to startup process failure')].join('\n'))), 'aborting startup due to startup process failure');
    assert.match(recoveryFailure(parseRecoveryLog([...start, at(42, 'PANIC', 'WAL contains references to invalid pages')].join('\n')))!, /^PANIC: WAL contains references/);
    assert.equal(parseRecoveryLog('LOG:  starting PostgreSQL 16.4').postmasterPid, null, 'no pid in the prefix: unknown');
    // The startup process killed with SIGKILL (the OOM killer, an admin): no reason of the recovery's, as in the restore sandbox.
    const oom = parseRecoveryLog([...start, at(40, 'LOG', 'startup process (PID 42) was terminated by signal 9: Killed'), at(40, 'LOG', 'aborting startup due to startup process failure')].join('\n'));
    assert.equal(recoveryFailure(oom), null);
    assert.match(new StoppedFromOutside(oom, 40, null).message, /its log says "startup process \(PID 42\) was terminated by signal 9: Killed": killed with SIGKILL/);
  });

  it('restore.recovery_target: passes on the named point, fails on another, names both points when recovery ended early', () => {
    const log = parseRecoveryLog(LOG);
    const facts = { lsn: '0/5036F58', lastCommit: null, inRecovery: false, walSegmentSize: 16 << 20 };
    const ctx = { backupEndLsn: '0/3000100', lastArchivedSegment: '000000010000000000000005', failure: null };
    assert.equal(recoveryTargetCheck(log, facts, { ...ctx, target: { kind: 'name', name: 'p1' } }).status, 'pass');
    assert.equal(recoveryTargetCheck(log, facts, { ...ctx, target: { kind: 'name', name: 'p2' } }).status, 'fail');
    const latest = recoveryTargetCheck(parseRecoveryLog(''), { ...facts, lsn: '0/4FFFFFF' }, { ...ctx, target: { kind: 'latest' } });
    assert.equal(latest.status, 'fail');
    assert.match(latest.detail, /before the archive's last segment 000000010000000000000005/);
    const early = recoveryTargetCheck(parseRecoveryLog(`${LOG}\nx FATAL:  requested recovery stop point is before consistent recovery point`), null,
      { ...ctx, target: { kind: 'lsn', lsn: '0/2000000' }, failure: 'FATAL: requested recovery stop point is before consistent recovery point' });
    assert.equal(early.status, 'fail');
    assert.match(early.detail, /lsn:0\/2000000 lies before the backup's consistency point 0\/3000100/);
    // A time before the backup began FAILs even when the server stopped after consistency without a FATAL.
    const beforeStart = recoveryTargetCheck(log, facts, { ...ctx, backupStartTime: '2026-12-06 14:31:18 UTC', target: { kind: 'time', time: '2026-12-06 14:00:00+00' } });
    assert.equal(beforeStart.status, 'fail');
    assert.match(beforeStart.detail, /lies before the backup began \(2026-12-06 14:31:18 UTC/);
  });

  it('restore.recovery_target: a recovery that failed is blamed on the archive only when its WAL ran out', () => {
    const partial = parseRecoveryLog(LOG.split('\n').slice(0, 5).join('\n')); // recovering, no "redo done" yet
    const ctx = { backupEndLsn: '0/3000100', lastArchivedSegment: '000000010000000000000005', target: { kind: 'xid', xid: '999' } as const };
    // The archive ran out: both points named.
    const short = recoveryTargetCheck(parseRecoveryLog(`${LOG}\nx FATAL:  recovery ended before configured recovery target was reached`), null,
      { ...ctx, failure: 'FATAL: recovery ended before configured recovery target was reached' });
    assert.match(short.detail, /^recovery ended before the target xid:999 was reached: the archive's WAL ran out at 0\/5036F58 \(last segment restored 000000010000000000000003\)/);
    // The time allowed ran out, in pg_ctl's wait or pgdrill's: the time named, the WAL not blamed.
    const slow = recoveryTargetCheck(partial, null, { ...ctx, failure: 'recovery did not end within 2 s' });
    assert.equal(slow.status, 'fail');
    assert.match(slow.detail, /^recovery did not end within 2 s: the target xid:999 was not reached in the time allowed; replay had reached 0\/3000100 \(last segment restored 000000010000000000000003\)/);
    assert.doesNotMatch(slow.detail, /ran out/);
    // Another FATAL, or a promoted copy that could not be asked: where replay was, not "the WAL ran out".
    for (const failure of ['FATAL: requested timeline 3 is not a child of this server\'s history', 'the promoted copy could not be asked where its recovery ended: Connection terminated']) {
      const other = recoveryTargetCheck(partial, null, { ...ctx, failure });
      assert.equal(other.status, 'fail');
      assert.ok(other.detail.startsWith(`recovery to xid:999 failed: ${failure}; replay reached 0/3000100`), other.detail);
      assert.doesNotMatch(other.detail, /ran out/);
    }
  });

  it('restore.physical_isolation fails on a copy that could archive, replicate, preload or listen', () => {
    const ok = {
      listen_addresses: '', archive_mode: 'off', archive_command: '(disabled)', archive_library: '', primary_conninfo: '', primary_slot_name: '',
      shared_preload_libraries: '', restore_command: 'cp "../wal-archive/%f" "%p"', unix_socket_directories: '/tmp/s', unix_socket_permissions: '0700',
      max_logical_replication_workers: '0', restrict_nonsystem_relation_kind: 'foreign-table',
    };
    assert.deepEqual(isolationProblems(ok, '/tmp/s', []), []);
    // A server that predates restrict_nonsystem_relation_kind: not a problem; one that has it unset, or that could
    // start production's subscriptions (the copy has them, enabled), is.
    const { restrict_nonsystem_relation_kind: _omitted, ...older } = ok;
    assert.deepEqual(isolationProblems(older, '/tmp/s', []), []);
    assert.deepEqual(isolationProblems({ ...ok, max_logical_replication_workers: '4', restrict_nonsystem_relation_kind: '' }, '/tmp/s', []),
      ["max_logical_replication_workers = '4'", "restrict_nonsystem_relation_kind = ''"]);
    const bad = isolationProblems({ ...ok, archive_mode: 'on', primary_conninfo: '(set; value not shown)', shared_preload_libraries: 'pg_cron' }, '/tmp/s', ['127.0.0.1:5432']);
    assert.equal(bad.length, 4);
    assert.match(bad.join('; '), /archive_mode = 'on'.*primary_conninfo.*pg_cron.*TCP: 127\.0\.0\.1:5432/);
  });
});
