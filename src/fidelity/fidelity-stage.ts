/**
 * Where the fidelity checks meet the drill: the restored copy as hooks see it, where the fidelity files go, and the
 * extension pre-check (before the restore). The `fidelity` stage itself (after the restore) is composed by the
 * pipeline (src/pipeline/fidelity.ts) from `verifyRestored`; nothing here knows the pipeline's context.
 */
import { join } from 'node:path';
import type { Logger } from '../logger.js';
import type { ReportBuilder } from '../report/builder.js';
import type { Fidelity } from '../report/model.js';
import type { SandboxCluster } from '../sandbox/cluster.js';
import { sandboxExtensionsCheck } from './extensions.js';
import type { SourceFidelity } from './source-capture.js';

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

/** What a fidelity check needs of the drill running it: where its checks go, its log, its interrupt. */
export interface FidelityCheckContext {
  readonly builder: ReportBuilder;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
}

/**
 * Before restoring: every source extension must be available on the sandbox's server (`restore.extensions_available`;
 * a missing one is an environment defect named up front). Does nothing without a source capture.
 */
export async function preRestoreExtensions(ctx: FidelityCheckContext, sandbox: SandboxCluster, source: SourceFidelity | null | undefined, fidelity: Fidelity): Promise<void> {
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
