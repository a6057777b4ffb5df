/**
 * What the source's own statistics say a drill read: `pg_stat_statements` (when the extension is installed in the
 * source database, loaded, and readable) per statement of the drill's role in the drill's database, grouped by who
 * sends it; and `pg_stat_database` for the database as a whole (every session: labelled so). Deltas between a
 * reading before the drill and one after it. Read-only catalog SELECTs; nothing is installed or reset.
 */
import { quoteIdent } from '../catalog/tables.js';
import type { DbSession } from '../pg/client.js';

/** Counters of one statement (or a group of them). */
export interface StatementCounters {
  calls: number;
  rows: number;
  shared_blks_read: number;
  shared_blks_hit: number;
  total_exec_time_ms: number;
}

/** A reading of pg_stat_statements: counters per entry (queryid, top level or not), with the start of its text. */
export type StatementsReading = Map<string, { readonly query: string; readonly c: StatementCounters }>;

/** Where the extension is, or why its view cannot be read. */
export type StatementsSource = { readonly schema: string } | { readonly unavailable: string };

/** The groups a drill's statements fall into, in report order. */
export const STATEMENT_GROUPS = {
  copy: "pg_dump: COPY … TO stdout (the dump's data)",
  scans: 'pgdrill: exact counts and content hashes on the source',
  other: 'catalog reads and settings of pgdrill, pg_dump and pg_dumpall (and of any other session of the same role in this database)',
} as const;

/** The group of a statement, by its text as pg_stat_statements keeps it. */
export function statementGroup(query: string): keyof typeof STATEMENT_GROUPS {
  const q = query.trimStart();
  if (/^COPY\b[\s\S]*\bTO\s+stdout\b/i.test(q)) return 'copy';
  if (/^SELECT count\(\*\)(::text AS rows, md5\(| FROM ONLY )/i.test(q)) return 'scans';
  return 'other';
}

/** Find the extension's view in the drill's database and read it once, or say why it cannot be used. */
export async function locateStatements(db: DbSession): Promise<StatementsSource> {
  const schema = await db.value<string | undefined>(
    "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_stat_statements'",
  );
  if (!schema) return { unavailable: 'pg_stat_statements is not installed in the source database' };
  try {
    await readStatements(db, { schema });
    return { schema };
  } catch (err) {
    return { unavailable: `pg_stat_statements cannot be read: ${(err as Error).message}` };
  }
}

/** The counters of every statement of the current role in the current database. */
export async function readStatements(db: DbSession, src: { readonly schema: string }): Promise<StatementsReading> {
  // to_jsonb: total_exec_time (13+) was total_time before, toplevel exists from 14 on.
  const rows = await db.query<{ id: string; query: string; j: Record<string, unknown> }>(
    `SELECT s.queryid::text AS id, left(s.query, 200) AS query, to_jsonb(s) - 'query' AS j FROM ${quoteIdent(src.schema)}.pg_stat_statements s
      WHERE s.userid = (SELECT oid FROM pg_roles WHERE rolname = current_user) AND s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  const out: StatementsReading = new Map();
  for (const r of rows) {
    const n = (k: string) => Number(r.j[k] ?? 0);
    out.set(`${r.id}/${r.j.toplevel === false ? 'nested' : 'top'}`, {
      query: r.query ?? '',
      c: { calls: n('calls'), rows: n('rows'), shared_blks_read: n('shared_blks_read'), shared_blks_hit: n('shared_blks_hit'), total_exec_time_ms: n('total_exec_time') || n('total_time') },
    });
  }
  return out;
}

const ZERO = (): StatementCounters => ({ calls: 0, rows: 0, shared_blks_read: 0, shared_blks_hit: 0, total_exec_time_ms: 0 });

/**
 * The counters the drill added, per group: after minus before per entry (an entry new since, all of it; one
 * evicted and re-created in between counts from zero, never negative).
 */
export function statementDeltas(before: StatementsReading, after: StatementsReading): { group: keyof typeof STATEMENT_GROUPS; label: string; counters: StatementCounters }[] {
  const sums = new Map(Object.keys(STATEMENT_GROUPS).map((g) => [g as keyof typeof STATEMENT_GROUPS, ZERO()]));
  for (const [key, a] of after) {
    const b = before.get(key)?.c ?? ZERO();
    const restarted = a.c.calls < b.calls;
    const sum = sums.get(statementGroup(a.query))!;
    for (const k of Object.keys(sum) as (keyof StatementCounters)[]) sum[k] += Math.max(0, a.c[k] - (restarted ? 0 : b[k]));
  }
  return [...sums].map(([group, counters]) => ({ group, label: STATEMENT_GROUPS[group], counters: { ...counters, total_exec_time_ms: Math.round(counters.total_exec_time_ms * 10) / 10 } }));
}

/** pg_stat_database's counters of the drill's database (every session's, not only the drill's). */
export interface DatabaseCounters {
  tup_returned: number;
  tup_fetched: number;
  blks_read: number;
  blks_hit: number;
}

export async function readDatabaseCounters(db: DbSession): Promise<DatabaseCounters> {
  const [r] = await db.query<Record<keyof DatabaseCounters, string>>(
    'SELECT tup_returned, tup_fetched, blks_read, blks_hit FROM pg_stat_database WHERE datname = current_database()',
  );
  return { tup_returned: Number(r?.tup_returned ?? 0), tup_fetched: Number(r?.tup_fetched ?? 0), blks_read: Number(r?.blks_read ?? 0), blks_hit: Number(r?.blks_hit ?? 0) };
}

/** after − before of each counter (a reset in between gives the after-value). */
export function databaseDelta(before: DatabaseCounters, after: DatabaseCounters): DatabaseCounters {
  const d = (k: keyof DatabaseCounters) => (after[k] >= before[k] ? after[k] - before[k] : after[k]);
  return { tup_returned: d('tup_returned'), tup_fetched: d('tup_fetched'), blks_read: d('blks_read'), blks_hit: d('blks_hit') };
}
