/**
 * Where an archive's WAL ends, and whether anything in the archive says it went further. A recovery to `latest`
 * replays to the last segment the archive holds; when the last segments were deleted (or never archived), the
 * archive simply ends earlier, and no segment can tell. What can: the archive's small files that record an LSN the
 * WAL reached on a timeline —
 *
 * - a backup history file (`<segment>.<offset>.backup`, written by every base backup on a server that archives):
 *   its `STOP WAL LOCATION` on its `STOP TIMELINE` was written, so the archive once had (or will have) WAL to it;
 * - a timeline history file (`<tli>.history`): every line `<tli> <switchpoint>` says timeline `<tli>` reached
 *   `<switchpoint>` before the switch.
 *
 * When one names an LSN past the archive's end on the last timeline recovery follows, segments are missing: deleted,
 * or not archived yet. When none does, the report says exactly that: the archive ends at X, and nothing in it shows
 * more was expected — never that the archive is complete (docs/physical.md, "Where the archive ends").
 */
import { parseTimelineHistory } from './wal-history.js';
import { readPrefix, type ArchiveEntry, type DecompressOptions } from './wal-file-read.js';
import { formatLsn, isLsn, parseLsn } from './wal-names.js';

/** The furthest LSN the archive's backup and timeline history files say a timeline reached. */
export interface WalEndEvidence {
  /** The LSN ('0/5000138'). */
  readonly lsn: string;
  /** The file that says so. */
  readonly file: string;
  /** What it is, for a sentence: 'a backup history file (a base backup stopped there)'. */
  readonly what: string;
}

/** Backup history files are a few hundred bytes; a larger file of that name is not read further. */
const MAX_TEXT = 64 * 1024;

/**
 * The furthest LSN on `timeline` that a backup history file or a timeline history file in the archive names, or
 * null when none names one. Files that cannot be read or parsed are passed over (the continuity check reports the
 * files recovery needs; these it never reads).
 */
export async function walEndEvidence(dir: string, entries: ReadonlyMap<string, ArchiveEntry>, timeline: number, opts: DecompressOptions = {}): Promise<WalEndEvidence | null> {
  let best: { lsn: bigint; file: string; what: string } | null = null;
  const consider = (lsn: bigint, file: string, what: string) => {
    if (!best || lsn > best.lsn) best = { lsn, file, what };
  };
  for (const e of [...entries.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (e.type !== 'file') continue;
    const p = e.parsed;
    if (p.kind === 'backup') {
      if (p.timeline > timeline) continue; // a backup taken on a later timeline stopped on a later one
      const text = await readText(dir, e, opts);
      const stop = text === null ? null : backupStop(text, p.timeline);
      if (stop && stop.timeline === timeline) consider(stop.lsn, e.name, 'a backup history file (a base backup stopped there)');
    } else if (p.kind === 'history' && p.timeline > timeline) {
      const text = await readText(dir, e, opts);
      const parsed = text === null ? null : parseTimelineHistory(text);
      if (!parsed || 'problem' in parsed) continue;
      for (const s of parsed.switches) if (s.timeline === timeline) consider(s.switchpoint, e.name, `a timeline history file (timeline ${timeline} switched there)`);
    }
  }
  const found = best as { lsn: bigint; file: string; what: string } | null;
  return found ? { lsn: formatLsn(found.lsn), file: found.file, what: found.what } : null;
}

async function readText(dir: string, e: ArchiveEntry, opts: DecompressOptions): Promise<string | null> {
  const r = await readPrefix(dir, e.name, e.parsed.compression, MAX_TEXT, opts);
  return 'problem' in r ? null : r.bytes.toString('utf8');
}

/** `STOP WAL LOCATION: 0/5000138 (file …)` and `STOP TIMELINE: 1` (absent before PostgreSQL 9.4: the file's own). */
export function backupStop(text: string, fileTimeline: number): { lsn: bigint; timeline: number } | null {
  const lsn = /^STOP WAL LOCATION: (\S+)/m.exec(text)?.[1];
  if (!lsn || !isLsn(lsn)) return null;
  const tli = /^STOP TIMELINE: (\d+)\s*$/m.exec(text)?.[1];
  return { lsn: parseLsn(lsn), timeline: tli ? Number(tli) : fileTimeline };
}
