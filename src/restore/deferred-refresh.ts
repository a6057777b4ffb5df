/**
 * Materialized views over foreign tables. pg_dump populates a materialized view with `REFRESH MATERIALIZED VIEW`
 * (its `MATERIALIZED VIEW DATA` entry, the last thing a restore does), and refreshing one whose query reads a
 * foreign table — directly, through a view, another materialized view or a function — would read the foreign
 * server's current rows: the sandbox refuses it (restrict_nonsystem_relation_kind, src/sandbox/egress-settings.ts).
 * Left in the restore, that refusal stopped the restore of a good backup. So, in a dump that declares a foreign
 * table, the restore holds pg_dump's REFRESH lines back (plain: the scanner's `matviewRefreshes`, dropped from
 * psql's input; archives: their entries left out of `pg_restore --use-list`) and runs them here, in the dump's
 * order, each in its own transaction, with pg_dump's empty search_path:
 * - a refresh refused exactly for a foreign table, or because it reads a materialized view held back before it
 *   ("has not been populated"), leaves that view unpopulated — held back, named in a note, and expected by the
 *   catalog comparison to differ in "populated" and nothing else;
 * - any other error is a restore error of the dump, as it would have been inside the restore: it fails the drill.
 */
import type { DbSession } from '../pg/client.js';
import { QueryError } from '../pg/client.js';
import type { RestoreError } from '../report/model.js';
import type { MatviewRefreshLine } from '../scan/types.js';

/** A materialized view left unpopulated, and why. */
export interface HeldBackMatview {
  /** `schema.name` as the catalog comparison labels it (names unquoted). */
  readonly label: string;
  /** Its name without the schema (the server's "has not been populated" names only that). */
  readonly name: string;
  /** The dump's line of its REFRESH (plain dumps; the archive's text for archives). */
  readonly line: number;
  /** 'foreign table', or the label of the held-back materialized view it reads. */
  readonly reads: string;
}

/** What running the held-back refreshes left. */
export interface DeferredRefreshOutcome {
  readonly refreshed: number;
  readonly heldBack: HeldBackMatview[];
  /** The first refresh that failed for any other reason (the rest were not run: one error is one finding). */
  readonly errors: RestoreError[];
}

const FOREIGN_REFUSED = /^access to non-system foreign table is restricted/;
const NOT_POPULATED = /^materialized view "(.*)" has not been populated/;

/** The schema-qualified name a REFRESH line names (as written: quoted where pg_dump quotes). */
const refreshTarget = (statement: string): string => statement.replace(/^REFRESH MATERIALIZED VIEW /, '').replace(/;$/, '');

/** Run the held-back refreshes in `db` (a superuser session on the restored database), in order. */
export async function runDeferredRefreshes(db: DbSession, refreshes: readonly MatviewRefreshLine[], signal?: AbortSignal): Promise<DeferredRefreshOutcome> {
  const heldBack: HeldBackMatview[] = [];
  const errors: RestoreError[] = [];
  let refreshed = 0;
  // pg_dump's session: an empty search_path (a function the view calls that relies on another one fails here as
  // it would in pg_dump's own restore).
  await db.query("SELECT pg_catalog.set_config('search_path', '', false)");
  for (const r of refreshes) {
    signal?.throwIfAborted();
    const view = await viewOf(db, refreshTarget(r.statement));
    try {
      await db.query(r.statement);
      refreshed++;
      continue;
    } catch (err) {
      if (!(err instanceof QueryError)) throw err;
      const cause = err.cause as { message?: string; file?: string; routine?: string } | undefined;
      const message = cause?.message ?? err.message;
      const reads = view && !raisedByFunction(cause) ? whyHeldBack(err.sqlstate, message, heldBack) : null;
      if (view && reads) {
        heldBack.push({ ...view, line: r.line, reads });
        continue;
      }
      errors.push({ message, sqlstate: err.sqlstate ?? null, statement: r.statement, line: r.line, phase: 'dump', classification: 'unknown', hint: null });
      break;
    }
  }
  return { refreshed, heldBack, errors };
}

/**
 * True when the error was raised by a function's own code (PL/pgSQL's RAISE, another PL's error call), not by the
 * server: a dump's function could raise the very text of the refusal to have a failing view excused.
 */
export function raisedByFunction(e: { file?: string; routine?: string } | undefined): boolean {
  return e?.routine === 'exec_stmt_raise' || /^(pl_exec|plperl|plpy_\w+|pltcl|plv8\w*)\.c$/.test(e?.file ?? '');
}

/** Why a refresh that failed is held back, or null when it is a real error. */
export function whyHeldBack(sqlstate: string | undefined, message: string, before: readonly HeldBackMatview[]): string | null {
  // The server raises it as object_not_in_prerequisite_state (55000); wrong_object_type in some minors' planner check.
  if ((sqlstate === '55000' || sqlstate === '42809') && FOREIGN_REFUSED.test(message)) return 'foreign table';
  const m = sqlstate === '55000' ? NOT_POPULATED.exec(message) : null;
  // The server names the unpopulated view without its schema: one held back before, of that name.
  const held = m ? before.find((h) => h.name === m[1]) : undefined;
  return held ? held.label : null;
}

/** A materialized view named as written in SQL, or null when there is none of that name. */
async function viewOf(db: DbSession, qualified: string): Promise<{ label: string; name: string } | null> {
  const rows = await db.query<{ label: string; name: string }>(`
SELECT n.nspname || '.' || c.relname AS label, c.relname AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.oid = pg_catalog.to_regclass($1) AND c.relkind = 'm'`, [qualified]);
  return rows[0] ?? null;
}

/** The note naming each materialized view left unpopulated. */
export function heldBackMatviewsNote(held: readonly HeldBackMatview[]): string {
  const listed = held.slice(0, 10).map((h) => `${h.label} (reads ${h.reads === 'foreign table' ? 'a foreign table' : `${h.reads}, itself held back`})`).join(', ');
  return `${held.length} materialized view(s) left unpopulated: ${listed}${held.length > 10 ? ', …' : ''}. Refreshing them reads a foreign table, ` +
    'which the sandbox refuses so that the restored copy never reaches the foreign server (docs/jail.md, Egress): their definitions are restored and compared, their rows are not, and the catalog comparison expects exactly these to differ in "populated"';
}
