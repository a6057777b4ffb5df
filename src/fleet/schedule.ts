/**
 * When a database of a fleet is due: "daily", "hourly", "weekly", "every 6h" / "every 30m" (intervals, counted
 * from the previous due time so that drills do not drift later by their own duration), or a 5-field cron
 * expression in UTC ("0 3 * * *"; cron-parser, the parser pg-boss itself uses).
 */
import cronParser from 'cron-parser';

/** A parsed schedule; `text` is what the fleet file said. */
export type Schedule =
  | { readonly kind: 'interval'; readonly ms: number; readonly text: string }
  | { readonly kind: 'cron'; readonly expr: string; readonly text: string };

const NAMED: Readonly<Record<string, number>> = { hourly: 3_600_000, daily: 86_400_000, weekly: 7 * 86_400_000 };
const UNIT_MS: Readonly<Record<string, number>> = { m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };
/** Shortest interval: a drill more often than every minute is a mistake, and below the queue's own resolution. */
const MIN_INTERVAL_MS = 60_000;

/** Parse a schedule; null when it is none of the accepted forms (the caller says which they are). */
export function parseSchedule(text: string): Schedule | null {
  const t = text.trim().toLowerCase();
  const named = NAMED[t];
  if (named !== undefined) return { kind: 'interval', ms: named, text };
  const every = /^every\s+(\d+)\s*(m|min|h|d)$/.exec(t);
  if (every) {
    const ms = Number(every[1]) * (UNIT_MS[every[2] ?? 'h'] ?? 0);
    return ms >= MIN_INTERVAL_MS ? { kind: 'interval', ms, text } : null;
  }
  if (t.split(/\s+/).length !== 5) return null; // seconds fields and macros are refused: one unambiguous form
  try {
    cronParser.parseExpression(t, { tz: 'UTC' });
    return { kind: 'cron', expr: t, text };
  } catch {
    return null;
  }
}

/** What the fleet file may say, for messages. */
export const SCHEDULE_FORMS = '"hourly", "daily", "weekly", "every N m|h|d" (at least 1 minute), or a 5-field cron expression in UTC such as "0 3 * * *"';

/**
 * The next due time after `now`. An interval counts from `previousDue` (when there is one): due times stay on their
 * grid, and after an outage the database is due once at `now`, not once per missed period.
 */
export function nextDue(s: Schedule, now: Date, previousDue?: Date): Date {
  if (s.kind === 'cron') return cronParser.parseExpression(s.expr, { tz: 'UTC', currentDate: now }).next().toDate();
  if (!previousDue) return now;
  const next = previousDue.getTime() + s.ms;
  return new Date(Math.max(next, now.getTime()));
}

/**
 * The longest time between two due times: an interval's length; for a cron expression the longest gap between its
 * firings over the next year (at most 2,000 firings looked at: a cron firing more often than that has short gaps).
 */
export function longestGapMs(s: Schedule, from = new Date()): number {
  if (s.kind === 'interval') return s.ms;
  const it = cronParser.parseExpression(s.expr, { tz: 'UTC', currentDate: from });
  const end = from.getTime() + 366 * 86_400_000;
  let prev = it.next().toDate().getTime();
  let longest = 0;
  for (let i = 0; i < 2000 && prev < end; i++) {
    const next = it.next().toDate().getTime();
    longest = Math.max(longest, next - prev);
    prev = next;
  }
  return longest || 86_400_000;
}
