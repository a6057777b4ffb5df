/**
 * What a pg_basebackup output looks like, read from its content (never its name): a plain data directory
 * (`backup_label`, `PG_VERSION`, …) or the tar format (`base.tar[.gz|.lz4|.zst]`, `pg_wal.tar`, one tar per
 * tablespace), with or without `backup_manifest`. And what its `backup_label` says: where WAL replay starts.
 */
import { lstat, readdir } from 'node:fs/promises';
import { readForeignText } from '../exec/input-file.js';

/** A pg_basebackup output's layout. */
export interface BackupLayout {
  readonly dir: string;
  readonly format: 'plain' | 'tar';
  /** base.tar's file name (tar format), e.g. `base.tar.gz`. */
  readonly baseTar: string | null;
  /** pg_wal.tar's file name (tar format, `-X stream`), or null. */
  readonly walTar: string | null;
  /** Other tar files: tablespaces (`16385.tar`), not restored yet. */
  readonly tablespaceTars: readonly string[];
  readonly manifest: boolean;
}

const TAR = /^(base|pg_wal|\d+)\.tar(\.gz|\.lz4|\.zst)?$/;

/**
 * The layout of `dir` when it holds a pg_basebackup output, else null (not a physical backup: verify treats it as a
 * directory-format dump). A directory with `backup_label`, `backup_manifest` or `base.tar*` is one.
 */
export async function detectBackupLayout(dir: string): Promise<BackupLayout | null> {
  const st = await lstat(dir).catch(() => null);
  if (!st?.isDirectory()) return null;
  const names = new Set(await readdir(dir));
  const tars = [...names].filter((n) => TAR.test(n));
  const baseTar = tars.find((n) => n.startsWith('base.tar')) ?? null;
  const manifest = names.has('backup_manifest');
  if (baseTar) {
    return { dir, format: 'tar', baseTar, walTar: tars.find((n) => n.startsWith('pg_wal.tar')) ?? null, tablespaceTars: tars.filter((n) => /^\d/.test(n)), manifest };
  }
  if (names.has('backup_label') || (manifest && names.has('PG_VERSION'))) {
    return { dir, format: 'plain', baseTar: null, walTar: null, tablespaceTars: [], manifest };
  }
  if (manifest && tars.length) return { dir, format: 'tar', baseTar: null, walTar: tars.find((n) => n.startsWith('pg_wal.tar')) ?? null, tablespaceTars: tars.filter((n) => /^\d/.test(n)), manifest };
  return null;
}

/** What backup_label says. */
export interface BackupLabel {
  /** START WAL LOCATION: where replay starts. */
  readonly startLsn: string;
  readonly startSegment: string;
  readonly checkpointLsn: string | null;
  readonly timeline: number;
  readonly startTime: string | null;
  readonly label: string | null;
  /** BACKUP FROM: primary or standby. */
  readonly from: string | null;
}

/** Parse backup_label's text, or null when it is not one. */
export function parseBackupLabel(text: string): BackupLabel | null {
  const get = (key: string) => new RegExp(`^${key}: (.*)$`, 'm').exec(text)?.[1]?.trim() ?? null;
  const start = /^START WAL LOCATION: ([0-9A-F]+\/[0-9A-F]+) \(file ([0-9A-F]{24})\)$/m.exec(text);
  if (!start) return null;
  const tli = get('START TIMELINE');
  return {
    startLsn: start[1]!, startSegment: start[2]!, checkpointLsn: get('CHECKPOINT LOCATION'),
    timeline: tli ? Number(tli) : parseInt(start[2]!.slice(0, 8), 16), startTime: get('START TIME'), label: get('LABEL'), from: get('BACKUP FROM'),
  };
}

/** The manifest's WAL range: the LSN the backup ends at (replay must reach it to be consistent). */
export interface ManifestWalRange {
  readonly timeline: number;
  readonly startLsn: string;
  readonly endLsn: string;
}

/**
 * The WAL-Ranges of a backup_manifest, read from its last 64 kB (the manifest lists every file first: it can be tens
 * of MB, and the ranges come last). Null when absent or unreadable.
 */
export async function readManifestWalRanges(manifest: string): Promise<ManifestWalRange[] | null> {
  const text = await readForeignText(manifest, { maxBytes: 65536, part: 'tail' });
  if (text === null) return null;
  {
    const at = text.lastIndexOf('"WAL-Ranges"');
    if (at < 0) return null;
    const ranges = [...text.slice(at).matchAll(/\{\s*"Timeline":\s*(\d+),\s*"Start-LSN":\s*"([0-9A-F]+\/[0-9A-F]+)",\s*"End-LSN":\s*"([0-9A-F]+\/[0-9A-F]+)"\s*\}/g)];
    return ranges.map((m) => ({ timeline: Number(m[1]), startLsn: m[2]!, endLsn: m[3]! }));
  }
}

/**
 * The backup's files the drill reads as text (small): the label and PG_VERSION of a plain backup, the configuration
 * files of a restored data directory. Null when absent, larger than `max`, or not a regular file — never through a
 * symbolic link, never waiting on a FIFO (`readForeignText`): whoever wrote the backup, or the sandbox user who
 * restored it from a repository, could have put one there, or swapped it in after a check.
 */
export async function readSmallFile(path: string, max = 65536): Promise<string | null> {
  return readForeignText(path, { maxBytes: max });
}

