/**
 * `verify --source`: the live source the artefact came from, read now. The artefact was taken at some unknown
 * earlier moment, so every comparison with the source is **not snapshot-exact** — the report says so in a named
 * note and in each check's detail. The source is guarded (identity pins, exit 3), only read (read-only sessions,
 * every statement audited) and proven untouched at the end, as in `run` (src/source/guard-and-proof.ts).
 */
import { listObjects, type CatalogObject } from '../catalog/objects.js';
import { countRows, listTables, tableLabel, type TableCount } from '../catalog/tables.js';
import type { Thresholds } from '../config/schema.js';
import { DbSession } from '../pg/client.js';
import type { Check, TableRow } from '../report/model.js';
import type { GuardedSource } from '../source/guard-and-proof.js';
import { IDLE_IN_TRANSACTION_OFF, scanSessionSettings } from '../source/snapshot.js';

/** The source's catalog and (optionally) exact row counts, read now in one read-only transaction. */
export interface SourceNow {
  readonly objects: CatalogObject[];
  readonly counts: TableCount[] | null;
  readonly readAt: string;
}

/** Read the source's objects and, with `counts`, every table's `count(*)` — one REPEATABLE READ READ ONLY transaction. */
export async function readSourceNow(src: GuardedSource, counts: boolean, signal?: AbortSignal): Promise<SourceNow> {
  await using db = await DbSession.open(src.spec.connection, { audit: src.audit, signal });
  await db.query(IDLE_IN_TRANSACTION_OFF);
  await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  const readAt = new Date().toISOString();
  const objects = await listObjects(db);
  let rows: TableCount[] | null = null;
  if (counts) {
    // As in run's snapshot session: no statement_timeout, no parallel workers, no JIT for the exact counts.
    for (const sql of scanSessionSettings(src.identity.serverVersion.major)) await db.query(sql);
    rows = await countRows(db, await listTables(db), signal, { releaseLocks: true });
  }
  await db.query('COMMIT');
  return { objects, counts: rows, readAt };
}

/**
 * The restored copy's rows against the source's rows now. FAIL when a source table is missing from the restore,
 * or the restore holds less than (100 − max_table_rows_drop_pct)% of a table's current rows (tables under
 * min_table_rows not judged); WARN for any other difference (the source moved on since the dump); PASS when equal.
 */
export function sourceRowsNowCheck(tables: readonly TableRow[], now: readonly TableCount[], th: Thresholds, readAt: string): Check {
  const restored = new Map(tables.map((t) => [`${t.schema}.${t.name}`, t.restored_rows]));
  const missing: string[] = [];
  const dropped: string[] = [];
  const differ: string[] = [];
  for (const s of now) {
    const key = tableLabel(s);
    const r = restored.get(key) ?? null;
    if (r === null) {
      missing.push(key);
      continue;
    }
    if (r === s.rows) continue;
    const lostPct = s.rows > 0 ? ((s.rows - r) / s.rows) * 100 : 0;
    const line = `${key} source now ${s.rows} vs restored ${r}`;
    if (th.max_table_rows_drop_pct !== null && s.rows >= th.min_table_rows && lostPct > th.max_table_rows_drop_pct) dropped.push(line);
    else differ.push(line);
  }
  const label = `compared with the source NOW (read ${readAt}), not in the dump's snapshot: the source may have changed since the dump was taken`;
  const status: Check['status'] = missing.length || dropped.length ? 'fail' : differ.length ? 'warn' : 'pass';
  const parts: string[] = [];
  if (missing.length) parts.push(`${missing.length} source table(s) missing from the restored copy: ${missing.slice(0, 10).join(', ')}`);
  if (dropped.length) parts.push(`${dropped.length} table(s) hold more than ${th.max_table_rows_drop_pct}% fewer rows in the backup than in the source: ${dropped.slice(0, 10).join('; ')}`);
  if (differ.length) parts.push(`${differ.length} table(s) differ${status === 'warn' ? ' (within thresholds)' : ''}: ${differ.slice(0, 10).join('; ')}`);
  return {
    name: 'fidelity.source_rows_now', stage: 'fidelity', status,
    detail: status === 'pass' ? `${now.length} source table(s): every restored count(*) equals the source's — ${label}` : `${parts.join('; ')} — ${label}`,
    evidence: { snapshot_exact: false, read_at: readAt, tables: now.length, missing, dropped, differ: differ.slice(0, 100) },
  };
}
