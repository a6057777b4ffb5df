/** pgdrill as a library: every stage returns data; the CLI only renders it. */
export { runDrill, type RunDrillOptions, type DrillResult } from './drill/run-drill.js';
export { runDemo, type DemoOptions, type DemoResult } from './demo/run-demo.js';
export { loadConfig, validateConfig } from './config/load.js';
export { ConfigSchema, type DrillConfig, type DrillConfigInput } from './config/schema.js';
export { ReportSchema, type Report, type Check } from './report/model.js';
export { renderMarkdown } from './report/markdown.js';
export { writeReports } from './report/write.js';
export { readInventory } from './inventory/read-inventory.js';
export { detectFormat } from './inventory/detect-format.js';
export { contentChecks, summarizeInventory } from './inventory/expectations.js';
export { SandboxCluster, type TeardownResult } from './sandbox/cluster.js';
export { takeDump } from './backup/pg-dump.js';
export { captureGlobals } from './backup/globals.js';
export { checkSums, writeSums, sha256File } from './backup/sha256sums.js';
export { findPgBinaries } from './exec/binaries.js';
export * from './errors.js';
export type { Logger, ProgressEvent, ProgressCallback } from './logger.js';
