/**
 * Reading restore errors out of psql's and pg_restore's stderr, keeping SQLSTATE, statement and line.
 * psql runs with VERBOSITY=verbose (so errors carry their SQLSTATE) and --echo-errors (so the failed statement follows).
 */
import type { RestoreError } from '../report/model.js';

/** psql: `psql:<stdin>:45: ERROR:  42704: role "x" does not exist`, then optional LOCATION/STATEMENT lines. */
export function parsePsqlErrors(stderr: readonly string[], phase: RestoreError['phase']): RestoreError[] {
  const out: RestoreError[] = [];
  let current: { message: string; sqlstate: string | null; line: number | null; statement: string[] } | null = null;
  const flush = () => {
    if (current) {
      out.push({
        message: current.message, sqlstate: current.sqlstate, line: current.line,
        statement: current.statement.length ? current.statement.join('\n').slice(0, 2000) : null,
        phase, classification: 'unknown', hint: null,
      });
    }
    current = null;
  };
  for (const l of stderr) {
    const m = /^psql:[^:]*:(\d+): (ERROR|FATAL|PANIC):\s+(?:([0-9A-Z]{5}): )?(.*)$/.exec(l);
    if (m) {
      flush();
      current = { message: m[4]!, sqlstate: m[3] ?? null, line: Number(m[1]), statement: [] };
      continue;
    }
    const fatal = /^psql: error: (.*)$/.exec(l);
    if (fatal) {
      flush();
      out.push({ message: fatal[1]!, sqlstate: null, line: null, statement: null, phase, classification: 'unknown', hint: null });
      continue;
    }
    if (!current) continue;
    if (/^(LOCATION|LINE \d+|DETAIL|HINT|CONTEXT):/.test(l) || /^\s*\^\s*$/.test(l)) continue;
    if (/^psql:/.test(l)) continue;
    (current as { statement: string[] }).statement.push(l.replace(/^STATEMENT:\s+/, ''));
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
        statement: cur.statement ? cur.statement.join('\n').slice(0, 2000) : null,
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
    else cur.message += ` ${l.trim()}`;
  }
  flush();
  return out;
}
