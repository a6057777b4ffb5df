/**
 * The statement that failed, as the sandbox server logged it. The server logs every error with the statement it
 * was executing (`log_min_error_statement`, `error` by default) to the sandbox's log (`pg_ctl -l`, stderr format,
 * `%m [%p] %e ` prefix), each line of a multi-line statement continued with a tab: the exact text the server received,
 * whatever psql or pg_restore printed around it (psql's next output line, a notice, an internal query's `QUERY:`).
 * So the restore's errors are matched, in order and by message, with the errors the server logged since the
 * restore began, and take the logged statement when there is one.
 *
 * The log is written by the sandbox's OS user: it is opened without following a link, must be a regular file, and
 * only its ERROR/STATEMENT records whose message equals one the restore client reported are used.
 */
import { createReadStream } from 'node:fs';
import { lstatSync } from 'node:fs';
import { openNoFollow } from '../exec/input-file.js';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream';
import { decodingStream } from '../pg/server-bytes.js';
import type { RestoreError } from '../report/model.js';

/** One error the server logged, with the statement it was executing (null when it logged none). */
export interface LoggedError {
  readonly pid: number;
  /** From the log line's `%e` (the restore sandbox logs it: restoreSandboxSettings); null without. */
  readonly sqlstate: string | null;
  readonly message: string;
  readonly statement: string | null;
}

/** Where the log ends now (0 when it is missing or not a regular file): read from there after the restore. Synchronous: taken before the client starts. */
export function logOffset(logFile: string): number {
  const st = lstatSync(logFile, { throwIfNoEntry: false });
  return st?.isFile() ? st.size : 0;
}

/** Lines kept of one logged statement (the report shows its start; a dump's statement can be megabytes). */
const MAX_STATEMENT_LINES = 2000;

/** `%m [%p] ` (PostgreSQL's default prefix), then the SQLSTATE when the restore sandbox's `%e` adds it. */
const RECORD = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[(\d+)\] (?:([0-9A-Z]{5}) )?([A-Z]+):  (.*)$/;

/** The ERROR/FATAL records logged from byte `from` on, each with its STATEMENT. Missing or unsafe log: none. */
export async function readLoggedErrors(logFile: string, from: number, owners?: readonly number[]): Promise<LoggedError[]> {
  // The log lies in a directory the sandbox's OS user owns: a link or a FIFO planted there is never followed or waited on.
  const opened = await openNoFollow(logFile);
  if ('problem' in opened) return [];
  const { fh } = opened;
  // A hard link to a root-only file (where the kernel allows one) is not the server's log: its owner is not the server's user.
  // Read up to the size it has now: a log its owner keeps appending to is not read forever.
  if ((owners && !owners.includes(opened.stat.uid)) || opened.stat.size <= from) {
    await fh.close();
    return [];
  }
  const out: { pid: number; sqlstate: string | null; message: string; statement: string | null }[] = [];
  try {
    // Decoded as psql's messages are (src/exec/run-process.ts), so that a message quoting a SQL_ASCII name matches
    const input = pipeline(createReadStream('', { fd: fh.fd, start: from, end: opened.stat.size - 1, autoClose: false }), decodingStream(), () => {});
    const lines = createInterface({ input, crlfDelay: Infinity });
    let last: { pid: number; sqlstate: string | null; message: string; statement: string | null } | null = null;
    let field: { kind: string; text: string[] } | null = null; // the record that tab-continued lines extend
    const close = () => {
      if (field?.kind === 'STATEMENT' && last) last.statement = field.text.join('\n');
      field = null;
    };
    for await (const line of lines) {
      if (line.startsWith('\t') && field) {
        if (field.text.length < MAX_STATEMENT_LINES) field.text.push(line.slice(1));
        continue;
      }
      close();
      const m = RECORD.exec(line);
      if (!m) continue;
      const pid = m[1]!;
      const kind = m[3]!;
      const text = m[4]!;
      if (kind === 'ERROR' || kind === 'FATAL') out.push((last = { pid: Number(pid), sqlstate: m[2] ?? null, message: text.replace(/ at character \d+$/, ''), statement: null }));
      else if (kind === 'STATEMENT' && (last?.pid !== Number(pid) || last.statement !== null)) continue; // not the last error's
      field = { kind, text: [text] };
    }
    close();
  } finally {
    await fh.close();
  }
  return out;
}

/**
 * Give each error the statement the server logged with it: errors and logged errors are walked in order, an error
 * taking the next logged one with the same message (the server's message is the client's, less the SQLSTATE
 * prefix and ` at character N`). Errors without a match keep what the client printed.
 */
export function attachLoggedStatements(errors: readonly RestoreError[], logged: readonly LoggedError[]): RestoreError[] {
  let i = 0;
  return errors.map((e) => {
    for (let j = i; j < logged.length; j++) {
      const l = logged[j]!;
      if (l.message !== e.message && !e.message.endsWith(l.message)) continue;
      i = j + 1;
      // pg_restore prints no SQLSTATE (it cannot be made verbose): the server's log has it.
      return { ...e, sqlstate: e.sqlstate ?? l.sqlstate, statement: l.statement ? l.statement.trimEnd() : e.statement };
    }
    return e;
  });
}
