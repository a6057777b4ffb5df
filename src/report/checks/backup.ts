/** The checks of the backup stage: taking the dump (run) or proving an existing artefact intact (verify). */
import { defineChecks } from './definition.js';

export const BACKUP_CHECKS = defineChecks({
  'backup.pg_dump': {
    stage: 'backup',
    proves: 'pg_dump exited 0 in the exported snapshot and every byte it wrote was read (size, sha256, arguments in the evidence)',
    fails: null,
    instead: 'a pg_dump that fails or is killed fails the stage as `backup.error`, and its partial file is removed',
    commands: ['run', 'demo'],
  },
  'backup.locks': {
    stage: 'backup',
    proves: null,
    emitted: 'only when a lock wait gave up',
    fails: 'pg_dump or the counts could not lock a table, view or sequence within `backup.lock_wait_timeout`: the object and the blocking sessions are named, and the drill gave up instead of queueing behind an ACCESS EXCLUSIVE lock',
    commands: ['run', 'demo'],
  },
  'backup.recovery_conflict': {
    stage: 'backup',
    proves: null,
    emitted: 'only when a standby cancelled the dump',
    fails: "the standby's replay cancelled pg_dump or the snapshot session (a conflict with recovery); no backup was kept, and the settings to change are named",
    commands: ['run'],
  },
  'backup.trailer': {
    stage: 'backup',
    proves: "a plain dump ends with pg_dump's completion trailer, every COPY block is terminated, and the `\\unrestrict` key equals the `\\restrict` key",
    fails: 'the dump is truncated: cut inside COPY data (the table named, and whether at a row boundary or mid-row) or elsewhere (the section and last object before the cut), or the keys differ',
    commands: ['run', 'verify', 'demo'],
  },
  'backup.globals': {
    stage: 'backup',
    proves: "run: the roles were captured with `pg_dumpall --globals-only --no-role-passwords` (size and sha256). verify `--globals`: the globals file's size and sha256, equal to a SHA256SUMS that lists it",
    fails: 'verify: a SHA256SUMS lists the globals file with another digest',
    warns: 'run: only `--roles-only` could be captured, or none at all (the roles the dump needs are recreated as NOLOGIN placeholders)',
    commands: ['run', 'verify', 'demo'],
  },
  'backup.sha256_self_check': {
    stage: 'backup',
    proves: 'SHA256SUMS, written for the dump and the globals, matches the files re-read from disk once pg_dump had exited (`sha256sum -c` compatible)',
    fails: 'a file re-read does not have the digest recorded while it was written (each named with both digests)',
    commands: ['run', 'demo'],
  },
  'backup.source_counts': {
    stage: 'backup',
    proves: null,
    emitted: 'only when a count of the source failed',
    fails: "count(*) failed on the source in the dump's snapshot for some tables (each with the server's reason): their rows cannot be compared; the dump is still checked and restored",
    commands: ['run', 'demo'],
  },
  'backup.sha256sums': {
    stage: 'backup',
    proves: 'the artefact matches its SHA256SUMS (given with `--sums`, or beside it and listing it); for a directory archive, every file, and no file it does not list',
    fails: 'a digest differs, a listed file is missing, the SHA256SUMS does not list the artefact, or a directory archive holds a file it does not list',
    skips: 'no SHA256SUMS was given or found beside the artefact',
    commands: ['verify'],
  },
  'backup.full_read': {
    stage: 'backup',
    proves: 'every byte of the artefact reads: a plain dump to its end (gzip: CRC verified), an archive through `pg_restore -f -` (`pg_restore --list` alone passes a truncated custom archive)',
    fails: "the file ends early or is damaged (gzip error, pg_restore's error), or pg_restore cannot read the archive's table of contents",
    commands: ['verify'],
  },
  'backup.archive_files': {
    stage: 'backup',
    proves: 'a directory or tar archive holds only regular files with plain names, and every name its toc.dat (and large-object TOCs) records stays inside it: checked before any tool reads the archive',
    fails: 'a link, special file, subdirectory where a file belongs, or a recorded name that climbs out (`../x`, `/etc/x`): the archive is refused, never hashed or given to pg_restore',
    commands: ['verify'],
  },
  'backup.directory_files': {
    stage: 'backup',
    proves: "a directory archive has a data file for every `TABLE DATA` entry of its table of contents",
    fails: 'a data file is missing (named with its table)',
    commands: ['verify'],
  },
  'backup.unchanged': {
    stage: 'backup',
    proves: 'at the end of verify, the artefact has the inode, size and mtime it had at the start: verify only read it, and the results describe it',
    fails: 'the artefact changed or disappeared while it was verified',
    commands: ['verify'],
  },
  'backup.pgbackrest_verify': {
    stage: 'backup',
    proves: "`pgbackrest verify` found every file of the backup (and of the backups it references) and every WAL file of the repository present, of the right size and checksum; pgBackRest recorded no page checksum error while backing it up",
    fails: 'verify names a file missing or invalid in the backup or one it references, or invalid WAL in the archive (the files named); or verify did not complete. pgBackRest exits 0 in these cases: pgdrill reads its report',
    warns: 'only other backups of the stanza are invalid',
    emitted: 'for `pgbackrest:` artefacts',
    commands: ['verify'],
  },
  'backup.barman_verify': {
    stage: 'backup',
    proves: "`barman verify-backup` (pg_verifybackup) found every file of the Barman backup as its backup_manifest lists it",
    fails: 'a file is missing, extra or changed (as pg_verifybackup names it), or the backup has no manifest',
    emitted: 'for `barman:` artefacts',
    commands: ['verify'],
  },
});
