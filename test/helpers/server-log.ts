/**
 * Reading a source's server log (log_statement = 'all', log_line_prefix = '%m [%p] app=%a ') to see exactly what
 * reached production, and judging it read-only. The judge is deliberately independent of pgdrill's own audit rule
 * (src/source/audit.ts): it must also cover what pg_dump and pg_dumpall send, which pgdrill does not write itself.
 */
import { readFile } from 'node:fs/promises';

/** postgresql.conf settings for a source whose log records every statement with its pid and application. */
export const STATEMENT_LOG_SETTINGS: Record<string, string> = {
  log_statement: "'all'",
  log_line_prefix: "'%m [%p] app=%a '",
  // No autovacuum: an automatic ANALYZE writes (and takes a transaction id), which would blur the proof.
  autovacuum: 'off',
};

/** One statement as the server logged it. */
export interface LoggedStatement {
  readonly pid: number;
  readonly app: string;
  readonly sql: string;
}

const ENTRY = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \S+ \[(\d+)\] app=(.*?) (LOG|ERROR|FATAL|PANIC|WARNING|NOTICE|INFO|DETAIL|HINT|CONTEXT|STATEMENT|DEBUG\d?):  (.*)$/;

/** Every statement in the log (simple protocol `statement:`, extended protocol `execute <name>:`). */
export async function readStatements(logFile: string): Promise<LoggedStatement[]> {
  const out: LoggedStatement[] = [];
  let cur: { pid: number; app: string; level: string; text: string } | null = null;
  const flush = () => {
    if (cur && cur.level === 'LOG') {
      const m = /^(?:statement|execute [^:]+): ([\s\S]*)$/.exec(cur.text);
      if (m) out.push({ pid: cur.pid, app: cur.app, sql: m[1]!.trim() });
    }
    cur = null;
  };
  for (const line of (await readFile(logFile, 'utf8')).split('\n')) {
    const m = ENTRY.exec(line);
    if (m) {
      flush();
      cur = { pid: Number(m[1]), app: m[2]!, level: m[3]!, text: m[4]! };
    } else if (cur) {
      (cur as { text: string }).text += `\n${line}`;
    }
  }
  flush();
  return out;
}

/** Collapse whitespace, drop a trailing semicolon: the same statement compares equal however it was laid out. */
export function normalizeSql(sql: string): string {
  return sql.replace(/\s+/g, ' ').trim().replace(/;$/, '').trim();
}

const FIRST_WORDS = /^(SELECT|WITH|SHOW|SET|RESET|BEGIN|START TRANSACTION|COMMIT|ROLLBACK|END|LOCK|COPY|PREPARE|EXECUTE|DEALLOCATE|DECLARE|FETCH|CLOSE|SAVEPOINT|RELEASE|DISCARD)\b/i;
const WRITING_FUNCTIONS = /\b(nextval|setval|pg_terminate_backend|pg_cancel_backend|pg_reload_conf|pg_rotate_logfile|lo_import|lo_export|lo_unlink|lo_create|lo_creat|lo_put|lo_truncate|lowrite|lo_from_bytea|pg_advisory\w*lock\w*|pg_try_advisory\w*|txid_current|pg_current_xact_id|pg_create_\w+|pg_drop_\w+|pg_switch_wal|pg_stat_reset\w*|pg_file_write|dblink\w*|pg_replication_origin_\w+)\s*\(/i;

/** Why a logged statement is not read-only, or null when it is. */
export function whyNotReadOnlyLogged(sql: string): string | null {
  const s = normalizeSql(sql);
  // String literals cannot make a statement write; their contents must not make it look like one either.
  const bare = s.replace(/'(?:[^']|'')*'/g, "''");
  if (!FIRST_WORDS.test(bare)) return `not a read-only kind of statement: ${s.slice(0, 100)}`;
  if (/^LOCK\b/i.test(bare) && !/\bIN ACCESS SHARE MODE$/i.test(bare)) return `a lock stronger than ACCESS SHARE: ${s}`;
  if (/^COPY\b/i.test(bare) && !/\bTO stdout$/i.test(bare)) return `COPY that is not COPY … TO stdout: ${s.slice(0, 100)}`;
  if (/\b(INSERT\s+INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM|MERGE\s+INTO|TRUNCATE)\b/i.test(bare)) return `data-modifying: ${s.slice(0, 100)}`;
  if (/read[ _]write/i.test(s)) return `switches to read-write: ${s}`;
  if (/transaction_read_only'?\s*(=|TO|,)\s*'?(off|false|0)\b/i.test(s)) return `turns read-only off: ${s}`;
  if (/^SET\s+(SESSION\s+)?(ROLE|AUTHORIZATION)\b|^SET\s+SESSION\s+AUTHORIZATION\b/i.test(bare)) return `changes identity: ${s}`;
  if (/set_config\s*\(\s*'(default_transaction_read_only|transaction_read_only|session_replication_role|role|session_authorization)'/i.test(s)) {
    return `set_config of a write-related setting: ${s}`;
  }
  const f = WRITING_FUNCTIONS.exec(bare);
  if (f) return `calls ${f[1]}(), which changes state`;
  if (/\bFOR\s+(UPDATE|NO\s+KEY\s+UPDATE|SHARE|KEY\s+SHARE)\b/i.test(bare)) return 'takes row locks';
  return null;
}

/**
 * Run `f` and return what it returned with the connections a server (started with log_connections = on) logged
 * meanwhile: the egress tests' witness that a restored copy never reached another server.
 */
export async function connectionsDuring<T>(logFile: string, f: () => Promise<T>): Promise<{ result: T; connections: string[] }> {
  const start = (await readFile(logFile, 'utf8')).length;
  const result = await f();
  const log = (await readFile(logFile, 'utf8')).slice(start);
  return { result, connections: log.split('\n').filter((l) => /connection (received|authorized)/.test(l)) };
}
