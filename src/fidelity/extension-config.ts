/**
 * Extension configuration tables (`pg_extension_config_dump(table, filter)`): tables that belong to an extension but
 * whose rows pg_dump dumps — only those its filter selects (PostGIS's `spatial_ref_sys`: `WHERE NOT (srid BETWEEN …)`,
 * the rows the user added), or every row for an empty filter (pg_cron's `cron.job`). On restore, `CREATE EXTENSION`
 * runs the extension's script, which inserts its own rows, and then the dump's COPY adds the user's: the restored
 * table legitimately holds more rows than the dump carried. Compared like with like, the restored side is read
 * through the same filter — the rows pg_dump would dump from the copy — as pg_dump itself reads it
 * (`COPY (SELECT … FROM ONLY t <filter>) TO stdout`).
 *
 * The filter is read from the restored copy's `pg_extension.extcondition`, which the dump's `CREATE EXTENSION` set by
 * running the sandbox's own extension script (a dump carries no filter). Like pg_dump, pgdrill puts it into a
 * statement as written; it is first checked to be one `WHERE …` clause (no `;` or unbalanced parenthesis that would
 * end the statement, no psql meta-command), else the table is not read through it.
 */
import type { DbSession } from '../pg/client.js';
import { asciiLower, PsqlLexer, type TokenKind } from '../scan/psql-lexer.js';

/** A configuration table of the restored copy: its extension and filter (`''`: every row is dumped). */
export interface ConfigTable {
  readonly extension: string;
  readonly filter: string;
}

/** The restored copy's extension configuration tables (sequences left out: the catalog compares their positions), by `schema.name`. */
export async function restoredConfigTables(db: DbSession): Promise<Map<string, ConfigTable>> {
  const rows = await db.query<{ schema: string; name: string; extension: string; filter: string | null }>(`
SELECT n.nspname AS schema, c.relname AS name, e.extname::text AS extension, e.extcondition[i.i] AS filter
  FROM pg_catalog.pg_extension e
 CROSS JOIN LATERAL pg_catalog.generate_subscripts(e.extconfig, 1) AS i(i)
  JOIN pg_catalog.pg_class c ON c.oid = e.extconfig[i.i]
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p')
 ORDER BY 1, 2`);
  return new Map(rows.map((r) => [`${r.schema}.${r.name}`, { extension: r.extension, filter: (r.filter ?? '').trim() }]));
}

/**
 * True when `filter` is empty or one `WHERE …` clause that cannot end the statement it is put into: lexed as psql
 * would, no `;` at the top level, parentheses never closed below the start and all closed, no backslash command.
 */
export function isOneWhereClause(filter: string): boolean {
  if (filter.trim() === '') return true;
  const tokens: { kind: TokenKind; value: string }[] = [];
  let ends = 0;
  let meta = 0;
  let anomalies = 0;
  const lexer = new PsqlLexer({
    token: (kind, value) => void tokens.push({ kind, value }),
    statementEnd: () => void ends++,
    metaCommand: () => void meta++,
    literalText: () => {},
    anomaly: () => void anomalies++,
  });
  const lines = filter.split('\n');
  lines.forEach((line, i) => {
    lexer.beginLine(i + 1);
    lexer.feed(line);
    lexer.endLine();
  });
  lexer.endInput();
  if (ends || meta || anomalies || lexer.insideQuote || !lexer.idle) return false;
  const first = tokens[0];
  if (!first || first.kind !== 'ident' || asciiLower(first.value) !== 'where') return false;
  let depth = 0;
  for (const t of tokens) {
    if (t.kind !== 'punct') continue;
    if (t.value === '(') depth++;
    else if (t.value === ')' && --depth < 0) return false;
    else if (t.value === ';') return false;
  }
  return depth === 0;
}

/** Why a configuration table is not read through its filter, or null when it can be. */
export function filterProblem(label: string, t: ConfigTable): string | null {
  return isOneWhereClause(t.filter) ? null
    : `${label} is a configuration table of extension ${t.extension} whose filter is not one WHERE clause (${JSON.stringify(t.filter.slice(0, 200))}): its rows were not read through it`;
}
