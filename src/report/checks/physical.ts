/**
 * The checks of a physical drill (`pgdrill verify` of a pg_basebackup output with its WAL archive), in the stages
 * they belong to: integrity before anything is restored (backup), the isolated recovery and its proof (restore),
 * the recovered cluster (fidelity). `fidelity.amcheck` and `teardown.confirmed` are shared with logical drills.
 */
import { defineChecks } from './definition.js';

export const PHYSICAL_BACKUP_CHECKS = defineChecks({
  'backup.physical_files': {
    stage: 'backup',
    proves: "the base backup is whole enough to start from: backup_label (where replay starts) and PG_VERSION are there and readable, base.tar is there in tar format, and a plain backup holds only regular files and directories (nothing that would make the copy follow a link out)",
    fails: 'backup_label or PG_VERSION is missing or unreadable, base.tar is missing, or the backup holds a link, FIFO or device (named); tablespaces are named as not supported yet',
    commands: ['verify'],
  },
  'backup.pg_verifybackup': {
    stage: 'backup',
    proves: "pg_verifybackup checked every file of the backup against its backup_manifest (sizes and checksums), and the manifest's own checksum (with `-n` when the WAL is in a separate archive)",
    fails: 'a file is missing, extra or changed against the manifest (each named), or the manifest is damaged',
    skips: 'the backup has no backup_manifest (pg_basebackup --no-manifest, or before PostgreSQL 13), or no pg_verifybackup of its major was found (a warn)',
    warns: 'no pg_verifybackup of the backup\'s major was found',
    commands: ['verify'],
  },
  'backup.wal_continuity': {
    stage: 'backup',
    proves: 'every WAL segment from the backup\'s start LSN to the target is in the archive, readable and contiguous, and every .history file a timeline switch needs is there — checked before recovery starts',
    fails: 'a gap: the first missing segment (or .history file) is named',
    warns: "recovering to the archive's end, a backup history file (`.backup`) or a timeline history file in the archive names an LSN on the last timeline past the archive's last segment: segments are missing after it (deleted, or not archived yet). Otherwise the detail says where the archive ends and that nothing in it shows more was expected — segments deleted from the end leave no other trace",
    skips: 'no --wal: the drill recovers to the end of the backup with the WAL inside it',
    commands: ['verify'],
  },
});

export const PHYSICAL_RESTORE_CHECKS = defineChecks({
  'restore.physical_isolation': {
    stage: 'restore',
    proves: "the recovered copy — which shares production's system_identifier, as every physical copy does — cannot reach anything: read from the running server, listen_addresses is empty and its postmaster holds no TCP socket, the socket directory is private, archive_mode is off and archive_command empty (it never pushes WAL into the archive), primary_conninfo and primary_slot_name are empty, restore_command copies only from pgdrill's private copy of the archive, no shared_preload_libraries (pg_cron and the like never run jobs), no logical replication workers (production's subscriptions, enabled in the copy, never connect to their publisher) and, where the server knows restrict_nonsystem_relation_kind, no statement on a foreign table, and the backup's postgresql.auto.conf is not read",
    fails: 'a setting above is not as required on the running server, or the postmaster holds a TCP socket (what was found is named): the copy is stopped before its data is read',
    commands: ['verify'],
  },
  'restore.repository': {
    stage: 'restore',
    proves: null,
    emitted: 'only for pgbackrest:/barman: artefacts whose tool could not restore the backup',
    fails: "the repository tool's restore (pgbackrest restore, barman recover) failed, or pgbackrest archive-get could not fetch a WAL file the repository's archive holds (the file named): its error is named, beside the tool's own verify that usually names the damaged file; nothing was started",
    commands: ['verify'],
  },
  'restore.physical_copy': {
    stage: 'restore',
    proves: null,
    emitted: 'only when the backup could not be copied into the sandbox',
    fails: "the backup's files could not be copied or extracted into the sandbox (a tar that GNU tar cannot read, named with tar's error), or the WAL archive could not be staged beside it: the server was never started",
    commands: ['verify'],
  },
  'restore.recovery_target': {
    stage: 'restore',
    proves: "recovery reached the target and the copy was promoted: the server log's \"recovery stopping …\" line (or, for latest, every archived segment replayed; for immediate, the consistency point) and pg_last_wal_replay_lsn()/pg_last_xact_replay_timestamp() agree with the target; the new timeline is recorded",
    fails: "recovery ended before the target (both points named), the target lies before the backup's consistency point, the server could not replay (its FATAL line), or latest stopped before the archive's last segment",
    commands: ['verify'],
  },
});

export const PHYSICAL_FIDELITY_CHECKS = defineChecks({
  'fidelity.databases': {
    stage: 'fidelity',
    proves: "every database of the recovered cluster that allows connections accepts one, and its tables' exact row counts are recorded (history and the baseline compare them night to night)",
    fails: 'a database refuses connections or its tables cannot be counted (the error named)',
    commands: ['verify'],
  },
  'fidelity.pg_checksums': {
    stage: 'fidelity',
    proves: 'after a clean shutdown, pg_checksums --check read every data page of the recovered cluster and found every checksum correct',
    fails: 'a page checksum is wrong (the file and block named), or the server did not shut down cleanly',
    skips: 'data checksums are off in the backup (amcheck is then what reads the pages), or no pg_checksums of its major was found (a warn)',
    warns: "no pg_checksums of the backup's major was found",
    commands: ['verify'],
  },
});
