/**
 * WAL archive continuity: before a physical backup is restored, prove that the archive holds every file recovery
 * will ask for — every segment from the backup's start to the target, on the timelines recovery follows, and every
 * history file that path needs — and that each is readable (its long page header decompresses and says it is that
 * segment, of the right size, of the same cluster). A gap is found here, named, before recovery starts: recovery
 * itself would just stop at the gap and promote, silently short of the target.
 *
 * The archive directory is hostile input (see wal-file-read.ts): nothing in it is followed or trusted by name alone.
 */
import { lstat } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import { resolveInputPath } from '../exec/input-file.js';
import type { OsUser } from '../exec/os-user.js';
import { findFile, listArchive, readPrefix, type ArchiveEntry } from './wal-file-read.js';
import { parseTimelineHistory, timelinePath, type PathStretch, type TimelineSwitch } from './wal-history.js';
import { DEFAULT_SEGMENT_SIZE, formatLsn, historyFileName, isLsn, isValidSegmentSize, parseLsn, parseWalFileName, segmentFileName, segmentNumber } from './wal-names.js';
import type { StretchScan } from './wal-segments.js';
import type { StagedWal } from './wal-stage.js';
import { scanAndStage, type WalStaging } from './wal-checked-copy.js';
import { parseLongHeader, LONG_HEADER_BYTES } from './wal-page-header.js';
import { walEndEvidence, type WalEndEvidence } from './wal-end-evidence.js';

/** A position in WAL: a timeline and an LSN ('0/3000028'). */
export interface WalPosition {
  readonly timeline: number;
  readonly lsn: string;
}

/** What the archive holds for a recovery from `start` to the target. */
export interface WalContinuity {
  readonly ok: boolean;
  /** The first segment recovery needs that the archive lacks (e.g. '000000010000000000000005'); null: none. */
  readonly firstMissing: string | null;
  /** The first history file the timeline path needs that the archive lacks (e.g. '00000002.history'). */
  readonly missingHistory: string | null;
  /** Segments on the path found readable, and their bytes on disk (compressed size for compressed files). */
  readonly segments: number;
  readonly bytes: number;
  /** The last segment of the unbroken run from the start along the path. */
  readonly lastSegment: string | null;
  /** Timelines followed from the start to the target timeline. */
  readonly timelinePath: number[];
  /** One line for a check's detail. */
  readonly detail: string;
  /** The first segment present but unreadable (wrong size, not WAL, another cluster's, a link…), and why. */
  readonly firstUnreadable: { readonly segment: string; readonly problem: string } | null;
  /** Segments missing and unreadable on the path, in all. */
  readonly missingCount: number;
  readonly unreadableCount: number;
  /** The segment size used (given, or read from a segment's header). */
  readonly segmentSize: number;
  /** The target timeline resolved ('latest' → a number). */
  readonly targetTimeline: number;
  /** The system identifier the segments' headers carry (null: no segment read). */
  readonly systemIdentifier: string | null;
  /** Observations that do not fail the check (e.g. an archive directory anyone can write). */
  readonly warnings: string[];
  /** With `stage`, when the check passed: the checked copy recovery reads (see wal-stage.ts); else null or absent. */
  readonly staged?: StagedWal | null;
  /**
   * Recovering to the archive's end (no `untilLsn`) and the path whole: where its WAL ends (the end of `lastSegment`),
   * and the furthest LSN on that timeline the archive's backup and timeline history files name (wal-end-evidence.ts).
   * `short`: that LSN lies past the end — segments are missing after `lastSegment`. Else null.
   */
  readonly end?: { readonly lsn: string; readonly evidence: WalEndEvidence | null; readonly short: boolean } | null;
}


/** What `checkWalContinuity` checks. */
export interface WalContinuityOptions {
  /** The archive directory (as `archive_command = 'cp %p DIR/%f'` fills it). */
  readonly walDir: string;
  /** Where the backup starts: its timeline and start (redo) LSN. */
  readonly start: WalPosition;
  /** The timeline to recover to; default 'latest' (PostgreSQL's default since 12). */
  readonly targetTimeline?: number | 'latest';
  /** Segments are required up to the one holding the byte before this LSN; default: to the last on the path. */
  readonly untilLsn?: string;
  readonly signal?: AbortSignal;
  /** The segment size (wal_segment_size in bytes); default: read from the first segment's header, else 16 MiB. */
  readonly segmentSize?: number;
  /** The backup's system identifier: a segment of another cluster is unreadable. Default: the first segment's. */
  readonly systemIdentifier?: string;
  /** Decompress zstd/lz4/bzip2/xz files as this OS user (the sandbox's); default: the user running pgdrill. */
  readonly osUser?: OsUser | null;
  /** Leave the checked WAL for recovery (see WalStaging). Default: only check. */
  readonly stage?: WalStaging;
}

/**
 * Check that the archive `walDir` lets recovery go from `start` to the target (see the module comment).
 * @throws ConfigError (exit 2) when walDir is not a directory, or an LSN or timeline given is malformed.
 */
export async function checkWalContinuity(opts: WalContinuityOptions): Promise<WalContinuity> {
  if (!isLsn(opts.start.lsn)) throw new ConfigError(`the backup's start LSN ${JSON.stringify(opts.start.lsn)} is not an LSN (like 0/3000028)`);
  if (opts.untilLsn !== undefined && !isLsn(opts.untilLsn)) throw new ConfigError(`${JSON.stringify(opts.untilLsn)} is not an LSN (like 0/3000028)`);
  if (!Number.isInteger(opts.start.timeline) || opts.start.timeline < 1) throw new ConfigError(`timeline ${opts.start.timeline} is not a timeline id (1 or more)`);
  const dir = await resolveArchiveDir(opts.walDir);
  const { entries } = await listArchive(dir, opts.signal);
  const segmentSize = opts.segmentSize ?? (await inferSegmentSize(dir, entries, opts));
  if (!isValidSegmentSize(segmentSize)) throw new ConfigError(`WAL segment size ${segmentSize} is not a power of two from 1 MiB to 1 GiB`);
  const startLsn = parseLsn(opts.start.lsn);
  const target = opts.targetTimeline === undefined || opts.targetTimeline === 'latest' ? latestTimeline(entries, opts.start.timeline) : opts.targetTimeline;
  const base = { segmentSize, targetTimeline: target, warnings: await dirWarnings(dir) };
  const history = await historyOf(dir, entries, target, opts);
  if ('missing' in history || 'problem' in history) {
    const missingHistory = 'missing' in history ? history.missing : null;
    const detail = 'missing' in history
      ? `history file ${history.missing} is missing from ${dir}: recovery cannot follow timeline ${opts.start.timeline} to timeline ${target}`
      : history.problem;
    return { ...base, ...emptyScan(), ok: false, firstMissing: null, missingHistory, timelinePath: [opts.start.timeline, target], detail, systemIdentifier: null };
  }
  const path = timelinePath(opts.start.timeline, startLsn, target, history.switches);
  if ('problem' in path) return { ...base, ...emptyScan(), ok: false, firstMissing: null, missingHistory: null, timelinePath: [opts.start.timeline, target], detail: path.problem, systemIdentifier: null };
  const timelines = path.stretches.map((s) => s.timeline);
  const missingHistory = opts.targetTimeline === 'latest' || opts.targetTimeline === undefined ? firstMissingProbe(entries, opts.start.timeline, target) : null;
  const walk = { dir, entries, stretches: path.stretches, segmentSize, untilLsn: opts.untilLsn === undefined ? null : parseLsn(opts.untilLsn), systemIdentifier: opts.systemIdentifier ?? null, osUser: opts.osUser, signal: opts.signal };
  const { scan, staged } = await scanAndStage(walk, opts.stage ?? null, (s) => missingHistory === null && s.firstMissing === null && s.firstUnreadable === null);
  const ok = missingHistory === null && scan.firstMissing === null && scan.firstUnreadable === null;
  const end = ok && walk.untilLsn === null && scan.lastSegment ? await archiveEnd(dir, entries, scan.lastSegment, timelines[timelines.length - 1]!, segmentSize, opts) : null;
  return { ...base, ...scan, ok, missingHistory, timelinePath: timelines, detail: describe(dir, scan, timelines, missingHistory, target) + describeEnd(scan, end), end, ...(opts.stage ? { staged } : {}) };
}

/** Where the archive's WAL ends on `timeline` (the end of `lastSegment`), and what its history files say (see WalContinuity.end). */
async function archiveEnd(dir: string, entries: Map<string, ArchiveEntry>, lastSegment: string, timeline: number, segmentSize: number, opts: WalContinuityOptions): Promise<NonNullable<WalContinuity['end']>> {
  const f = parseWalFileName(lastSegment);
  const endLsn = f && f.kind === 'segment' ? (segmentNumber(f.log, f.seg, segmentSize) + 1n) * BigInt(segmentSize) : 0n;
  const evidence = await walEndEvidence(dir, entries, timeline, { osUser: opts.osUser, signal: opts.signal });
  return { lsn: formatLsn(endLsn), evidence, short: evidence !== null && parseLsn(evidence.lsn) > endLsn };
}

/** The end of the archive in words: missing segments a history file shows, or that nothing shows more was expected. */
function describeEnd(scan: StretchScan, end: WalContinuity['end']): string {
  if (!end) return '';
  const ev = end.evidence;
  if (ev && end.short) return `; but ${ev.file}, ${ev.what}, names ${ev.lsn}, past the archive's end at ${end.lsn}: segments after ${scan.lastSegment} are missing (deleted, or not archived yet), and recovery can replay no further than ${end.lsn}`;
  return `; the archive ends at ${end.lsn}, and nothing in it shows more was expected${ev ? ` (the furthest LSN its backup and timeline history files name on that timeline is ${ev.lsn}, in ${ev.file})` : ' (no backup or timeline history file names a later LSN on that timeline)'} — segments deleted from the end would not show`;
}

async function resolveArchiveDir(walDir: string): Promise<string> {
  const p = await resolveInputPath(walDir, 'the WAL archive', { allowDirectory: true });
  if (!p.isDirectory) throw new ConfigError(`the WAL archive ${walDir} is a file, not a directory: give the directory archive_command copies segments into`);
  return p.path;
}

async function dirWarnings(dir: string): Promise<string[]> {
  const st = await lstat(dir);
  if ((st.mode & 0o002) !== 0 && (st.mode & 0o1000) === 0) return [`the WAL archive ${dir} is writable by every user (mode ${(st.mode & 0o777).toString(8)}): anyone could have planted its segments`];
  return [];
}

/** The newest timeline the archive shows at or after `start` (history files and segments, `.partial` included). */
function latestTimeline(entries: Map<string, ArchiveEntry>, start: number): number {
  let latest = start;
  for (const e of entries.values()) if (e.parsed.kind !== 'backup' && e.parsed.timeline > latest) latest = e.parsed.timeline;
  return latest;
}

/**
 * For recovery_target_timeline = latest, PostgreSQL finds the newest timeline by probing history files one after
 * another from the backup's timeline (findNewestTimeLine): the first one missing ends the probe, and recovery stays
 * on an older timeline without a word. So every history file between the start and the newest one is needed.
 */
function firstMissingProbe(entries: Map<string, ArchiveEntry>, start: number, target: number): string | null {
  for (let t = start + 1; t <= target; t++) if (!findFile(entries, historyFileName(t))) return historyFileName(t);
  return null;
}

async function historyOf(dir: string, entries: Map<string, ArchiveEntry>, target: number, opts: WalContinuityOptions): Promise<{ switches: TimelineSwitch[] } | { missing: string } | { problem: string }> {
  if (target === opts.start.timeline) return { switches: [] };
  const name = historyFileName(target);
  const e = findFile(entries, name);
  if (!e) return { missing: name };
  if (e.type !== 'file') return { problem: `history file ${e.name} in ${dir} is ${e.type}: not followed, so timeline ${target} cannot be reached` };
  const r = await readPrefix(dir, e.name, e.parsed.compression, 1 << 20, { osUser: opts.osUser, signal: opts.signal });
  if ('problem' in r) return { problem: `history file ${e.name} in ${dir} cannot be read: ${r.problem}` };
  if (!r.complete) return { problem: `history file ${e.name} in ${dir} is larger than 1 MiB: not a history file` };
  const parsed = parseTimelineHistory(r.bytes.toString('utf8'));
  return 'problem' in parsed ? { problem: `history file ${e.name} in ${dir}: ${parsed.problem}` } : parsed;
}

/** The segment size from the header of the first segment file in the archive (by name); 16 MiB when there is none. */
async function inferSegmentSize(dir: string, entries: Map<string, ArchiveEntry>, opts: WalContinuityOptions): Promise<number> {
  const first = [...entries.values()].filter((e) => e.parsed.kind === 'segment' && e.type === 'file').sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of first.slice(0, 3)) {
    const r = await readPrefix(dir, e.name, e.parsed.compression, LONG_HEADER_BYTES, { osUser: opts.osUser, signal: opts.signal });
    if ('problem' in r) continue;
    const h = parseLongHeader(r.bytes);
    if (!('problem' in h) && isValidSegmentSize(h.segmentSize)) return h.segmentSize;
  }
  return DEFAULT_SEGMENT_SIZE;
}

function emptyScan(): Omit<StretchScan, 'firstMissing' | 'systemIdentifier'> {
  return { partialOfMissing: null, segments: 0, bytes: 0, lastSegment: null, firstUnreadable: null, missingCount: 0, unreadableCount: 0 };
}

function describe(dir: string, scan: StretchScan, timelines: number[], missingHistory: string | null, target: number): string {
  const tl = timelines.length > 1 ? `timelines ${timelines.join(' → ')}` : `timeline ${timelines[0]}`;
  const problems: string[] = [];
  if (missingHistory) {
    problems.push(`history file ${missingHistory} is missing: recovery to latest probes history files in order and would stop before timeline ${target}`);
  }
  if (scan.firstMissing) {
    const more = scan.missingCount > 1 ? ` (${scan.missingCount} missing in all)` : '';
    problems.push(`segment ${scan.firstMissing} is missing${more}: recovery would stop ${scan.lastSegment ? `after ${scan.lastSegment}` : 'at the start'}${scan.partialOfMissing ? ` (only ${scan.partialOfMissing} is there, which recovery never restores)` : ''}`);
  }
  if (scan.firstUnreadable) {
    problems.push(`segment ${scan.firstUnreadable.segment} is unreadable: ${scan.firstUnreadable.problem}${scan.unreadableCount > 1 ? ` (${scan.unreadableCount} unreadable in all)` : ''}`);
  }
  const mib = (scan.bytes / (1 << 20)).toFixed(1);
  const span = `${scan.segments} segment${scan.segments === 1 ? '' : 's'} (${mib} MiB) on ${tl}${scan.lastSegment ? ` up to ${scan.lastSegment}` : ''}`;
  return problems.length ? `${problems.join('; ')} — in ${dir}; ${span} readable` : `${span}, every one present and readable in ${dir}`;
}

export type { PathStretch, WalStaging };
export { segmentFileName };
