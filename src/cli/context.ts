/** What every command of the CLI is given. */
import type { Logger } from '../logger.js';

/** Shared by every command. */
export interface CliContext {
  readonly signal: AbortSignal;
  readonly logger: Logger;
  readonly argv: readonly string[];
  /** Set by a command: the exit code when it returns normally. */
  exitCode: number;
}
