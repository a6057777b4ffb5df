/**
 * verify's restore: into the database the dump creates itself (pg_dump --create) or the one the run is filed
 * under, with the archive's locale (else the source's now, else the sandbox's default), counted against the dump's
 * own COPY rows — and, with a source, against its rows now (`fidelity.source_rows_now`).
 */
import { validateConfig } from '../config/load.js';
import type { DrillConfig } from '../config/schema.js';
import type { ArtifactFormat } from '../inventory/read-inventory.js';
import type { DumpInventory } from '../inventory/types.js';
import type { PlainScanResult } from '../scan/types.js';
import type { GuardedSource } from '../source/guard-and-proof.js';
import { archiveDatabaseLocale, describeLocale, SANDBOX_DEFAULT_LOCALE } from '../restore/database-locale.js';
import type { DrillContext } from '../pipeline/context.js';
import { restoreStage, type RestoreResult } from '../pipeline/restore/restore-stage.js';
import { tablesOfCopyBlocks } from '../fidelity/row-counts.js';
import { sourceRowsNowCheck, type SourceNow } from './source-now.js';

/** What verify's restore needs. */
export interface VerifyRestoreInput {
  readonly artifact: string;
  readonly format: ArtifactFormat;
  readonly archive: boolean;
  readonly scan: PlainScanResult;
  /** The database the run is filed under. */
  readonly database: string;
  readonly globalsPath: string | null;
  readonly source: GuardedSource | null;
  readonly now: SourceNow | null;
  readonly config: DrillConfig;
  readonly keep: boolean;
}

/** Restore the artefact, compare, tear down; then (with a source) the rows now. */
export async function verifyRestore(ctx: DrillContext, o: VerifyRestoreInput): Promise<RestoreResult> {
  const { scan: s, now: n, source, config } = o;
  // pg_dump --create: the dump creates its database and connects to it; the restore goes there, whatever the run is filed under.
  const createdDb = o.archive ? null : s.inventory.entries.find((e) => e.type === 'DATABASE')?.name ?? null;
  if (createdDb) ctx.logger.info(`the dump was made with pg_dump --create: it creates and restores into database ${createdDb}`);
  // The locale (and encoding) to create the database with: the archive's own DATABASE entry, else the source's
  // (now), else the sandbox's default — a plain dump without --create does not say (database-locale.ts); its
  // encoding, SQL_ASCII aside, converts into UTF8.
  const fromDump = o.archive ? await archiveDatabaseLocale(ctx.bins, o.artifact, ctx.signal) : null;
  const locale = fromDump?.locale ?? source?.locale ?? null;
  if (!createdDb) {
    ctx.builder.note('restore-locale', `the restored database is created with ${describeLocale(locale ?? SANDBOX_DEFAULT_LOCALE)}: ${fromDump ? "the archive's CREATE DATABASE entry" : source ? "the source's, now (the dump does not say)" : "the sandbox's default — a plain dump made without --create does not say which locale its database had (verify --source URL takes the source's)"}`);
  }
  const restored = await restoreStage(ctx, {
    artifact: { path: o.artifact, format: o.format },
    globals: o.globalsPath ? { path: o.globalsPath, mode: 'globals-only' } : { path: null, mode: 'none' },
    inventory: s.inventory,
    database: createdDb ?? o.database, dumpCreatesDatabase: createdDb !== null, encoding: fromDump?.encoding ?? source?.encoding ?? plainDumpEncoding(s.inventory), locale,
    sourceSystemIdentifier: source?.identity.systemIdentifier ?? null,
    sourceObjects: n?.objects ?? null, sourceCounts: null,
    sourceNow: n?.hashes ? { now: n, unchanged: config.source.unchanged_since_dump } : null,
    tablesFromDump: tablesOfCopyBlocks(s.copyBlocks), copyBlocks: s.copyBlocks, pgDumpTransactionLines: o.archive ? [] : s.pgDumpTransactionLines,
    matviewRefreshes: s.matviewRefreshes, keep: o.keep, jobs: config.backup.jobs,
  });
  if (!restored.ended && n?.counts && restored.tables.length) {
    ctx.builder.add(sourceRowsNowCheck(restored.tables, n.counts, config.thresholds ?? validateConfig({}).thresholds, n.readAt, config.source.unchanged_since_dump, n.countFailures));
  }
  return restored;
}

/**
 * The encoding to restore a plain dump into when nothing else says: UTF8, into which the server converts any dump's
 * text — except SQL_ASCII, whose bytes need not be in any encoding (names in LATIN1 bytes would not convert): only
 * a SQL_ASCII database takes them as they are.
 */
function plainDumpEncoding(inv: DumpInventory): string {
  return inv.encoding === 'SQL_ASCII' ? 'SQL_ASCII' : 'UTF8';
}
