/**
 * The baseline: every drill compares itself with the previous PASS of the same database in the same out
 * directory — dump size, objects per type, rows per table — and the config's `thresholds` turn a suspicious
 * change into a FAIL. A backup that silently shrank (a table truncated by a bug, a schema dropped, a dump cut
 * by a full disk that still restores) looks healthy on its own; only the comparison shows it.
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Thresholds } from '../config/schema.js';
import { formatBytes } from '../config/duration.js';
import { silentLogger, type Logger } from '../logger.js';
import { ReportSchema, type Baseline, type Change, type CheckResult, type Report } from '../report/model.js';
import { listRuns } from './read-history.js';
import { runDirLabel } from '../out-dir/run-dir.js';
import { drillClass } from './drill-class.js';

/** The database a report belongs to, as `listRuns` names it: the source database, else the run directory's name without its stamp. */
export function databaseOf(r: Report): string {
  const name = basename(r.run.dir) || r.run.id;
  return r.source.database ?? runDirLabel(name);
}

/** The previous PASS a drill is compared with, and the newer PASSes passed over because they are of another class. */
export interface PreviousPass {
  readonly previous: Report | null;
  /** PASSes of the same database, newer than `previous`, of another class (`drillClass`): newest first. */
  readonly passedOver: Report[];
}

/**
 * The newest PASS of `database` in `outDir` that started before `before` (ISO time), other than `excludeRunDir`, and
 * (with `drillClassOf`) of that class; null when there is none. Unreadable run directories are skipped (logged as warnings).
 */
export async function findPreviousPass(outDir: string, database: string, before: string, excludeRunDir: string, logger: Logger = silentLogger, drillClassOf?: string): Promise<PreviousPass> {
  // The drill's own run directory has no report.json yet: not worth a warning.
  const quiet: Logger = { ...logger, warn: (m) => (m.includes(excludeRunDir) ? undefined : logger.warn(m)) };
  const runs = await listRuns(outDir, { logger: quiet });
  const t = Date.parse(before);
  const passedOver: Report[] = [];
  for (const e of runs) {
    if (e.database !== database || e.status !== 'PASS' || e.interrupted || e.runDir === excludeRunDir) continue;
    if (!(Date.parse(e.startedAt) < t)) continue;
    let r: Report;
    try {
      r = ReportSchema.parse(JSON.parse(await readFile(e.reportPath, 'utf8')));
    } catch (err) {
      logger.warn(`baseline: cannot read ${e.reportPath}: ${(err as Error).message}`);
      continue;
    }
    if (drillClassOf === undefined || drillClass(r) === drillClassOf) return { previous: r, passedOver };
    passedOver.push(r);
  }
  return { previous: null, passedOver };
}

function change(previous: number | null, current: number | null): Change {
  const pct = previous !== null && current !== null && previous !== 0 ? Math.round(((current - previous) / previous) * 10000) / 100 : null;
  return { previous, current, change_pct: pct };
}

function signed(pct: number | null): string {
  return pct === null ? 'n/a' : `${pct > 0 ? '+' : ''}${pct}%`;
}

/** Rows of each table in a report: what the restored copy held, else what the dump said. */
function rowsOf(r: Report): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of r.tables) {
    const n = t.restored_rows ?? t.dump_rows ?? null;
    if (n !== null) m.set(`${t.schema}.${t.name}`, n);
  }
  return m;
}

/** What `compareWithBaseline` found: the report's `baseline` section and the `baseline.*` checks. */
export interface BaselineComparison {
  readonly baseline: Baseline | null;
  readonly checks: CheckResult[];
}

/**
 * Compare a drill with the previous PASS (pure: no I/O). With no previous PASS, or one of another class (`drillClass`:
 * a point-in-time drill against one to `latest`, physical against logical), one skipped check says so; `passedOver`
 * (newer PASSes of other classes, newest first) lets it name what was not compared and why.
 */
export function compareWithBaseline(current: Report, previous: Report | null, th: Thresholds, passedOver: readonly Report[] = []): BaselineComparison {
  const basis = drillClass(current);
  if (previous && drillClass(previous) !== basis) return compareWithBaseline(current, null, th, [previous, ...passedOver]);
  if (!previous) return { baseline: null, checks: [noBaselineCheck(current, basis, passedOver)] };
  const prevId = previous.run.id;
  const size = change(previous.backup.size_bytes, current.backup.size_bytes);
  const objects = objectChanges(previous, current);
  const tables = tableChanges(previous, current);
  const checks: CheckResult[] = [
    sizeCheck(previous, current, size, th),
    objectsCheck(previous, current, objects, th),
    tableRowsCheck(previous, current, tables, th),
  ];

  return {
    baseline: {
      run_id: prevId, run_dir: previous.run.dir, started_at: previous.run.started_at, kind: previous.kind,
      format: previous.backup.format, basis, size_bytes: size, objects, tables,
    },
    checks,
  };
}

/** The skipped `baseline.previous_pass`: nothing comparable, and what was passed over (another class) if anything. */
function noBaselineCheck(current: Report, basis: string, passedOver: readonly Report[]): CheckResult {
  const where = `${databaseOf(current)} in ${dirname(current.run.dir)}`;
  const newest = passedOver[0];
  const detail = newest
    ? `no previous PASS of ${where} comparable with this drill (${basis}): the newest PASS ${newest.run.id} was ${drillClass(newest)}${passedOver.length > 1 ? ` (${passedOver.length} PASSes of other kinds passed over)` : ''}; sizes, objects and rows are compared only between drills of the same kind and recovery target, so this drill can become the baseline of later ones like it`
    : `no previous PASS of ${where}: nothing to compare with; this drill can become the baseline`;
  return {
    name: 'baseline.previous_pass', stage: 'baseline', status: 'skip', detail,
    evidence: { basis, passed_over: passedOver.map((r) => ({ run: r.run.id, basis: drillClass(r) })) },
  };
}

/** Dump size: only between equal formats (a custom archive can be 35x smaller than the plain dump of the same data). */
function sizeCheck(previous: Report, current: Report, size: Change, th: Thresholds): CheckResult {
  const prevId = previous.run.id;
  if (th.max_size_shrink_pct === null) {
    return { name: 'baseline.size', stage: 'baseline', status: 'skip', detail: 'thresholds.max_size_shrink_pct is null: dump size not judged' };
  } else if (size.previous === null || size.current === null || size.change_pct === null) {
    return { name: 'baseline.size', stage: 'baseline', status: 'skip', detail: `dump size unknown in this drill or in the previous PASS ${prevId}` };
  } else if (previous.backup.format !== current.backup.format) {
    return { name: 'baseline.size', stage: 'baseline', status: 'skip', detail: `previous PASS ${prevId} was ${previous.backup.format}, this drill is ${current.backup.format}: sizes of different formats are not comparable` };
  }
  const shrunk = -size.change_pct > th.max_size_shrink_pct;
  const what = `dump ${formatBytes(size.current)} (${size.current} bytes) vs ${formatBytes(size.previous)} (${size.previous} bytes) in the previous PASS ${prevId}: ${signed(size.change_pct)}`;
  return {
    name: 'baseline.size', stage: 'baseline', status: shrunk ? 'fail' : 'pass',
    detail: shrunk ? `the dump shrank by more than ${th.max_size_shrink_pct}%: ${what}` : `${what} (limit: −${th.max_size_shrink_pct}%)`,
    evidence: { ...size, limit_pct: th.max_size_shrink_pct, previous_run: prevId },
  };
}

/** Object counts per type that changed, from the dump inventories (empty when either drill has none). */
function objectChanges(previous: Report, current: Report): Record<string, Change> {
  const objects: Record<string, Change> = {};
  const prevObj = previous.inventory?.counts_by_type ?? null;
  const curObj = current.inventory?.counts_by_type ?? null;
  if (prevObj && curObj) {
    for (const type of [...new Set([...Object.keys(prevObj), ...Object.keys(curObj)])].sort()) {
      const c = change(prevObj[type] ?? 0, curObj[type] ?? 0);
      if (c.previous !== c.current) objects[type] = c;
    }
  }
  return objects;
}

/** Objects per type: fails when a type dropped by more than the limit. */
function objectsCheck(previous: Report, current: Report, objects: Record<string, Change>, th: Thresholds): CheckResult {
  const prevId = previous.run.id;
  if (th.max_objects_drop_pct === null) {
    return { name: 'baseline.objects', stage: 'baseline', status: 'skip', detail: 'thresholds.max_objects_drop_pct is null: object counts not judged' };
  } else if (!previous.inventory?.counts_by_type || !current.inventory?.counts_by_type) {
    return { name: 'baseline.objects', stage: 'baseline', status: 'skip', detail: `no inventory in this drill or in the previous PASS ${prevId}` };
  }
  const limit = th.max_objects_drop_pct;
  const dropped = Object.entries(objects).filter(([, c]) => (c.previous ?? 0) > 0 && -(c.change_pct ?? 0) > limit);
  const changed = Object.entries(objects).map(([t, c]) => `${t} ${c.previous} → ${c.current}`);
  return {
    name: 'baseline.objects', stage: 'baseline', status: dropped.length ? 'fail' : 'pass',
    detail: dropped.length
      ? `objects dropped by more than ${limit}% since the previous PASS ${prevId}: ${dropped.map(([t, c]) => `${t} ${c.previous} → ${c.current} (${signed(c.change_pct)})`).join(', ')}`
      : changed.length ? `object counts vs the previous PASS ${prevId}: ${changed.join(', ')} (limit: −${limit}% per type)` : `same object counts per type as the previous PASS ${prevId}`,
    evidence: { changed: objects, limit_pct: limit, previous_run: prevId },
  };
}

/** Row counts per table that changed. */
function tableChanges(previous: Report, current: Report): Baseline['tables'] {
  const prevRows = rowsOf(previous);
  const curRows = rowsOf(current);
  const tables: Baseline['tables'] = [];
  for (const t of [...new Set([...prevRows.keys(), ...curRows.keys()])].sort()) {
    const c = change(prevRows.get(t) ?? null, curRows.get(t) ?? null);
    if (c.previous !== c.current) tables.push({ table: t, ...c });
  }
  return tables;
}

/** Rows per table: fails when a table (of at least min_table_rows) lost more than the limit. */
function tableRowsCheck(previous: Report, current: Report, tables: Baseline['tables'], th: Thresholds): CheckResult {
  const prevId = previous.run.id;
  const prevSize = rowsOf(previous).size;
  const curSize = rowsOf(current).size;
  if (th.max_table_rows_drop_pct === null) {
    return { name: 'baseline.table_rows', stage: 'baseline', status: 'skip', detail: 'thresholds.max_table_rows_drop_pct is null: row counts not judged' };
  } else if (!prevSize || !curSize) {
    return { name: 'baseline.table_rows', stage: 'baseline', status: 'skip', detail: `no row counts in ${curSize ? `the previous PASS ${prevId}` : 'this drill (nothing was restored)'}` };
  }
  const limit = th.max_table_rows_drop_pct;
  const judged = tables.filter((t) => (t.previous ?? 0) >= th.min_table_rows);
  const lost = judged.filter((t) => t.current === null || ((t.previous ?? 0) - t.current) / (t.previous ?? 1) * 100 > limit);
  return {
    name: 'baseline.table_rows', stage: 'baseline', status: lost.length ? 'fail' : 'pass',
    detail: lost.length
      ? `${lost.length} table(s) lost more than ${limit}% of their rows since the previous PASS ${prevId}: ${lost.slice(0, 10).map((t) => `${t.table} ${t.previous} → ${t.current ?? 'GONE'}${t.current === null ? '' : ` (${signed(t.change_pct)})`}`).join('; ')}`
      : `${curSize} table(s) compared with the previous PASS ${prevId}: ${tables.length} changed, none lost more than ${limit}% of its rows (tables under ${th.min_table_rows} rows not judged)`,
    evidence: { changed: tables.length, lost: lost.map((t) => t.table), limit_pct: limit, min_table_rows: th.min_table_rows, previous_run: prevId },
  };
}

/**
 * Find the previous PASS of the report's database in the out directory that holds its run directory and compare.
 * Never throws for an unreadable history: the baseline is then reported as missing.
 */
export async function baselineFor(current: Report, th: Thresholds, logger: Logger = silentLogger): Promise<BaselineComparison> {
  let found: PreviousPass = { previous: null, passedOver: [] };
  try {
    found = await findPreviousPass(dirname(current.run.dir), databaseOf(current), current.run.started_at, current.run.dir, logger, drillClass(current));
  } catch (err) {
    logger.warn(`baseline: cannot read the history in ${dirname(current.run.dir)}: ${(err as Error).message}`);
  }
  return compareWithBaseline(current, found.previous, th, found.passedOver);
}
