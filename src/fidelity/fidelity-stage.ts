/**
 * Where the fidelity checks meet the drill: the extension pre-check (before the restore) and the `fidelity` stage
 * (after it). Kept here so that the restore stage only calls two functions.
 */
import { join } from 'node:path';
import type { DrillContext } from '../pipeline/context.js';
import { endsDrill } from '../pipeline/context.js';
import type { Fidelity, TableRow } from '../report/model.js';
import type { SandboxCluster } from '../sandbox/cluster.js';
import { sandboxExtensionsCheck } from './extensions.js';
import type { SourceFidelity } from './source-capture.js';
import type { RowCountPlan } from './row-counts.js';
import { verifyRestored, type SourceNowComparison } from './verify-restored.js';

/** Where a drill's fidelity files (the two schema-only dumps) go: `<run dir>/fidelity`. */
export function fidelityDir(runDir: string): string {
  return join(runDir, 'fidelity');
}

/** What the restored copy looks like to a hook: enough to connect and to find its files. */
export interface RestoredCopy {
  /** libpq URL of the restored database (trust over the sandbox's private socket). */
  readonly url: string;
  readonly database: string;
  readonly dataDir: string;
  /** PG* environment for PostgreSQL's client programs. */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * Called with the restored copy once the restore ended without errors, before anything measures it (objects, counts,
 * fidelity). For tests (mutate the copy, prove a check names the culprit) and extensions (extra checks of one's own).
 */
export type AfterRestoreHook = (copy: RestoredCopy) => Promise<void>;

/**
 * Before restoring: every source extension must be available on the sandbox's server (`restore.extensions_available`;
 * a missing one is an environment defect named up front). Does nothing without a source capture.
 */
export async function preRestoreExtensions(ctx: DrillContext, sandbox: SandboxCluster, source: SourceFidelity | null | undefined, fidelity: Fidelity): Promise<void> {
  if (!source) return;
  if (!source.extensions) {
    ctx.builder.add({ name: 'restore.extensions_available', stage: 'restore', status: 'warn', detail: `the source's extensions could not be read in the dump snapshot (${source.errors.extensions ?? 'unknown error'}): availability in the sandbox not checked` });
    return;
  }
  await using db = await sandbox.open('postgres', ctx.signal);
  const { check, gap } = await sandboxExtensionsCheck(db, source.extensions);
  ctx.builder.add(check);
  fidelity.extensions_missing = gap.missing.map((e) => ({ name: e.name, version: e.version }));
  if (gap.missing.length) ctx.logger.warn(`sandbox lacks extension(s): ${gap.missing.map((e) => e.name).join(', ')}`);
}

/** What the fidelity stage needs. */
export interface FidelityStageInput {
  readonly sandbox: SandboxCluster;
  readonly database: string;
  readonly source: SourceFidelity | null | undefined;
  /** What the exact row counts compare. */
  readonly rowCounts: RowCountPlan;
  /** The report's table rows, filled by the counts. */
  readonly tables: TableRow[];
  readonly fidelity: Fidelity;
  readonly jobs: number;
  /** The sandbox stays running afterwards (--keep). */
  readonly keep: boolean;
  /** verify --source --deep: the source's content hashes now. Default none. */
  readonly sourceNow?: SourceNowComparison | null;
}

/** The `fidelity` stage: the exact row counts and every check of verify-restored.ts. */
export async function fidelityStage(ctx: DrillContext, input: FidelityStageInput): Promise<void> {
  await ctx.builder.stage('fidelity', async () => {
    await verifyRestored(ctx.builder, {
      sandbox: input.sandbox, database: input.database, bins: ctx.bins, dir: fidelityDir(ctx.runDir), source: input.source ?? null,
      rowCounts: input.rowCounts, tables: input.tables, fidelity: input.fidelity, jobs: input.jobs, keep: input.keep, logger: ctx.logger, signal: ctx.signal,
      sourceNow: input.sourceNow,
    });
  }, endsDrill);
}
