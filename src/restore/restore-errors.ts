/**
 * Reading restore errors out of psql's and pg_restore's stderr, keeping SQLSTATE, statement and line.
 * psql runs with VERBOSITY=verbose (so errors carry their SQLSTATE) and --echo-errors (so the failed statement follows).
 */
import type { RestoreError } from '../report/model.js';
import { boundText, REPORT_DETAIL_MAX } from '../report/bounded-text.js';

/** Characters kept of a statement a client printed (the report shows less: see `boundStatement`). */
const MAX_PARSED_STATEMENT = 65536;

/**
 * psql: `psql:<stdin>:45: ERROR:  42704: role "x" does not exist`, then DETAIL/HINT/QUERY/CONTEXT/LOCATION lines and
 * (--echo-errors) `psql:<stdin>:45: STATEMENT:  …` with the statement's further lines unprefixed. An internal
 * query's `QUERY:` line is not the statement. What psql prints after a multi-line statement cannot always be told
 * from it (a notice without prefix): the server log's statement is preferred (src/restore/server-log-errors.ts).
 */
export function parsePsqlErrors(stderr: readonly string[], phase: RestoreError['phase']): RestoreError[] {
  const out: RestoreError[] = [];
  let current: { message: string; sqlstate: string | null; line: number | null; statement: string[]; inStatement: boolean } | null = null;
  const flush = () => {
    if (current) {
      out.push({
        message: current.message, sqlstate: current.sqlstate, line: current.line,
        statement: current.statement.length ? current.statement.join('\n').replace(/\n+$/, '').slice(0, MAX_PARSED_STATEMENT) : null,
        phase, classification: 'unknown', hint: null,
      });
    }
    current = null;
  };
  for (const l of stderr) {
    const m = /^psql:[^:]*:(\d+): (ERROR|FATAL|PANIC):\s+(?:([0-9A-Z]{5}): )?(.*)$/.exec(l);
    if (m) {
      flush();
      current = { message: m[4]!, sqlstate: m[3] ?? null, line: Number(m[1]), statement: [], inStatement: false };
      continue;
    }
    const echoed = /^psql:[^:]*:\d+: STATEMENT:\s+(.*)$/.exec(l);
    if (echoed && current) {
      current.statement = [echoed[1]!];
      current.inStatement = true;
      continue;
    }
    const fatal = /^psql: error: (.*)$/.exec(l);
    if (fatal) {
      flush();
      out.push({ message: fatal[1]!, sqlstate: null, line: null, statement: null, phase, classification: 'unknown', hint: null });
      continue;
    }
    if (!current) continue;
    if (current.inStatement) {
      // psql's next own line, or a notice the server sent after the error: the statement ended.
      if (/^psql:/.test(l) || /^(WARNING|NOTICE|INFO|LOG|ERROR|FATAL):  /.test(l)) current.inStatement = false;
      else if (current.statement.length < 10_000) current.statement.push(l);
      continue;
    }
    // Everything else (LOCATION, LINE n, DETAIL, HINT, CONTEXT, QUERY, SCHEMA/TABLE/COLUMN/CONSTRAINT NAME, a
    // notice, the caret) describes the error; only a STATEMENT line (psql before the prefix) starts the statement.
    const bare = /^STATEMENT:\s+(.*)$/.exec(l);
    if (bare) {
      current.statement = [bare[1]!];
      current.inStatement = true;
    }
  }
  flush();
  return out;
}

/** pg_restore: `pg_restore: error: could not execute query: ERROR:  role "x" does not exist` + `Command was: …`. */
export function parsePgRestoreErrors(stderr: readonly string[]): RestoreError[] {
  const out: RestoreError[] = [];
  let cur: { message: string; statement: string[] | null } | null = null;
  const flush = () => {
    if (cur) {
      const m = /ERROR:\s+(?:([0-9A-Z]{5}): )?(.*)$/.exec(cur.message);
      out.push({
        message: m ? m[2]! : cur.message, sqlstate: m?.[1] ?? null, line: null,
        statement: cur.statement ? cur.statement.join('\n').trimEnd().slice(0, MAX_PARSED_STATEMENT) : null,
        phase: 'dump', classification: 'unknown', hint: null,
      });
    }
    cur = null;
  };
  for (const l of stderr) {
    const e = /^pg_restore: error: (.*)$/.exec(l);
    if (e) {
      flush();
      cur = { message: e[1]!, statement: null };
      continue;
    }
    if (/^pg_restore: (warning|detail|hint): errors ignored on restore/.test(l)) continue;
    if (!cur) continue;
    const cmd = /^Command was: (.*)$/.exec(l);
    if (cmd) {
      cur.statement = [cmd[1]!];
      continue;
    }
    if (/^pg_restore: /.test(l)) {
      flush();
      continue;
    }
    if (cur.statement) cur.statement.push(l);
    // LINE n, the caret, QUERY/CONTEXT/DETAIL/HINT/LOCATION and the NAME lines describe the error; other lines continue its message.
    else if (!/^(LOCATION|LINE \d+|DETAIL|HINT|CONTEXT|QUERY|[A-Z]+(?: [A-Z]+)* NAME):/.test(l) && !/^\s*\^\s*$/.test(l)) cur.message += ` ${l.trim()}`;
  }
  flush();
  return out;
}

/**
 * The error as a report shows it: message and statement bounded (src/report/bounded-text.ts), the whole text in
 * run.log. A hostile dump chooses what its restore raises, so reports never carry it unbounded.
 */
export function boundStatement(e: RestoreError): RestoreError {
  return { ...e, message: boundText(e.message), statement: e.statement === null ? null : boundText(e.statement, REPORT_DETAIL_MAX) };
}
