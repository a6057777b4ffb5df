/**
 * The fidelity stage of a restored copy (src/fidelity/): exact row counts beside the catalog, content hashes,
 * the catalog compared, the round trip and amcheck — the report's `fidelity` section and `tables`.
 */
import type { Fidelity, TableRow } from '../report/model.js';
import type { SandboxCluster } from '../sandbox/cluster.js';
import { fidelityStage } from '../fidelity/fidelity-stage.js';
import type { RowCountPlan } from '../fidelity/row-counts.js';
import type { SourceFidelity } from '../fidelity/source-capture.js';
import type { SourceNowComparison } from '../fidelity/verify-restored.js';
import type { DrillContext } from './context.js';

/** The report's sections the fidelity stage fills as it runs (an interrupted stage still reports what it measured). */
export interface FidelityResult {
  readonly fidelity: Fidelity;
  readonly tables: TableRow[];
}

/** Run the fidelity stage on the copy in `sandbox`, filling `into`. */
export async function fidelityStageOfCopy(ctx: DrillContext, sandbox: SandboxCluster, rowCounts: RowCountPlan, o: {
  readonly database: string;
  readonly sourceFidelity?: SourceFidelity | null;
  readonly sourceNow?: SourceNowComparison | null;
  readonly jobs: number;
  readonly keep: boolean;
}, into: FidelityResult): Promise<void> {
  await fidelityStage(ctx, {
    sandbox, database: o.database, source: o.sourceFidelity, rowCounts, tables: into.tables,
    fidelity: into.fidelity, jobs: o.jobs, keep: o.keep, sourceNow: o.sourceNow,
  });
}
