/**
 * The backup's own account of itself, before anything is restored: backup_label (where replay starts, on which
 * timeline), PG_VERSION (the server major it needs) and the manifest's WAL range (where it becomes consistent),
 * from a plain directory or from inside base.tar.
 */
import type { OsUser } from '../exec/os-user.js';
import { join } from 'node:path';
import { parseBackupLabel, readManifestWalRanges, readSmallFile, type BackupLabel, type BackupLayout, type ManifestWalRange } from './backup-layout.js';
import { openTarStream, readTarMembers } from './tar-stream.js';

/** What the backup says about itself; a field is null when its file is missing or unreadable. */
export interface BackupFacts {
  readonly label: BackupLabel | null;
  /** The major of PG_VERSION (15), or null. */
  readonly major: number | null;
  /** The manifest's WAL range on the start timeline (its End-LSN: the consistency point). */
  readonly walRange: ManifestWalRange | null;
  /** Why the label or PG_VERSION could not be read, for a check's detail. */
  readonly problems: readonly string[];
}

/** Read the facts of a backup of a given layout. */
export async function readBackupFacts(layout: BackupLayout, signal?: AbortSignal, osUser: OsUser | null = null): Promise<BackupFacts> {
  const problems: string[] = [];
  let labelText: string | null = null;
  let versionText: string | null = null;
  if (layout.format === 'plain') {
    labelText = await readSmallFile(join(layout.dir, 'backup_label'));
    versionText = await readSmallFile(join(layout.dir, 'PG_VERSION'));
  } else if (layout.baseTar) {
    const found = await readTarMembers(await openTarStream(join(layout.dir, layout.baseTar), signal, osUser), new Set(['backup_label', 'PG_VERSION'])).catch((err: Error) => {
      problems.push(`${layout.baseTar} could not be read: ${err.message}`);
      return new Map<string, Buffer>();
    });
    labelText = found.get('backup_label')?.toString('utf8') ?? null;
    versionText = found.get('PG_VERSION')?.toString('utf8') ?? null;
  } else {
    problems.push('base.tar is missing: the backup has a manifest and tar files, but not the main data directory\'s tar');
  }
  const where = layout.format === 'plain' ? layout.dir : join(layout.dir, layout.baseTar ?? 'base.tar');
  const label = labelText ? parseBackupLabel(labelText) : null;
  if (!labelText) problems.push(`backup_label is missing from ${where}: without it recovery would start from the wrong checkpoint (a copy that is not a base backup, or a deleted file)`);
  else if (!label) problems.push(`backup_label in ${where} is not readable (no START WAL LOCATION line)`);
  const major = versionText && /^\d+(\.\d+)?\s*$/.test(versionText) ? parseInt(versionText, 10) : null;
  if (!versionText) problems.push(`PG_VERSION is missing from ${where}`);
  else if (major === null) problems.push(`PG_VERSION in ${where} does not hold a version number`);
  const ranges = layout.manifest ? await readManifestWalRanges(join(layout.dir, 'backup_manifest')) : null;
  const walRange = ranges?.find((r) => r.timeline === label?.timeline) ?? ranges?.[0] ?? null;
  return { label, major, walRange, problems };
}
