/**
 * Timeline history files (`00000002.history`): each line `parentTLI<TAB>switchpoint<TAB>reason` names an ancestor
 * timeline and the LSN where its child branched off. The history file of timeline T lists all of T's ancestors, so
 * recovery to T reads that one file (readTimeLineHistory in PostgreSQL's timeline.c, whose rules this parser
 * follows: blank and `#` lines skipped, timeline ids strictly increasing).
 */
import { formatLsn, isLsn, parseLsn } from './wal-names.js';

/** One ancestor of a timeline: `timeline` was left for its child at `switchpoint` (the child begins there). */
export interface TimelineSwitch {
  readonly timeline: number;
  readonly switchpoint: bigint;
}

/**
 * Parse the text of a history file. Returns the ancestors oldest first, or why the text is not a history file
 * (the line is named).
 */
export function parseTimelineHistory(text: string): { switches: TimelineSwitch[] } | { problem: string } {
  const switches: TimelineSwitch[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\d{1,10})\s+([0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8})(?:\s|$)/.exec(line);
    if (!m || !isLsn(m[2]!)) return { problem: `line ${i + 1} is not "timeline<TAB>switchpoint<TAB>reason": ${JSON.stringify(line.slice(0, 80))}` };
    const timeline = Number(m[1]);
    const prev = switches[switches.length - 1];
    if (timeline < 1 || timeline > 0xffffffff) return { problem: `line ${i + 1}: timeline ${m[1]} is out of range` };
    if (prev && timeline <= prev.timeline) return { problem: `line ${i + 1}: timeline ${timeline} does not follow ${prev.timeline} (ids must increase)` };
    const switchpoint = parseLsn(m[2]!);
    if (prev && switchpoint < prev.switchpoint) return { problem: `line ${i + 1}: switchpoint ${m[2]} is before the previous one` };
    switches.push({ timeline, switchpoint });
  }
  return { switches };
}

/** A stretch of a timeline path: WAL from `begin` (inclusive) up to `end` (exclusive; null: open-ended) is read on `timeline`. */
export interface PathStretch {
  readonly timeline: number;
  readonly begin: bigint;
  readonly end: bigint | null;
}

/**
 * The path recovery follows from a backup that starts on `startTimeline` at `startLsn` to `target`, whose history
 * is `switches` (empty when the target is the start timeline). Returns the stretches from the start on, or why the
 * target cannot be reached from the start (the start's timeline is not an ancestor, or it branched off before the
 * backup started).
 */
export function timelinePath(startTimeline: number, startLsn: bigint, target: number, switches: readonly TimelineSwitch[]): { stretches: PathStretch[] } | { problem: string } {
  const all: PathStretch[] = [];
  let begin = 0n;
  for (const s of switches) {
    all.push({ timeline: s.timeline, begin, end: s.switchpoint });
    begin = s.switchpoint;
  }
  all.push({ timeline: target, begin, end: null });
  const at = all.findIndex((s) => s.timeline === startTimeline);
  if (at < 0) {
    return { problem: `timeline ${target} does not descend from the backup's timeline ${startTimeline} (its history: ${all.map((s) => s.timeline).join(' → ')})` };
  }
  const first = all[at]!;
  if (first.end !== null && startLsn >= first.end) {
    return { problem: `timeline ${all[at + 1]!.timeline} branched off timeline ${startTimeline} at ${formatLsn(first.end)}, before the backup's start ${formatLsn(startLsn)}: it cannot be reached from this backup` };
  }
  return { stretches: [{ ...first, begin: startLsn }, ...all.slice(at + 1)] };
}
