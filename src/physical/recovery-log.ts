/**
 * What the restored server's log says about its recovery: where it began and became consistent, where and why it
 * stopped, the last transaction it replayed, the new timeline, and the FATAL line when recovery failed. The proof
 * that the target was reached is read here and from the server itself (recovery-proof.ts).
 */
import { forEachForeignLine } from '../exec/input-file.js';

/** The recovery's account in the server log. */
export interface RecoveryLog {
  /** "starting point-in-time recovery to …" / "starting archive recovery": the target as the server understood it. */
  readonly started: string | null;
  readonly redoStart: string | null;
  /** "consistent recovery state reached at LSN". */
  readonly consistentAt: string | null;
  /** "recovery stopping …" (the target reached), verbatim after the prefix. */
  readonly stopLine: string | null;
  /** "redo done at LSN". */
  readonly redoDone: string | null;
  /** "last completed transaction was at log time T". */
  readonly lastTransactionTime: string | null;
  /** "selected new timeline ID: N". */
  readonly newTimeline: number | null;
  /** Segments the server restored from the archive ("restored log file … from archive"). */
  readonly restoredSegments: number;
  readonly lastRestoredSegment: string | null;
  /** The first FATAL or PANIC line, when recovery failed. */
  readonly fatal: string | null;
}

const LSN = '([0-9A-F]+/[0-9A-F]+)';

/** A parser fed the log one line at a time (a recovery's log has a line per restored segment: it is streamed). */
export function recoveryLogParser(): { line: (line: string) => void; result: () => RecoveryLog } {
  let started: string | null = null;
  let redoStart: string | null = null;
  let consistentAt: string | null = null;
  let stopLine: string | null = null;
  let redoDone: string | null = null;
  let lastTransactionTime: string | null = null;
  let newTimeline: number | null = null;
  let restoredSegments = 0;
  let lastRestoredSegment: string | null = null;
  let fatal: string | null = null;
  const line = (text: string): void => {
    const m = /\b(LOG|FATAL|PANIC):\s+(.*)$/.exec(text);
    if (!m) return;
    const [, level, msg] = m as unknown as [string, string, string];
    if (level !== 'LOG') {
      // pgdrill's own connection attempts while the server recovers are refused with FATAL: not recovery's.
      if (!/^the database system is (starting up|not (yet )?accepting connections|in recovery mode|shutting down)/.test(msg)) fatal ??= `${level}: ${msg}`;
      return;
    }
    let x: RegExpExecArray | null;
    if (/^starting (point-in-time|archive) recovery/.test(msg)) started = msg;
    else if ((x = new RegExp(`^redo starts at ${LSN}`).exec(msg))) redoStart = x[1]!;
    else if ((x = new RegExp(`^consistent recovery state reached at ${LSN}`).exec(msg))) consistentAt = x[1]!;
    else if (/^recovery stopping /.test(msg)) stopLine = msg;
    else if ((x = new RegExp(`^redo done at ${LSN}`).exec(msg))) redoDone = x[1]!;
    else if ((x = /^last completed transaction was at log time (.+)$/.exec(msg))) lastTransactionTime = x[1]!;
    else if ((x = /^selected new timeline ID: (\d+)/.exec(msg))) newTimeline = Number(x[1]);
    else if ((x = /^restored log file "([0-9A-F]{24})" from archive/.exec(msg))) {
      restoredSegments++;
      lastRestoredSegment = x[1]!;
    }
  };
  const result = (): RecoveryLog => ({ started, redoStart, consistentAt, stopLine, redoDone, lastTransactionTime, newTimeline, restoredSegments, lastRestoredSegment, fatal });
  return { line, result };
}

/** Parse the server log's text (the whole log of one start, or a log tail in an error). */
export function parseRecoveryLog(text: string): RecoveryLog {
  const p = recoveryLogParser();
  for (const l of text.split('\n')) p.line(l);
  return p.result();
}

/**
 * Read and parse the sandbox server's log. It lies in a directory the sandbox's OS user owns: read as
 * `forEachForeignLine` reads (no link followed, no FIFO waited on, only a file of `owners`, streamed up to the size
 * it had when opened); a log that is not such a file parses as an empty one.
 */
export async function readRecoveryLog(path: string, owners: readonly number[]): Promise<RecoveryLog> {
  const p = recoveryLogParser();
  await forEachForeignLine(path, owners, p.line);
  return p.result();
}
