/**
 * Logging in to a source whose login event triggers (PostgreSQL 17+, `CREATE EVENT TRIGGER … ON login`) write.
 *
 * pgdrill's sessions are read-only from their login on (`default_transaction_read_only=on` as a startup option), so
 * such a trigger's write fails, and with it the login (SQLSTATE 25006). Refusing to drill would leave a DBA with an
 * audit-on-login trigger without drills; the trigger's write is what the source does at every login (psql's,
 * monitoring's), not work pgdrill asks for. So after a 25006 at login — which only code run at login can raise —
 * pgdrill logs in again without the startup option and makes each session read-only as its first statements
 * (`SET default_transaction_read_only = on`, `SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY`), verified with
 * SHOW before anything else is sent (src/pg/client.ts). pg_dump and pg_dumpall then log in without the option too:
 * pg_dump reads in its own `REPEATABLE READ, READ ONLY` transaction, and sends nothing before it but SET and SELECT;
 * pg_dumpall sends only SELECTs. What the triggers write at each of those logins is the one write: the report names
 * the triggers and counts the logins (production.audit_read_only), docs/safety.md says what was written by whom.
 * A source whose login triggers do not write keeps the startup option: nothing there writes at all.
 */
import { DbSession, type AuditEntry } from '../pg/client.js';
import { connectError, readOnlyAfterLogin, type SourceSpec } from './connection.js';

/** SQLSTATE read_only_sql_transaction: a write refused by the read-only session. */
const READ_ONLY_REFUSED = '25006';

/** A session on the source, and the spec every later session and tool must use (the read-only mode that worked). */
export interface SourceLogin {
  readonly db: DbSession;
  readonly spec: SourceSpec;
}

/**
 * Open the first session on the source: read-only by the startup option, or — when a login event trigger's write
 * refused that login — read-only after login (see the file's comment). The returned spec says which.
 * @throws EnvironmentError (connectError) when the source cannot be reached or refuses the login; the signal's
 *   reason when interrupted.
 */
export async function loginToSource(spec: SourceSpec, opts: { readonly audit?: AuditEntry[]; readonly signal?: AbortSignal; readonly scrub: (s: string) => string }): Promise<SourceLogin> {
  let used = spec;
  try {
    try {
      return { db: await DbSession.open(spec.connection, { audit: opts.audit, signal: opts.signal }), spec };
    } catch (err) {
      if ((err as { code?: unknown }).code !== READ_ONLY_REFUSED || opts.signal?.aborted) throw err;
      used = readOnlyAfterLogin(spec);
      return { db: await DbSession.open(used.connection, { audit: opts.audit, signal: opts.signal }), spec: used };
    }
  } catch (err) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    if ((err as { exitCode?: unknown }).exitCode === 3) throw err;
    throw connectError(used, err, opts.scrub);
  }
}

/** A login event trigger of the connected database that fires for pgdrill's sessions (origin mode: ENABLE, ENABLE ALWAYS). */
export interface LoginTrigger {
  readonly name: string;
  readonly function: string;
  readonly owner: string;
}

/** The connected database's enabled login event triggers (none before PostgreSQL 17: there is no login event). */
export async function readLoginTriggers(db: DbSession, serverMajor: number): Promise<LoginTrigger[]> {
  if (serverMajor < 17) return [];
  return db.query<{ name: string; function: string; owner: string }>(
    "SELECT evtname AS name, evtfoid::regprocedure::text AS function, pg_get_userbyid(evtowner) AS owner FROM pg_catalog.pg_event_trigger " +
      "WHERE evtevent = 'login' AND evtenabled IN ('O', 'A') ORDER BY evtname");
}

/**
 * The logins that reached the source during a command, from its audit: pgdrill's own sessions (distinct backend
 * pids), and the tools' — pg_dump once per run (a parallel directory dump `--jobs=N` N + 1 times), pg_dumpall once
 * (into the `postgres` database, whose own login triggers it fires, not the source database's unless that is it).
 */
export function countLogins(audit: readonly AuditEntry[]): { pgdrill: number; pg_dump: number; pg_dumpall: number } {
  const pids = new Set(audit.filter((a) => a.by === 'pgdrill' && a.pid !== undefined).map((a) => a.pid));
  const dumps = audit.filter((a) => a.by === 'pg_dump').map((a) => 1 + Number(/--jobs=(\d+)/.exec(a.sql)?.[1] ?? 0));
  return { pgdrill: pids.size, pg_dump: dumps.reduce((x, y) => x + y, 0), pg_dumpall: audit.filter((a) => a.by === 'pg_dumpall').length };
}

/**
 * The report's words on the source's login triggers (null without any): which fired at each login, and — when one
 * writes — that the sessions were made read-only after login and how many logins its writes follow.
 */
export function loginTriggerNote(triggers: readonly LoginTrigger[], spec: SourceSpec, audit: readonly AuditEntry[]): string | null {
  if (!triggers.length) return null;
  const names = triggers.map((t) => `${t.name} (${t.function}, owner ${t.owner})`).join(', ');
  const n = countLogins(audit);
  const logins = `${n.pgdrill} session(s) of pgdrill and ${n.pg_dump} of pg_dump logged in to the source database (pg_dumpall ${n.pg_dumpall} to the postgres database)`;
  return spec.readOnly === 'after-login'
    ? `the source's login event trigger(s) ${names} ran at every login, and one of them writes: the login failed read-only, so pgdrill's sessions were made ` +
        `read-only right after login (SET default_transaction_read_only = on, verified with SHOW) and pg_dump's by its own READ ONLY transaction; ${logins}: ` +
        'what the triggers wrote at those logins is the only write to the source, the source\'s own, not pgdrill\'s'
    : `the source's login event trigger(s) ${names} ran at every login, in sessions read-only from login on (nothing they tried to write could be written); ${logins}`;
}
