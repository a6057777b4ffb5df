/**
 * Where the fidelity checks meet the drill: the extension pre-check (before the restore) and the `fidelity` stage
 * (after it). Kept here so that the restore stage only calls two functions.
 */
import { join } from 'node:path';
import type { DrillContext } from '../drill/context.js';
import { endsDrill } from '../drill/context.js';
import type { Fidelity, TableRow } from '../report/model.js';
import type { SandboxCluster } from '../sandbox/cluster.js';
import { sandboxExtensionsCheck } from './extensions.js';
import type { SourceFidelity } from './source-capture.js';
import { verifyRestored } from './verify-restored.js';

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
 * Called with the restored copy after the restore and its count checks, before the fidelity checks. For tests
 * (mutate the copy, prove a check names the culprit) and extensions (extra checks of one's own).
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
  readonly tables: TableRow[];
  readonly fidelity: Fidelity;
  readonly afterRestore?: AfterRestoreHook;
  readonly jobs: number;
}

/** The `fidelity` stage: the hook, then every check of verify-restored.ts. */
export async function fidelityStage(ctx: DrillContext, input: FidelityStageInput): Promise<void> {
  await ctx.builder.stage('fidelity', async () => {
    const { sandbox, database } = input;
    if (input.afterRestore) {
      await input.afterRestore({ url: sandbox.url(database), database, dataDir: sandbox.dataDir, env: sandbox.env(database) });
    }
    await verifyRestored(ctx.builder, {
      sandbox, database, bins: ctx.bins, dir: fidelityDir(ctx.runDir), source: input.source ?? null, tables: input.tables,
      fidelity: input.fidelity, jobs: input.jobs, logger: ctx.logger, signal: ctx.signal,
    });
  }, endsDrill);
}
