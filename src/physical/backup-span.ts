/** What every physical backup tool reports of one backup: where in the WAL and when it began and ended. */

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
