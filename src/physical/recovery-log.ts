/**
 * What the restored server's log says about its recovery: where it began and became consistent, where and why it
 * stopped, the last transaction it replayed, the new timeline, and the FATAL line when recovery failed. The proof
 * that the target was reached is read here and from the server itself (recovery-proof.ts). Whether the log gives a
 * reason of the recovery's own for the server's end (`recoveryFailure`) tells a failed recovery (a verdict on the
 * backup) from a server stopped or killed from outside (src/physical/recover.ts: an environment problem).
 */
import { killedBySigkill } from '../sandbox/stopped-from-outside.js';
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
  /**
   * The postmaster's account of its startup process's end: "startup process (PID n) was terminated by signal …" /
   * "… exited with exit code …", else "aborting startup due to startup process failure" — a crash of the recovery
   * itself (bad WAL can crash it without a FATAL line).
   */
  readonly startupEnded: string | null;
  /** "received smart|fast|immediate shutdown request": someone asked the server to stop (pg_ctl stop, SIGTERM/SIGINT/SIGQUIT). */
  readonly shutdownRequest: string | null;
  /** The postmaster's pid, from the prefix (`[%p]`) of its "starting PostgreSQL" line; null when the prefix has none. */
  readonly postmasterPid: number | null;
}

/**
 * The log's own reason for the recovery's end (its FATAL/PANIC line, or the startup process's crash); null when it
 * gives none. A startup process killed with SIGKILL ("terminated by signal 9") is no such reason: PostgreSQL never
 * sends it one it logs so — the OOM killer or an admin does (as for the restore sandbox: src/sandbox/stopped-from-outside.ts).
 */
export function recoveryFailure(log: RecoveryLog): string | null {
  return log.fatal ?? (log.startupEnded && !killedBySigkill(log.startupEnded) ? log.startupEnded : null);
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
  let startupEnded: string | null = null;
  let aborting: string | null = null;
  let shutdownRequest: string | null = null;
  let postmasterPid: number | null = null;
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
    else if (/^startup process \(PID \d+\) (was terminated by|exited with)/.test(msg)) startupEnded ??= msg;
    else if (/^(aborting startup|shutting down) due to startup process failure/.test(msg)) aborting ??= msg;
    else if (/^received (smart|fast|immediate) shutdown request/.test(msg)) shutdownRequest ??= msg;
    else if ((x = /\[(\d+)\][^\]]*\bLOG:\s+starting PostgreSQL /.exec(text))) postmasterPid = Number(x[1]);
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
  const result = (): RecoveryLog => ({
    started, redoStart, consistentAt, stopLine, redoDone, lastTransactionTime, newTimeline, restoredSegments, lastRestoredSegment, fatal,
    startupEnded: startupEnded ?? aborting, shutdownRequest, postmasterPid,
  });
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
