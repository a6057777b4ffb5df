/**
 * The continuity check's walk over the archive's segments, and the checked copy it leaves for recovery: each segment
 * on the path is copied into a private directory as it is checked (wal-segments.ts checks the copy), so the archive
 * is read once and what recovery reads is what was checked.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArchiveEntry } from './wal-file-read.js';
import { checkStretches, type StretchScan, type StretchWalk } from './wal-segments.js';
import { copyWalFile, makeStageDir, MAX_HISTORY_BYTES, stagedName, type StagedWal } from './wal-stage.js';

/**
 * What the check leaves for recovery: `{ into }` — a copy of every segment on the path (and every history file),
 * made as each is checked, in the new directory `into` (removed again when the check fails); `{ inPlace: true }` —
 * the archive is pgdrill's own private directory (a repository's WAL fetched for the drill): checked where it is and
 * moved into the sandbox afterwards.
 */
export type WalStaging = { readonly into: string } | { readonly inPlace: true };

/** The segment walk; with staging, the checked copy too (removed when the check fails, or the walk throws). */
export async function scanAndStage(walk: StretchWalk, stage: WalStaging | null, passed: (s: StretchScan) => boolean): Promise<{ scan: StretchScan; staged: StagedWal | null }> {
  if (stage === null || 'inPlace' in stage) {
    const scan = await checkStretches(walk);
    return { scan, staged: stage && passed(scan) ? countStaged(walk.dir, walk.entries) : null };
  }
  const t0 = performance.now();
  // Owned by the user running pgdrill until recovery adopts it (adoptStagedWal hands it to the sandbox user): a copy
  // a killed drill leaves in its run directory is then provably pgdrill's, and `pgdrill cleanup` removes it.
  await makeStageDir(stage.into, null);
  try {
    const histories = await stageFiles(walk, stage.into, (e) => e.parsed.kind === 'history');
    const scan = await checkStretches({ ...walk, copyInto: stage.into });
    if (!passed(scan)) {
      await rm(stage.into, { recursive: true, force: true });
      return { scan, staged: null };
    }
    // A recovery to an LSN may read the record that starts past it: the rest of the target timeline is kept too.
    const last = walk.stretches[walk.stretches.length - 1]!;
    const beyond = walk.untilLsn === null ? { count: 0, bytes: 0 } : await stageFiles(walk, stage.into, (e) => e.parsed.kind === 'segment' && e.parsed.timeline === last.timeline && e.name.slice(8, 24) > (scan.lastSegment ?? '').slice(8));
    const staged = { dir: stage.into, segments: scan.segments + beyond.count, histories: histories.count, bytes: scan.segments * walk.segmentSize + beyond.bytes + histories.bytes, ms: Math.round(performance.now() - t0) };
    return { scan, staged };
  } catch (err) {
    await rm(stage.into, { recursive: true, force: true });
    throw err;
  }
}

/** Copy the archive's regular files that `pick` chooses into `into`, unchecked (the first of one name wins); returns how many and their bytes. */
async function stageFiles(walk: StretchWalk, into: string, pick: (e: ArchiveEntry) => boolean): Promise<{ count: number; bytes: number }> {
  let count = 0;
  let bytes = 0;
  const done = new Set<string>();
  for (const e of [...walk.entries.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const name = stagedName(e.name);
    if (!name || e.type !== 'file' || !pick(e) || done.has(name)) continue;
    done.add(name);
    const maxBytes = e.parsed.kind === 'history' ? MAX_HISTORY_BYTES : walk.segmentSize;
    const r = await copyWalFile(join(walk.dir, e.name), e.parsed.compression, join(into, name), { osUser: walk.osUser ?? null, headBytes: 0, maxBytes, signal: walk.signal });
    if ('problem' in r) continue; // recovery reports it if it ever needs the file: the check covers the path's own
    count++;
    bytes += r.size;
  }
  return { count, bytes };
}

/** What a directory checked in place holds for recovery. */
function countStaged(dir: string, entries: Map<string, ArchiveEntry>): StagedWal {
  const names = [...entries.values()].filter((e) => e.type === 'file' && stagedName(e.name) === e.name).map((e) => e.parsed.kind);
  return { dir, segments: names.filter((k) => k === 'segment').length, histories: names.filter((k) => k === 'history').length, bytes: 0 };
}
