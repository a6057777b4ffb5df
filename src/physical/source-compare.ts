/**
 * `verify --source URL` of a physical backup: the recovered copy's exact counts of the source's database compared
 * with the source's counts now (`fidelity.source_rows_now`: not the backup's moment — the source moved on since —
 * and labelled so), read-only like every pgdrill session on a source. A physical copy is of the same cluster, so the
 * source's system_identifier should be the copy's: said in a note either way.
 */
import type { DrillConfig } from '../config/schema.js';
import type { ReportBuilder } from '../report/builder.js';
import type { CheckResult, TableRow } from '../report/model.js';
import type { GuardedSource } from '../source/guard-and-proof.js';
import { readSourceNow, sourceRowsNowCheck } from '../verify/source-now.js';

/** The recovered tables of `database`, under their own schema names (report.tables holds `database/schema`). */
export function tablesOfDatabase(tables: readonly TableRow[], database: string): TableRow[] {
  const prefix = `${database}/`;
  return tables.filter((t) => t.schema.startsWith(prefix)).map((t) => ({ ...t, schema: t.schema.slice(prefix.length) }));
}

/** Compare the recovered copy with the source now; adds the identity note. */
export async function compareWithSourceNow(b: ReportBuilder, source: GuardedSource, config: DrillConfig, tables: readonly TableRow[], copySystemIdentifier: string | null, signal?: AbortSignal): Promise<CheckResult> {
  const id = source.identity;
  b.note('physical-source-identity', copySystemIdentifier === id.systemIdentifier
    ? `the source's system_identifier ${id.systemIdentifier} is the recovered copy's: the backup is of this cluster`
    : `the source's system_identifier ${id.systemIdentifier} is NOT the recovered copy's (${copySystemIdentifier ?? 'unknown'}): the backup is of another cluster, so the comparison below says little`);
  const now = await readSourceNow(source, true, signal);
  const th = config.thresholds;
  return sourceRowsNowCheck(tablesOfDatabase(tables, id.database), now.counts ?? [], th, now.readAt, config.source.unchanged_since_dump, now.countFailures);
}
