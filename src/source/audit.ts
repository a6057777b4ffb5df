/**
 * The audit of what pgdrill sent to the source, and the rule that judges it read-only. pgdrill's own SQL is a
 * fixed set of catalog SELECTs and transaction control; anything else in the audit is a defect the check reports.
 */
import type { AuditEntry } from '../pg/client.js';

const READ_ONLY_STATEMENT = [
  /^BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY$/i,
  /^(COMMIT|ROLLBACK)$/i,
  // Fidelity capture isolates each step in a savepoint, so a failing step cannot abort the snapshot's transaction.
  /^(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT) pgdrill_\w+$/i,
  /^SHOW \w+$/i,
  // A session made read-only after login (a source whose login event trigger writes: login.ts); only ever on.
  /^SET default_transaction_read_only *(=|TO) *'?on'?$/i,
  /^SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY$/i,
  // The catalog is read through a cursor, a batch at a time (the DECLARE's query is judged below like any SELECT).
  /^FETCH FORWARD \d+ FROM pgdrill_\w+$/i,
  /^CLOSE pgdrill_\w+$/i,
  /^SET (LOCAL )?(statement_timeout|lock_timeout|idle_in_transaction_session_timeout|max_parallel_workers_per_gather|jit|application_name|search_path|TimeZone|extra_float_digits|bytea_output|DateStyle|IntervalStyle|client_encoding|quote_all_identifiers|standard_conforming_strings) *(=|TO) *[\w'",. -]*$/i,
];

/** Functions that change state even inside a SELECT. */
const WRITING_FUNCTIONS = /\b(nextval|setval|set_config|pg_terminate_backend|pg_cancel_backend|pg_reload_conf|pg_rotate_logfile|lo_import|lo_export|lo_unlink|lo_create|pg_advisory\w*lock\w*|pg_switch_wal|pg_create_\w+|pg_drop_\w+|pg_replication_origin_\w+|dblink\w*|pg_file_write|pg_stat_reset\w*|txid_current|pg_current_xact_id)\s*\(/i;

/** Is this statement read-only by pgdrill's rule? Returns null when yes, or the reason when not. */
export function whyNotReadOnly(sql: string): string | null {
  const s = sql.trim().replace(/;$/, '').replace(/\s+/g, ' ');
  if (READ_ONLY_STATEMENT.some((re) => re.test(s))) return null;
  const cursor = /^DECLARE pgdrill_\w+ NO SCROLL CURSOR FOR (.*)$/is.exec(s);
  if (cursor) return whyNotReadOnly(cursor[1]!);
  if (!/^(SELECT|WITH)\b/i.test(s)) return `not a SELECT: ${s.slice(0, 80)}`;
  if (/\b(INSERT|UPDATE|DELETE|MERGE|TRUNCATE|CREATE|ALTER|DROP|GRANT|REVOKE|COPY|VACUUM|ANALYZE|CLUSTER|REINDEX|LOCK|COMMENT|SECURITY LABEL|REFRESH)\b\s/i.test(s.replace(/'[^']*'/g, "''")) && /^WITH\b/i.test(s)) {
    return `data-modifying CTE: ${s.slice(0, 80)}`;
  }
  const m = WRITING_FUNCTIONS.exec(s);
  if (m) return `calls ${m[1]}(), which changes state`;
  if (/\bFOR (UPDATE|NO KEY UPDATE|SHARE|KEY SHARE)\b/i.test(s)) return 'takes row locks (FOR UPDATE/SHARE)';
  return null;
}

/** Every audit entry that breaks the rule, with its reason. */
export function auditViolations(audit: readonly AuditEntry[]): { entry: AuditEntry; reason: string }[] {
  const out: { entry: AuditEntry; reason: string }[] = [];
  for (const entry of audit) {
    if (entry.by !== 'pgdrill') continue;
    const reason = whyNotReadOnly(entry.sql);
    if (reason) out.push({ entry, reason });
  }
  return out;
}
