/**
 * pgdrill as a library: every stage returns data; the CLI only renders it. Every exported function's options and
 * results are exported as types too (test/install/exports.test.ts holds this), and the package's types
 * resolve for ESM consumers under `moduleResolution: nodenext` (test/install/consumer.test.ts). See docs/library.md.
 */
// Drills: run, demo, verify.
export { runDrill, type RunDrillOptions, type DrillResult } from './drill/run-drill.js';
export { runDemo, type DemoOptions, type DemoResult } from './demo/run-demo.js';
export { verifyArtifact, type VerifyOptions, type VerifyResult } from './verify/verify-artifact.js';
export { isPhysicalBackup, verifyPhysical, type ObtainedBackup, type PhysicalVerifyOptions } from './physical/verify-physical.js';
export { verifyRepositoryBackup, isRepositoryArtifact, type RepositoryVerifyOptions } from './physical/repository-verify.js';
export { checkWalContinuity, type WalContinuity, type WalContinuityOptions, type WalPosition } from './physical/wal-archive.js';
export type { StagedWal } from './physical/wal-stage.js';
export type { AfterRestoreHook, RestoredCopy } from './fidelity/fidelity-stage.js';
// Config.
export { loadConfig, validateConfig } from './config/load.js';
export { ConfigSchema, type DrillConfig, type DrillConfigInput, type ObjectExpectation, type GrantExpectation, type Thresholds, type WebhookConfig } from './config/schema.js';
// The report, its checks and its renderers.
export { ReportSchema, type Report, type Check, type CheckResult } from './report/model.js';
export { CHECKS, stageOf, type CheckName, type CheckDefinition, type StageName, type CommandName } from './report/checks/index.js';
export { renderMarkdown } from './report/markdown.js';
export { writeReports } from './report/write.js';
// History: the runs of an out directory, freshness, the baseline.
export { listRuns, readHistory, type HistoryEntry, type HistoryOptions, type HistoryResult, type SkippedRun } from './history/read-history.js';
export { checkFreshness, judgeFreshness, type FreshnessReport, type DatabaseFreshness, type FreshnessOptions, type FreshnessState } from './history/freshness.js';
export { compareWithBaseline, baselineFor, type BaselineComparison } from './history/baseline.js';
// Outputs: JUnit, Prometheus metrics, webhook.
export { publishOutputs, type OutputOptions, type OutputResult } from './outputs/publish.js';
export { renderJunit } from './outputs/junit.js';
export { writeMetrics, parseMetrics, renderMetrics, type DrillMetrics, type MetricsWriteResult, type MetricSample } from './outputs/metrics.js';
export { sendWebhook, webhookSummary, type WebhookResult, type WebhookAttempt, type SendWebhookOptions, type WebhookSummaryOptions, type WebhookSummary } from './outputs/webhook.js';
// Fidelity comparisons.
export { diffCatalogs, type CatalogDifference } from './fidelity/catalog-diff.js';
export type { CatalogFact } from './fidelity/catalog-facts.js';
export { compareSchemaDumps, ROUND_TRIP_STRIPPED, type StrippedLine, type CompareOptions, type RoundTripComparison, type RoundTripDifference, type RoundTripObject } from './fidelity/round-trip.js';
export type { CrossMajorNormaliser, CrossMajorRule, Side as CrossMajorSide } from './fidelity/cross-major.js';
// Reading dumps: inventory, format, content checks.
export { readInventory, type ArtifactFormat } from './inventory/read-inventory.js';
export { detectFormat } from './inventory/detect-format.js';
export { contentChecks, summarizeInventory } from './inventory/expectations.js';
export type { DumpInventory, InventoryEntry, GrantEntry } from './inventory/types.js';
export type { PlainScanOptions, PlainScanResult, CopyBlock, ScanFinding, PgDumpTransactionLine, MatviewRefreshLine } from './scan/types.js';
export type { CatalogObject } from './catalog/objects.js';
// Backups.
export { takeDump, type DumpOptions, type DumpFormat, type DumpResult, type DumpFile } from './backup/pg-dump.js';
export type { ChunkConsumer } from './backup/hashing-stream.js';
export type { FileDigest } from './backup/sha256-worker.js';
export { captureGlobals, type CaptureGlobalsOptions, type GlobalsResult } from './backup/globals.js';
export { checkSums, writeSums, sha256File, type SumsCheck } from './backup/sha256sums.js';
// Sandboxes, the jail, cleanup.
export { SandboxCluster, type SandboxOptions, type TeardownResult } from './sandbox/cluster.js';
export { cleanupOrphans, type CleanupOptions, type CleanupResult, type CleanupItem } from './sandbox/orphans.js';
export { resolveJail, jailedCommand, type Jail, type JailView, type JailedCommand } from './sandbox/jail.js';
export { resolveSandboxUser, DEFAULT_SANDBOX_USER, type OsUser } from './exec/os-user.js';
export type { PgVersion, PgTool } from './exec/binaries.js';
export { resolveToolchain, resolveDumpReader, localToolchain, type Toolchain, type ToolchainRequest, type ChosenProgram, type ToolRole, type DumpReader } from './toolchain/toolchain.js';
export type { DiscoverOptions, BinariesConfig, ProgramOrigin } from './toolchain/discover.js';
// The source, `pgdrill init`.
export { readSourceFacts, type SourceFacts, type ReadSourceFactsOptions, type SourceRole } from './init/source-facts.js';
export type { SourceIdentity } from './source/identity.js';
export type { DatabaseLocale } from './restore/database-locale.js';
export { renderStarterConfig, type StarterConfigOptions } from './init/starter-config.js';
// Fleets: the coordination database's results, the fleet's status, dashboard and metrics (docs/fleet.md).
export {
  ensureResultsSchema, requireResultsSchema, registerDatabases, recordResult, recordExhaustedJob, latestResults, resultsSince, ResultsSchemaError, RESULTS_SCHEMA, RESULTS_SCHEMA_VERSION,
  type ResultsClient, type FleetDatabaseEntry, type RegisteredDatabase, type FleetResultInput, type FleetResult, type LatestResult, type RegisterResult,
  type ResultSummary, type FleetVerdict, type FleetReason, type FleetDrillKind,
} from './fleet/results-store.js';
export { recordExhaustedJobs, exhaustedMessage, type ExhaustedJob, type JobAttempt } from './fleet/exhausted-jobs.js';
export { summarizeReport, verdictOf } from './fleet/result-summary.js';
export { fleetStatus, judgeFleet, type FleetStatus, type FleetStatusOptions, type FleetDatabaseStatus, type FleetState } from './fleet/fleet-status.js';
export { renderFleetHtml, type FleetHtmlOptions } from './fleet/fleet-html.js';
export { renderFleetMetrics, writeFleetMetrics, fleetSamples, FLEET_METRIC_FAMILIES } from './fleet/fleet-metrics.js';
// Errors, logging, progress.
export * from './errors.js';
export type { Logger, ProgressEvent, ProgressCallback } from './logger.js';
export { installServer, removeServer, type InstallServerOptions, type InstallServerResult } from './toolchain/server-install.js';
export { listServers, type ListedServer, type ServerList } from './toolchain/server-list.js';
export { storedServers, serverStoreDir, type StoredServer, type IgnoredStoreEntry } from './toolchain/server-store.js';
