/**
 * `verify --source`: the live source the artefact came from, read now. The artefact was taken at some unknown
 * earlier moment, so every comparison with the source is **not snapshot-exact** — the report says so in a named
 * note and in each check's detail. The source is guarded (identity pins, exit 3), only read (read-only sessions,
 * every statement audited) and proven untouched at the end, as in `run` (src/source/guard-and-proof.ts).
 */
import { listObjects, type CatalogObject } from '../catalog/objects.js';
import { countSourceRows, listTables, tableLabel, type TableCount, type TableFailure } from '../catalog/tables.js';
import { hashSourceTables, type TableHash } from '../fidelity/content-hash.js';
import { prepareFidelitySession } from '../fidelity/session.js';
import type { Thresholds } from '../config/schema.js';
import { DbSession } from '../pg/client.js';
import type { CheckResult, TableRow } from '../report/model.js';
import type { GuardedSource } from '../source/guard-and-proof.js';
import { IDLE_IN_TRANSACTION_OFF, scanSessionSettings } from '../source/snapshot.js';

/** The source's catalog and (optionally) exact row counts and content hashes, read now in one read-only transaction. */
export interface SourceNow {
  readonly objects: CatalogObject[];
  readonly counts: TableCount[] | null;
  /** Tables whose count failed on its own (named, not compared). */
  readonly countFailures: readonly TableFailure[];
  /** Every table's content hash now (`deep`), as `run --deep` hashes in the dump snapshot; null without. */
  readonly hashes: TableHash[] | null;
  /** Tables whose hash failed on its own. */
  readonly hashFailures: readonly TableFailure[];
  readonly readAt: string;
}

/**
 * Read the source's objects and, with `counts`, every table's `count(*)` and (`deep`) content hash — one
 * REPEATABLE READ READ ONLY transaction, so counts and hashes describe the same moment.
 */
export async function readSourceNow(src: GuardedSource, counts: boolean, signal?: AbortSignal, deep = false): Promise<SourceNow> {
  await using db = await DbSession.open(src.spec.connection, { audit: src.audit, signal });
  await db.query(IDLE_IN_TRANSACTION_OFF);
  await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  const readAt = new Date().toISOString();
  const objects = await listObjects(db);
  let rows: TableCount[] | null = null;
  let countFailures: readonly TableFailure[] = [];
  let hashes: TableHash[] | null = null;
  let hashFailures: readonly TableFailure[] = [];
  if (counts) {
    // As in run's snapshot session: no statement_timeout, no parallel workers, no JIT for the exact counts; the
    // hashes' text settings (and empty search_path) as on the restored copy.
    for (const sql of scanSessionSettings(src.identity.serverVersion.major)) await db.query(sql);
    const tables = await listTables(db);
    if (deep) await prepareFidelitySession(db);
    ({ counts: rows, failures: countFailures } = await countSourceRows(db, tables, signal));
    if (deep) ({ hashes, failures: hashFailures } = await hashSourceTables(db, tables, signal));
  }
  await db.query('COMMIT');
  return { objects, counts: rows, countFailures, hashes, hashFailures, readAt };
}

/**
 * The restored copy's rows against the source's rows now. FAIL when a source table is missing from the restore,
 * or the restore holds less than (100 − max_table_rows_drop_pct)% of a table's current rows (tables under
 * min_table_rows not judged); WARN for any other difference (the source moved on since the dump); PASS when equal.
 */
export function sourceRowsNowCheck(tables: readonly TableRow[], now: readonly TableCount[], th: Thresholds, readAt: string, unchanged = false, failures: readonly TableFailure[] = []): CheckResult {
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
  // source.unchanged_since_dump: the source is the dump's state, so any difference is the backup's.
  const uncounted = failures.map((f) => `${tableLabel(f)}: ${f.error}`);
  const status: CheckResult['status'] = missing.length || dropped.length || (unchanged && (differ.length || uncounted.length)) ? 'fail' : differ.length || uncounted.length ? 'warn' : 'pass';
  const parts: string[] = [];
  if (missing.length) parts.push(`${missing.length} source table(s) missing from the restored copy: ${missing.slice(0, 10).join(', ')}`);
  if (dropped.length) parts.push(`${dropped.length} table(s) hold more than ${th.max_table_rows_drop_pct}% fewer rows in the backup than in the source: ${dropped.slice(0, 10).join('; ')}`);
  if (uncounted.length) parts.push(`${uncounted.length} source table(s) could not be counted now, so not compared: ${uncounted.slice(0, 10).join('; ')}`);
  if (differ.length) parts.push(`${differ.length} table(s) differ${status === 'warn' ? ' (within thresholds)' : unchanged ? ' although source.unchanged_since_dump says the source has not changed' : ''}: ${differ.slice(0, 10).join('; ')}`);
  return {
    name: 'fidelity.source_rows_now', stage: 'fidelity', status,
    detail: status === 'pass' ? `${now.length} source table(s): every restored count(*) equals the source's — ${label}` : `${parts.join('; ')} — ${label}`,
    evidence: { snapshot_exact: false, read_at: readAt, tables: now.length, missing, dropped, differ: differ.slice(0, 100), not_counted_on_source: failures },
  };
}

/** Restored content hashes, by `schema.table`, to compare with the source's now. */
export type RestoredHashes = ReadonlyMap<string, TableHash>;

/**
 * `fidelity.source_hashes_now` (verify --source --deep): each table's content hash in the restored copy against the
 * source's now (the same order-independent row hash as `run --deep`). Not snapshot-exact: a difference WARNs, as the
 * source may have moved on since the dump — unless `unchanged` (config `source.unchanged_since_dump`): then it FAILs.
 * A table the source could not hash is named with the cause.
 */
export function sourceHashesNowCheck(now: SourceNow, restored: RestoredHashes, unchanged: boolean): CheckResult {
  const label = `compared with the source NOW (read ${now.readAt}), not in the dump's snapshot: ${unchanged ? 'source.unchanged_since_dump says the source has not changed since the dump, so every difference is the backup\'s' : 'the source may have changed since the dump was taken (set source.unchanged_since_dump when it has not)'}`;
  const differ: string[] = [];
  const missing: string[] = [];
  for (const s of now.hashes ?? []) {
    const key = tableLabel(s);
    const r = restored.get(key);
    if (!r) missing.push(key);
    else if (r.hash !== s.hash) differ.push(`${key} (source now ${s.hash.slice(0, 12)}…, restored ${r.hash.slice(0, 12)}…; rows ${s.rows} vs ${r.rows})`);
  }
  const failed = now.hashFailures.map((f) => `${tableLabel(f)} could not be hashed on the source: ${f.error}`);
  const problems = [...differ, ...missing.map((m) => `${m} (not in the restored copy)`), ...failed];
  const status: CheckResult['status'] = problems.length === 0 ? 'pass' : unchanged ? 'fail' : 'warn';
  return {
    name: 'fidelity.source_hashes_now', stage: 'fidelity', status,
    detail: status === 'pass'
      ? `${now.hashes?.length ?? 0} table(s): every content hash of the restored copy equals the source's — ${label}`
      : `${differ.length} table(s) differ in content${missing.length ? `, ${missing.length} missing from the copy` : ''}${failed.length ? `, ${failed.length} not hashed on the source` : ''}: ${problems.slice(0, 10).join('; ')}${problems.length > 10 ? `; … ${problems.length - 10} more` : ''} — ${label}`,
    evidence: { snapshot_exact: false, read_at: now.readAt, unchanged_since_dump: unchanged, tables: now.hashes?.length ?? 0, differ: differ.slice(0, 100), missing, not_hashed_on_source: now.hashFailures },
  };
}
