/** Options every drill command takes (run, demo's drill, verify): how it reports, where its programs are, its outputs. */
import type { Logger, ProgressCallback } from '../logger.js';
import type { DiscoverOptions } from '../toolchain/discover.js';

export interface PipelineOptions {
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  readonly progress?: ProgressCallback;
  /** The command line, for the report (secrets are redacted). */
  readonly argv?: readonly string[];
  /** Directory of PostgreSQL programs that wins for what it holds. Default: PG_BINDIR; then the config's binaries and the usual places. */
  readonly bindir?: string;
  /** Where to look for PostgreSQL programs (for embedding and tests). Default: the machine (docs/versions.md). */
  readonly discover?: DiscoverOptions;
  /** Write JUnit XML (one test case per check) to this file. Default: none. */
  readonly junit?: string;
  /** Update this Prometheus textfile-collector file with the drill's metrics. Default: none. */
  readonly metrics?: string;
}
