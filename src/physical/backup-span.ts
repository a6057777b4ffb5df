import type { OsUser } from '../exec/os-user.js';
import type { PhysicalTarget } from './pgbackrest.js';

/** What every physical backup tool reports of one backup (where in the WAL and when it began and ended), and what its restore adapters take. */

/** The WAL span and times of one physical backup (Barman's and pgBackRest's backups both carry them). */
export interface PhysicalBackupSpan {
  readonly startLsn: string;
  readonly stopLsn: string;
  /** The timeline the backup started on. */
  readonly timeline: number;
  readonly startSegment: string;
  readonly stopSegment: string;
  readonly startTime: string;
  readonly stopTime: string;
}

/** What a repository's restore adapter (pgBackRest, Barman) needs beside the artefact that names the backup. */
export interface RepositoryRestoreOptions<Artifact> {
  readonly artifact: Artifact;
  /** The tool's configuration file (`--pgbackrest-config`, `--barman-config`); default: the tool's own. */
  readonly configFile?: string;
  /** The new data directory (absent or empty), inside the sandbox's own directory. */
  readonly dataDir: string;
  /** A private directory for the tool's lock, spool and log files; default: beside dataDir. */
  readonly workDir?: string;
  /** The sandbox's OS user (null: the caller). */
  readonly osUser: OsUser | null;
  readonly target: PhysicalTarget;
  readonly targetTimeline?: number | 'latest';
  readonly signal?: AbortSignal;
}

/**
 * A repository backup restored by its tool into a private staging directory of pgdrill's (repository-verify.ts): the
 * data directory and the WAL fetched for it are moved into the sandbox, never copied a second time, and the time the
 * tool's restore and the WAL fetch took is counted in the drill's RTO.
 */
export interface RepositoryStaging {
  /** Milliseconds the tool's restore and the WAL fetch took. */
  readonly restoredMs: number;
  /** The WAL directory is the drill's own (pgBackRest's fetch): checked in place and moved. False: it lies inside the data directory (Barman's barman_wal/, pg_wal/), so the check copies it out. */
  readonly walInPlace: boolean;
}
