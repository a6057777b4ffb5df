/**
 * The segment walk of a continuity check: along each stretch of the timeline path, every segment from the stretch's
 * first to its last must be in the archive and readable. A stretch ends the segment before its switchpoint's (that
 * segment is read on the new timeline, which begins with a copy of it); the last stretch ends at the segment holding
 * the target LSN, or, for "as far as the archive goes", at the newest segment of the target timeline. The walk
 * visits only segments the archive has (a target far beyond it costs nothing), counting the gaps between them.
 */
import { join } from 'node:path';
import type { OsUser } from '../exec/os-user.js';
import { findFile, readPrefix, type ArchiveEntry } from './wal-file-read.js';
import type { PathStretch } from './wal-history.js';
import { formatLsn, segmentBefore, segmentFileName, segmentNumber, segmentOf } from './wal-names.js';
import { LONG_HEADER_BYTES, parseLongHeader } from './wal-page-header.js';
import { copyWalFile } from './wal-stage.js';

/** What the walk found. */
export interface StretchScan {
  readonly segments: number;
  readonly bytes: number;
  readonly lastSegment: string | null;
  readonly firstMissing: string | null;
  /** The `.partial` file the archive has in place of the first missing segment (a promoted-away timeline's tail). */
  readonly partialOfMissing: string | null;
  readonly firstUnreadable: { readonly segment: string; readonly problem: string } | null;
  readonly missingCount: number;
  readonly unreadableCount: number;
  readonly systemIdentifier: string | null;
}

/** What the walk needs. */
export interface StretchWalk {
  readonly dir: string;
  readonly entries: Map<string, ArchiveEntry>;
  readonly stretches: readonly PathStretch[];
  readonly segmentSize: number;
  readonly untilLsn: bigint | null;
  readonly systemIdentifier: string | null;
  readonly osUser?: OsUser | null;
  readonly signal?: AbortSignal;
  /**
   * Copy each segment checked into this directory (decompressed, under its plain name, owned by osUser) and check
   * the copy: the archive is read once. Once the walk finds a gap or an unreadable segment it only reads headers.
   */
  readonly copyInto?: string | null;
}

/** Walk the path's segments (see the module comment). */
export async function checkStretches(w: StretchWalk): Promise<StretchScan> {
  const present = presentSegments(w.entries, w.segmentSize);
  const st = { segments: 0, bytes: 0, lastSegment: null as string | null, firstMissing: null as string | null, partialOfMissing: null as string | null,
    firstUnreadable: null as { segment: string; problem: string } | null, missingCount: 0, unreadableCount: 0, systemIdentifier: w.systemIdentifier, broken: false };
  const untilSeg = w.untilLsn === null ? null : segmentBefore(w.untilLsn, w.segmentSize);
  for (let i = 0; i < w.stretches.length; i++) {
    const s = w.stretches[i]!;
    const from = segmentOf(s.begin, w.segmentSize);
    if (i > 0 && untilSeg !== null && from > untilSeg) break;
    const onTimeline = present.get(s.timeline) ?? [];
    let to = s.end !== null ? segmentOf(s.end, w.segmentSize) - 1n : untilSeg ?? (onTimeline[onTimeline.length - 1] ?? from);
    if (untilSeg !== null && untilSeg < to) to = untilSeg;
    if (i === 0 && to < from) to = from; // the start's own segment is always needed
    let expected = from;
    for (const segno of onTimeline) {
      if (segno < from) continue;
      if (segno > to) break;
      w.signal?.throwIfAborted();
      if (segno > expected) gap(st, w, s.timeline, expected, segno - expected);
      await checkOne(st, w, s.timeline, segno);
      expected = segno + 1n;
    }
    if (expected <= to) gap(st, w, s.timeline, expected, to - expected + 1n);
  }
  const { broken: _broken, ...scan } = st;
  return scan;
}

type WalkState = { -readonly [K in keyof StretchScan]: StretchScan[K] } & { broken: boolean };

function gap(st: WalkState, w: StretchWalk, timeline: number, first: bigint, count: bigint): void {
  const name = segmentFileName(timeline, first, w.segmentSize);
  if (st.firstMissing === null) {
    st.firstMissing = name;
    // The tail of the timeline recovery leaves there (renamed .partial at promotion), on any timeline.
    const partial = [...w.entries.values()].find((e) => e.parsed.kind === 'partial' && e.name.slice(8, 24) === name.slice(8));
    if (partial) st.partialOfMissing = partial.name;
  }
  st.missingCount += Number(count);
  st.broken = true;
}

async function checkOne(st: WalkState, w: StretchWalk, timeline: number, segno: bigint): Promise<void> {
  const name = segmentFileName(timeline, segno, w.segmentSize);
  const e = findFile(w.entries, name)!;
  const problem = await segmentProblem(st, w, e, segno, w.copyInto && !st.broken ? join(w.copyInto, name) : null);
  if (problem) {
    st.unreadableCount++;
    st.firstUnreadable ??= { segment: e.name, problem };
    st.broken = true;
    return;
  }
  st.segments++;
  if (!st.broken) st.lastSegment = name;
}

async function segmentProblem(st: WalkState, w: StretchWalk, e: ArchiveEntry, segno: bigint, copyTo: string | null): Promise<string | null> {
  if (e.type !== 'file') return `it is ${e.type}: ${e.type === 'a symbolic link' ? 'not followed' : 'not read'}`;
  const r = await readSegment(w, e, copyTo);
  if ('problem' in r) return r.problem;
  const h = parseLongHeader(r.bytes);
  if ('problem' in h) return h.problem;
  if (h.segmentSize !== w.segmentSize) return `its header records a segment size of ${h.segmentSize}, not ${w.segmentSize}`;
  const expectAddr = segno * BigInt(w.segmentSize);
  if (h.pageAddress !== expectAddr) return `its header says it starts at ${formatLsn(h.pageAddress)}, but its name says ${formatLsn(expectAddr)}: it is another segment renamed`;
  if (st.systemIdentifier === null) st.systemIdentifier = h.systemIdentifier;
  else if (h.systemIdentifier !== st.systemIdentifier) return `it belongs to the cluster with system identifier ${h.systemIdentifier}, not ${st.systemIdentifier}`;
  if (e.parsed.compression === null && r.fileSize !== w.segmentSize) return `it is ${r.fileSize} bytes, not ${w.segmentSize}: truncated or padded`;
  if (r.gzipSize !== undefined && r.gzipSize !== w.segmentSize % 2 ** 32) return `its gzip trailer records ${r.gzipSize} bytes, not ${w.segmentSize}: truncated`;
  if (r.size !== null && r.size !== w.segmentSize) return `it decompresses to ${r.size} bytes, not ${w.segmentSize}: truncated or padded`;
  st.bytes += r.fileSize;
  return null;
}

/** The segment's header and sizes: read in the archive, or from the copy made of it (`size`: decompressed, known then). */
async function readSegment(w: StretchWalk, e: ArchiveEntry, copyTo: string | null): Promise<{ bytes: Buffer; fileSize: number; gzipSize?: number; size: number | null } | { problem: string }> {
  if (copyTo === null) {
    const r = await readPrefix(w.dir, e.name, e.parsed.compression, LONG_HEADER_BYTES, { osUser: w.osUser, signal: w.signal });
    return 'problem' in r ? r : { ...r, size: null };
  }
  const c = await copyWalFile(join(w.dir, e.name), e.parsed.compression, copyTo, { osUser: w.osUser ?? null, headBytes: LONG_HEADER_BYTES, maxBytes: w.segmentSize, signal: w.signal });
  if ('problem' in c) return c;
  return { bytes: c.head, fileSize: c.fileSize, size: c.size, ...(c.gzipSize !== undefined ? { gzipSize: c.gzipSize } : {}) };
}

/** Per timeline, the numbers of the full segments the archive has (plain or compressed, any entry type), sorted. */
function presentSegments(entries: Map<string, ArchiveEntry>, segmentSize: number): Map<number, bigint[]> {
  const by = new Map<number, Set<bigint>>();
  for (const e of entries.values()) {
    // A name whose low half is past the last segment of its xlogid (…00000100 with 16 MiB segments) is not WAL.
    if (e.parsed.kind !== 'segment' || BigInt(e.parsed.seg) >= 0x100000000n / BigInt(segmentSize)) continue;
    const set = by.get(e.parsed.timeline) ?? new Set<bigint>();
    set.add(segmentNumber(e.parsed.log, e.parsed.seg, segmentSize));
    by.set(e.parsed.timeline, set);
  }
  const out = new Map<number, bigint[]>();
  for (const [t, set] of by) out.set(t, [...set].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  return out;
}
