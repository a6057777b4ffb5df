/** What every stage of a drill shares. */
import type { Toolchain } from '../toolchain/toolchain.js';
import type { OsUser } from '../exec/os-user.js';
import type { Logger, ProgressCallback } from '../logger.js';
import type { ReportBuilder } from '../report/builder.js';
import { EnvironmentError, InterruptedError, isBug } from '../errors.js';
import type { DrillConfig } from '../config/schema.js';
import { resolveToolchain, type ToolchainRequest } from '../toolchain/toolchain.js';
import type { DiscoverOptions } from '../toolchain/discover.js';
import { resolveSandboxUser } from '../exec/os-user.js';
import { resolveJail, type Jail } from '../sandbox/jail.js';
import type { PlainScanOptions } from '../scan/types.js';
import { scanOptionsOf } from './report/jail-report.js';

export interface DrillContext {
  readonly bins: Toolchain;
  readonly sandboxUser: OsUser | null;
  readonly logger: Logger;
  readonly progress: ProgressCallback;
  readonly builder: ReportBuilder;
  readonly runDir: string;
  readonly signal?: AbortSignal;
}

/**
 * Errors that end a drill (after teardown and the report) instead of becoming a failed check: interrupts,
 * environment errors and bugs (exit 70: not a verdict on the backup). A full disk mid-drill stays a failed check
 * (the backup could not be taken), its detail naming the file system.
 */
export function endsDrill(err: unknown): boolean {
  return err instanceof InterruptedError || err instanceof EnvironmentError || isBug(err);
}

/** What a drill needs of the machine before it reads anything: the sandbox's OS user and jail, the scan's allowances. */
export interface DrillEnvironment {
  readonly sandboxUser: OsUser | null;
  readonly jail: Jail;
  readonly scanOpts: PlainScanOptions;
}

/** Resolve the drill environment (shared by run, demo and verify). @throws EnvironmentError */
export async function resolveDrillEnvironment(config: Pick<DrillConfig, 'sandbox'>): Promise<DrillEnvironment> {
  const sandboxUser = await resolveSandboxUser(config.sandbox.os_user);
  // The jail the sandbox will run in (OS user, network namespace), known before any dump is read.
  const jail = await resolveJail(sandboxUser);
  return { sandboxUser, jail, scanOpts: scanOptionsOf(config) };
}

/**
 * The drill's programs, chosen for the majors at hand (src/toolchain/toolchain.ts): `bindir` is PG_BINDIR's
 * override (RunDrillOptions.bindir), `discover` where else to look (default: the machine), the config's `binaries` adds directories. Call it before any file is written.
 * @throws EnvironmentError (4) naming what is missing; ConfigError (2) for a sandbox major that cannot load the dump
 */
export function chooseToolchain(config: Pick<DrillConfig, 'binaries'>, where: { readonly bindir?: string; readonly discover?: DiscoverOptions }, req: ToolchainRequest): Promise<Toolchain> {
  return resolveToolchain(req, { config: config.binaries, ...where.discover, ...(where.bindir ? { pgBindir: where.bindir } : {}) });
}
