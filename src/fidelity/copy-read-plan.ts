/**
 * Which statement reads a COPY target back, chosen from what the target is in the restored copy. `COPY t TO STDOUT`
 * reads an ordinary table only; PostgreSQL refuses it for a partitioned table (the target of every block of a
 * `--load-via-partition-root` dump), a foreign table (`--include-foreign-data`), a view. Those are read with
 * `COPY (SELECT <the dump's columns> FROM …) TO STDOUT`, whose text is the same for the same values:
 * - a partitioned table: `FROM t` (its partitions' rows, as its blocks carried them); when its blocks used several
 *   column lists (leaves whose columns are in other orders: pg_dump lists each leaf's own), once per list, each
 *   `WHERE tableoid IN (<the leaves of that column order>)`;
 * - anything else that is not an ordinary table: `FROM ONLY t` (pg_dump's `COPY (SELECT * FROM ONLY t)` of foreign data);
 * - an extension configuration table with a filter (extension-config.ts): `FROM ONLY t <filter>`, the rows pg_dump
 *   dumps of it (its own statement), not those the extension's script inserted when the restore created it.
 * A drill never reads a foreign table back: it would read the foreign server's current rows (and, without bwrap,
 * could reach production's socket). The restore stage leaves the copy's foreign tables out of the targets, and the
 * restore sandbox refuses every use of one anyway (restrict_nonsystem_relation_kind: src/pipeline/restore/foreign-data.ts).
 */
import type { DbSession } from '../pg/client.js';

/** A COPY block (or several naming one table) to read back: its target and column list(s) exactly as the dump wrote them. */
export interface CopyTarget {
  readonly table: string;
  readonly columns?: string | null;
  /** Every column list the target's blocks used, when there were several (default: `[columns]`). */
  readonly columnLists?: readonly (string | null)[];
  /** Rows the dump carried for it (chooses how it is read: copy-hash-restored.ts). Default 0. */
  readonly rows?: number;
  /**
   * An extension configuration table's filter (`WHERE …`, checked to be one clause: extension-config.ts): only the
   * rows it selects are read back. Default none: every row.
   */
  readonly filter?: string | null;
}

/** The target in the restored copy: its relkind (null: not found) and, for a partitioned one, its leaves' columns. */
export interface RestoredRelation {
  readonly relkind: string | null;
  /** Leaf partitions (any depth): oid and live, non-generated column names in attnum order (`relkind` and `name`, quoted: for a tree with a foreign leaf). */
  readonly leaves: readonly { readonly oid: string; readonly columns: readonly string[]; readonly relkind?: string; readonly name?: string }[];
}

/** Look every target up in the restored copy (one query, plus one per partitioned target of several column lists). */
export async function restoredRelations(db: DbSession, targets: readonly CopyTarget[]): Promise<Map<string, RestoredRelation>> {
  const rows = await db.query<{ t: string; relkind: string | null }>(
    'SELECT t, c.relkind FROM pg_catalog.unnest($1::text[]) AS t LEFT JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(t)',
    [targets.map((t) => t.table)]);
  const kinds = new Map(rows.map((r) => [r.t, r.relkind]));
  const out = new Map<string, RestoredRelation>();
  const generated = Number(await db.value<string>("SELECT pg_catalog.current_setting('server_version_num')")) >= 120000 ? "AND a.attgenerated = ''" : '';
  for (const t of targets) {
    const relkind = kinds.get(t.table) ?? null;
    // Every partitioned target's leaves: a foreign one (--include-foreign-data) must not be read (see below).
    const leaves = relkind === 'p' ? await db.query<{ oid: string; columns: string[]; relkind: string; name: string }>(`
WITH RECURSIVE tree(oid) AS (SELECT pg_catalog.to_regclass($1)::oid UNION ALL SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN tree ON i.inhparent = tree.oid)
SELECT c.oid::text AS oid, pg_catalog.to_json(ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ${generated} ORDER BY a.attnum)) AS columns,
       c.relkind::text AS relkind, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS name
  FROM tree JOIN pg_catalog.pg_class c ON c.oid = tree.oid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind <> 'p'`, [t.table]) : [];
    out.set(t.table, { relkind, leaves });
  }
  return out;
}

/**
 * Quoted identifiers that hold non-ASCII characters, rewritten as `U&"…"` escapes: the statement then is ASCII and
 * means the same in any client_encoding (node-postgres and psql send it as UTF-8, the server reads it in the dump's).
 */
export function asciiIdentifiers(sql: string): string {
  return sql.replace(/"((?:[^"]|"")*)"/g, (whole, body: string) => {
    if (![...body].some((ch) => ch.codePointAt(0)! > 0x7f)) return whole;
    let out = '';
    for (const ch of body) {
      const cp = ch.codePointAt(0)!;
      if (ch === '\\') out += '\\\\';
      else if (cp < 0x80) out += ch;
      else out += cp <= 0xffff ? `\\${cp.toString(16).padStart(4, '0')}` : `\\+${cp.toString(16).padStart(6, '0')}`;
    }
    return `U&"${out}"`;
  });
}

/** The names of a COPY column list as pg_dump writes it (`a, "B"" x", c`), unquoted. */
export function columnNames(list: string): string[] {
  const names: string[] = [];
  const re = /\s*(?:"((?:[^"]|"")*)"|([^\s,"]+))\s*(?:,|$)/gy;
  for (let m = re.exec(list); m && m[0] !== ''; m = re.exec(list)) names.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2]!);
  return names;
}

/** The statements that read one target back (their outputs' lines together are the target's), in `encoding`. */
export function readBackStatements(t: CopyTarget, rel: RestoredRelation | undefined, encoding: string): string[] {
  const ascii = (sql: string) => (/^(UTF8|SQL_ASCII)$/.test(encoding) ? sql : asciiIdentifiers(sql));
  const kind = rel?.relkind ?? null;
  // A configuration table's filter ends with a newline: a trailing `-- comment` in it ends there.
  if (t.filter && kind !== null) return [ascii(`COPY (SELECT ${t.columns || '*'} FROM ${kind === 'p' ? '' : 'ONLY '}${t.table} ${t.filter}\n) TO STDOUT`)];
  // Not found: the plain statement, whose error names what is missing.
  if (kind === 'r' || kind === null) return [ascii(`COPY ${t.table}${t.columns ? ` (${t.columns})` : ''} TO STDOUT`)];
  const select = (cols: string | null | undefined, where: string) => ascii(`COPY (SELECT ${cols || '*'} FROM ${kind === 'p' ? '' : 'ONLY '}${t.table}${where}) TO STDOUT`);
  const lists = t.columnLists ?? [t.columns ?? null];
  // A tree with a foreign leaf: reading the root would plan a scan of it, which the sandbox refuses (and must not
  // read). Its other leaves are read one by one instead (their rows are what the dump's blocks restored).
  if (kind === 'p' && rel?.leaves.some((l) => l.relkind === 'f')) return [ascii(leavesSelect(t, rel))];
  if (lists.length <= 1 || kind !== 'p') return [select(t.columns, '')];
  return lists.map((cols) => {
    const want = JSON.stringify(cols ? columnNames(cols) : []);
    const oids = (rel?.leaves ?? []).filter((l) => JSON.stringify(l.columns) === want).map((l) => l.oid);
    return select(cols, ` WHERE tableoid IN (${oids.length ? oids.join(', ') : 'NULL'})`);
  });
}

/** `COPY (SELECT … FROM ONLY leaf UNION ALL …) TO STDOUT` over a partitioned target's leaves that are not foreign tables. */
function leavesSelect(t: CopyTarget, rel: RestoredRelation): string {
  const lists = t.columnLists ?? [t.columns ?? null];
  const local = rel.leaves.filter((l) => l.relkind !== 'f' && l.name);
  const parts = lists.flatMap((cols) => {
    const want = JSON.stringify(cols ? columnNames(cols) : []);
    return local.filter((l) => lists.length <= 1 || JSON.stringify(l.columns) === want).map((l) => `SELECT ${cols || '*'} FROM ONLY ${l.name}`);
  });
  return `COPY (${parts.length ? parts.join(' UNION ALL ') : `SELECT ${t.columns || '*'} FROM ONLY ${t.table}`}) TO STDOUT`;
}

/**
 * Whether `readBackStatements` read every row the restored relation holds, so that the lines read back are its exact
 * row count (row-counts.ts takes it instead of a second full scan with count(*)): an ordinary table (`COPY t TO`
 * reads the rows of `SELECT * FROM ONLY t`, as count(*) FROM ONLY does), or a partitioned root read whole or whose
 * every leaf is of one of its blocks' column orders. Anything else (a foreign table, a root with a leaf of another
 * order, a relation not found, an extension configuration table read through its filter) is counted with count(*).
 */
export function readBackIsWhole(t: CopyTarget, rel: RestoredRelation | undefined): boolean {
  // A configuration table's filtered read: its count(*) goes through the same filter (row-counts.ts), on its own.
  if (t.filter) return false;
  const kind = rel?.relkind ?? null;
  if (kind === 'r') return true;
  if (kind !== 'p') return false;
  // A tree with a foreign leaf is read through its other leaves only (leavesSelect): counted with count(*) on those.
  if (rel?.leaves.some((l) => l.relkind === 'f')) return false;
  const lists = t.columnLists ?? [t.columns ?? null];
  if (lists.length <= 1) return true;
  const orders = new Set(lists.map((cols) => JSON.stringify(cols ? columnNames(cols) : [])));
  return (rel?.leaves ?? []).every((l) => orders.has(JSON.stringify(l.columns)));
}
