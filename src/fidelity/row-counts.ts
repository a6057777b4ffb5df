/**
 * `fidelity.row_counts`: the exact row count of every table in the restored copy, against the source's count in the
 * dump's snapshot (a drill) or the dump's own COPY row count (verifying a dump without a source). A table the content
 * hashes read back whole with `COPY … TO STDOUT` is counted by that read-back (its lines are its rows: the same scan,
 * not a second one — a full heap scan of every table, ~0.3 s of backend CPU at pgbench scale 50); every other table
 * (no hashed COPY block, a foreign or filtered read-back, a read-back that failed) by `count(*)` on its own session.
 */
import { countRows, quoteIdent, tableLabel, type TableCount, type TableRef } from '../catalog/tables.js';
import type { DbSession } from '../pg/client.js';
import type { ReportBuilder } from '../report/builder.js';
import type { TableRow } from '../report/model.js';
import type { CopyBlock } from '../scan/types.js';
import { parseQualifiedName } from '../verify/artifact-name.js';
import { gatherCopyTargets } from './copy-targets.js';
import { filterProblem, type ConfigTable } from './extension-config.js';

/** What to count and what to compare with. */
export interface RowCountPlan {
  /** Exact counts from the dump's snapshot (the tables to count), or null without a source. */
  readonly sourceCounts: readonly TableCount[] | null;
  /** The tables to count when there are no source counts (from the dump's COPY blocks / inventory). */
  readonly tablesFromDump: readonly TableRef[];
  /** The plain dump's COPY blocks: their row counts are reported beside (and, without a source, compared with). */
  readonly copyBlocks: readonly CopyBlock[];
  /** The dump's client_encoding (its COPY lines' bytes are in it): the restored copy is read back in it for the stream hashes. Default UTF8. */
  readonly dumpEncoding?: string;
  /** `schema.name` of every table the restored copy has (a missing one is reported, not counted). */
  readonly restoredTables: ReadonlySet<string>;
  /** The restored copy's extension configuration tables, by `schema.name`: counted (and read back) through their filter. Default none. */
  readonly configTables?: ReadonlyMap<string, ConfigTable>;
}

/**
 * Row counts the content hashes' read-back takes anyway (content-hash-check.ts `readBackCounts`). Their verdict needs
 * no more than this: the read-back reads the quiescent copy, and its lines are `COPY … TO STDOUT`'s rows.
 */
export interface ReadBackCounts {
  /** Labels (`schema.name`) of the tables it reads: their count(*) waits for it, and is taken only where it gives none. */
  readonly tables: ReadonlySet<string>;
  /**
   * Label → rows, of each table read whole and without error (`readBackIsWhole`); settles once the read-back has
   * ended: empty when it failed as a whole (every table then counted with count(*)).
   */
  readonly rows: Promise<ReadonlyMap<string, number>>;
}

/** The tables of a dump's COPY blocks, each once, in the dump's order. */
export function tablesOfCopyBlocks(blocks: readonly CopyBlock[]): TableRef[] {
  const seen = new Set<string>();
  const out: TableRef[] = [];
  for (const b of blocks) {
    const t = parseQualifiedName(b.table);
    if (!t || seen.has(tableLabel(t))) continue;
    seen.add(tableLabel(t));
    out.push(t);
  }
  return out;
}

/**
 * Exact counts of the restored targets: `count(*) FROM ONLY t` (catalog/tables.ts), but a partitioned table's rows
 * are its partitions' (ONLY counts none): blocks naming the root (--load-via-partition-root) carried all of them; and
 * an extension configuration table's are those its filter selects (extension-config.ts), the rows pg_dump dumps.
 * A configuration table whose filter is not one WHERE clause is left uncounted (null), its problem in `problems`.
 */
async function countTargets(db: DbSession, present: readonly TableRef[], roots: ReadonlySet<string>, config: ReadonlyMap<string, ConfigTable>, problems: string[], signal?: AbortSignal): Promise<Map<string, number | null>> {
  const isPlain = (t: TableRef) => !roots.has(tableLabel(t)) && !config.get(tableLabel(t))?.filter;
  const out = new Map<string, number | null>((await countRows(db, present.filter(isPlain), signal)).map((c) => [tableLabel(c), c.rows]));
  for (const t of present.filter((x) => !isPlain(x))) {
    signal?.throwIfAborted();
    const c = config.get(tableLabel(t));
    const problem = c?.filter ? filterProblem(tableLabel(t), c) : null;
    if (problem) problems.push(problem);
    const from = `${roots.has(tableLabel(t)) ? '' : 'ONLY '}${quoteIdent(t.schema)}.${quoteIdent(t.name)}${c?.filter ? ` ${c.filter}\n` : ''}`;
    const sql = roots.has(tableLabel(t)) && !c?.filter ? await countRootSql(db, t) : `SELECT count(*) FROM ${from}`;
    out.set(tableLabel(t), problem ? null : Number(await db.value<string>(sql)));
  }
  return out;
}

/**
 * A partitioned table's count: `count(*) FROM root`, or — when a leaf is a foreign table, whose scan the sandbox
 * refuses (and must not read) — the sum of its other leaves' `count(*) FROM ONLY leaf`.
 */
async function countRootSql(db: DbSession, t: TableRef): Promise<string> {
  const root = `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
  const leaves = await db.query<{ name: string; relkind: string }>(`
SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS name, c.relkind::text AS relkind
  FROM pg_catalog.pg_partition_tree($1::regclass) p JOIN pg_catalog.pg_class c ON c.oid = p.relid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE p.isleaf`, [root]);
  if (!leaves.some((l) => l.relkind === 'f')) return `SELECT count(*) FROM ${root}`;
  const local = leaves.filter((l) => l.relkind !== 'f');
  return local.length ? `SELECT ${local.map((l) => `(SELECT count(*) FROM ONLY ${l.name})`).join(' + ')}` : 'SELECT 0';
}

/**
 * The partitioned tables among `present` (COPY targets: blocks name them), and the leaf partitions (any depth) of
 * each, by label. A dump that loads a partitioned table through its root (--load-via-partition-root, and pg_dump's
 * own choice for a table hash-partitioned on an enum) lets the restored copy route every row again: a hash of an
 * enum follows its OIDs, which differ in the copy, so rows land in other leaves than on the source.
 */
async function partitionedTargets(db: DbSession, present: readonly TableRef[]): Promise<Map<string, string[]>> {
  const rows = await db.query<{ root: string; leaf: string | null }>(`
WITH RECURSIVE t(root, oid) AS (
  SELECT c.oid, c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind = 'p' AND (n.nspname, c.relname) IN (SELECT * FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[])))
  UNION ALL SELECT t.root, i.inhrelid FROM pg_catalog.pg_inherits i JOIN t ON i.inhparent = t.oid)
SELECT rn.nspname || '.' || r.relname AS root, CASE WHEN c.relkind <> 'p' THEN n.nspname || '.' || c.relname END AS leaf
  FROM t JOIN pg_catalog.pg_class r ON r.oid = t.root JOIN pg_catalog.pg_namespace rn ON rn.oid = r.relnamespace
  JOIN pg_catalog.pg_class c ON c.oid = t.oid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace`,
  [present.map((t) => t.schema), present.map((t) => t.name)]);
  const out = new Map<string, string[]>();
  for (const r of rows) out.set(r.root, [...(out.get(r.root) ?? []), ...(r.leaf ? [r.leaf] : [])]);
  return out;
}

/**
 * Count the restored tables — from `readBack` where it read a table whole, else with count(*) on `db` — fill the
 * report's table rows (`rows`, in place, once every count is taken) and add `fidelity.row_counts`.
 */
export async function checkRowCounts(b: ReportBuilder, db: DbSession, plan: RowCountPlan, rows: TableRow[], signal?: AbortSignal, readBack: ReadBackCounts | null = null): Promise<void> {
  // Without the source's counts (source.witness: none in a run): the tables are those the dump carries data for.
  const listed: TableRef[] = plan.sourceCounts ? [...plan.sourceCounts] : plan.tablesFromDump.length ? [...plan.tablesFromDump] : tablesOfCopyBlocks(plan.copyBlocks);
  // COPY targets the list lacks (a partitioned root that blocks name, a foreign table with --include-foreign-data): the source lists leaf tables only.
  const labels = new Set(listed.map(tableLabel));
  const refs = [...listed, ...tablesOfCopyBlocks(plan.copyBlocks).filter((t) => !labels.has(tableLabel(t)))];
  const present = refs.filter((t) => plan.restoredTables.has(tableLabel(t)));
  const config = plan.configTables ?? new Map<string, ConfigTable>();
  const problems: string[] = [];
  const partitioned = await partitionedTargets(db, present);
  const roots = new Set(partitioned.keys());
  // The tables the read-back does not read are counted while it runs; those it could not count, after it.
  const waits = (t: TableRef) => readBack?.tables.has(tableLabel(t)) ?? false;
  const counted = await countTargets(db, present.filter((t) => !waits(t)), roots, config, problems, signal);
  const fromReadBack = readBack ? await readBack.rows : new Map<string, number>();
  signal?.throwIfAborted();
  const uncounted = present.filter((t) => waits(t) && !fromReadBack.has(tableLabel(t)));
  for (const [k, n] of await countTargets(db, uncounted, roots, config, problems, signal)) counted.set(k, n);
  let byReadBack = 0;
  for (const t of present.filter((x) => waits(x) && fromReadBack.has(tableLabel(x)))) {
    counted.set(tableLabel(t), fromReadBack.get(tableLabel(t))!);
    byReadBack++;
  }
  // Several blocks may name one table (a --load-via-partition-root dump: one per leaf, each naming the root): their rows add up.
  const dumpRows = new Map([...gatherCopyTargets(plan.copyBlocks)].map(([k, t]) => [k, t.rows]));
  const sourceRows = new Map((plan.sourceCounts ?? []).map((s) => [tableLabel(s), s.rows]));
  // The leaves of a root the dump loaded (the source lists them, the dump has no block of theirs): compared as their
  // root — the source's leaf counts summed against the root's — since a row may land in another leaf of the copy.
  const viaRoot = new Map([...partitioned].flatMap(([root, leaves]) => leaves.filter((l) => !dumpRows.has(l)).map((l) => [l, root] as const)));
  const leafSum = (root: string) => {
    const leaves = (partitioned.get(root) ?? []).filter((l) => viaRoot.get(l) === root && sourceRows.has(l));
    return leaves.length ? leaves.reduce((a, l) => a + sourceRows.get(l)!, 0) : null;
  };
  for (const t of refs) {
    const src = sourceRows.get(tableLabel(t)) ?? (partitioned.has(tableLabel(t)) ? leafSum(tableLabel(t)) : null);
    const restored = counted.get(tableLabel(t)) ?? null;
    const inDump = dumpRows.get(tableLabel(t)) ?? null;
    const expected = src ?? inDump;
    // With both, the dump's COPY rows must equal the source's too: the source witnesses pg_dump itself.
    const filter = config.get(tableLabel(t))?.filter;
    const root = viaRoot.get(tableLabel(t));
    rows.push({
      schema: t.schema, name: t.name, source_rows: src, restored_rows: restored, dump_rows: inDump,
      match: restored !== null && (expected === null || restored === expected) && (inDump === null || restored === inDump), ...(filter ? { filter } : {}),
      ...(root ? { via_root: root } : {}),
    });
  }
  // A leaf compared as its root matches when the root does (and it is there).
  const matchOf = new Map(rows.map((r) => [tableLabel(r), r.match]));
  for (const r of rows) if (r.via_root && r.restored_rows !== null) r.match = matchOf.get(r.via_root) ?? r.match;
  const mismatched = rows.filter((t) => !t.match);
  const total = rows.reduce((a, t) => a + (t.restored_rows ?? 0), 0);
  const bySource = plan.sourceCounts !== null;
  const byDump = plan.copyBlocks.length > 0;
  const evidence = [...(byDump ? ['dump-stream'] : []), ...(bySource ? ['source-snapshot'] : [])];
  const against = [...(byDump ? ["the dump's COPY rows (counted by pgdrill as it read the dump)"] : []), ...(bySource ? ["the source's count(*) in the dump snapshot (source.witness)"] : [])].join(' and ') || 'nothing (the dump holds no table data)';
  const side = (t: TableRow) => [...(bySource ? [`source ${t.source_rows ?? '?'}`] : []), ...(t.dump_rows !== null && t.dump_rows !== undefined ? [`dump ${t.dump_rows}`] : [])].join(', ');
  const filtered = rows.filter((t) => t.filter).map((t) => ({ table: tableLabel(t), extension: config.get(tableLabel(t))!.extension, filter: t.filter! }));
  const through = filtered.length ? `; ${filtered.length} extension configuration table(s) counted through their filter, the rows pg_dump dumps (${filtered.slice(0, 5).map((f) => `${f.table} ${f.filter}`).join('; ')}${filtered.length > 5 ? '; …' : ''})` : '';
  const leaves = rows.filter((t) => t.via_root);
  const asRoot = leaves.length ? `; ${leaves.length} leaf partition(s) compared as the root the dump loaded them through (${[...new Set(leaves.map((t) => t.via_root!))].slice(0, 5).join(', ')}: a row may land in another leaf of the copy)` : '';
  // A leaf compared as its root is named by the root's row; an unreadable filter by its problem.
  const differ = mismatched.filter((t) => !(t.via_root && t.restored_rows !== null) && !(t.restored_rows === null && problems.some((p) => p.startsWith(`${tableLabel(t)} `))));
  const byCount = counted.size - byReadBack;
  const how = `${byReadBack} read back whole by the content hashes' COPY … TO STDOUT (its rows), ${byCount} by count(*)`;
  b.expect('fidelity.row_counts', 'fidelity', mismatched.length === 0,
    `${rows.length} table(s), ${total} rows: every exact row count of the restored copy (${how}) equals ${against}${through}${asRoot}`,
    [
      ...(differ.length ? [`${differ.length} table(s) differ: ${differ.slice(0, 10).map((t) => `${t.schema}.${t.name} ${side(t)} vs restored ${t.restored_rows ?? 'MISSING'}${t.filter ? ` (through its filter ${t.filter})` : ''}`).join('; ')} (restored rows: ${how})`] : []),
      ...problems,
    ].join('; '),
    { tables: rows.length, rows: total, evidence, ...(filtered.length ? { filtered } : {}), counted_by: { read_back: byReadBack, count: byCount } });
}
