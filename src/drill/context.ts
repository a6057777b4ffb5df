/** What every stage of a drill shares. */
import type { PgBinaries } from '../exec/binaries.js';
import type { OsUser } from '../exec/os-user.js';
import type { Logger, ProgressCallback } from '../logger.js';
import type { ReportBuilder } from '../report/builder.js';
import { EnvironmentError, InterruptedError } from '../errors.js';

export interface DrillContext {
  readonly bins: PgBinaries;
  readonly sandboxUser: OsUser | null;
  readonly logger: Logger;
  readonly progress: ProgressCallback;
  readonly builder: ReportBuilder;
  readonly runDir: string;
  readonly signal?: AbortSignal;
}

/** Errors that end a drill (after teardown and the report) instead of becoming a failed check. */
export function endsDrill(err: unknown): boolean {
  return err instanceof InterruptedError || err instanceof EnvironmentError;
}
