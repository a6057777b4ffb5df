/**
 * The fidelity stage of a restored copy (src/fidelity/): exact row counts beside the catalog, content hashes,
 * the catalog compared, the round trip and amcheck — the report's `fidelity` section and `tables`.
 */
import type { Fidelity, TableRow } from '../report/model.js';
import type { SandboxCluster } from '../sandbox/cluster.js';
import { fidelityDir } from '../fidelity/fidelity-stage.js';
import type { RowCountPlan } from '../fidelity/row-counts.js';
import type { SourceFidelity } from '../fidelity/source-capture.js';
import { verifyRestored, type SourceNowComparison } from '../fidelity/verify-restored.js';
import { endsDrill, type DrillContext } from './context.js';

/** The report's sections the fidelity stage fills as it runs (an interrupted stage still reports what it measured). */
export interface FidelityResult {
  readonly fidelity: Fidelity;
  readonly tables: TableRow[];
}

/**
 * Run the `fidelity` stage on the copy in `sandbox` — the exact row counts and every check of verify-restored.ts —,
 * filling `into`. An interrupt, an environment error or a bug ends the drill (`endsDrill`); anything else is a failed check.
 */
export async function fidelityStageOfCopy(ctx: DrillContext, sandbox: SandboxCluster, rowCounts: RowCountPlan, o: {
  readonly database: string;
  /** What the source side captured in the dump snapshot; null/absent: only what the copy and the dump prove. */
  readonly sourceFidelity?: SourceFidelity | null;
  /** verify --source --deep: the source's content hashes now. Default none. */
  readonly sourceNow?: SourceNowComparison | null;
  readonly jobs: number;
  /** The sandbox stays running afterwards (--keep). */
  readonly keep: boolean;
  /** `schema.name` of the materialized views the restore left unpopulated (src/restore/deferred-refresh.ts). Default none. */
  readonly unpopulatedMatviews?: ReadonlySet<string>;
}, into: FidelityResult): Promise<void> {
  await ctx.builder.stage('fidelity', async () => {
    await verifyRestored(ctx.builder, {
      sandbox, database: o.database, bins: ctx.bins, dir: fidelityDir(ctx.runDir), source: o.sourceFidelity ?? null,
      rowCounts, tables: into.tables, fidelity: into.fidelity, jobs: o.jobs, keep: o.keep, logger: ctx.logger, signal: ctx.signal,
      sourceNow: o.sourceNow, unpopulatedMatviews: o.unpopulatedMatviews,
    });
  }, endsDrill);
}
