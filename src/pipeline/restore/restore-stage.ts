/**
 * Isolated restore and the fidelity it proves: start a throwaway cluster, prove it is not the source, restore
 * globals then the dump, and compare objects and roles with the source; then the fidelity stage (exact row counts
 * beside the catalog, round trip and amcheck). Teardown is confirmed here too (unless --keep), on success, failure
 * and interrupt alike.
 */
import { countByType, listObjects, objectKey, type CatalogObject } from '../../catalog/objects.js';
import type { TableCount, TableRef } from '../../catalog/tables.js';
import type { ArtifactFormat } from '../../inventory/read-inventory.js';
import type { DumpInventory } from '../../inventory/types.js';
import type { CheckResult, Fidelity, Report, RestoreError, TableRow } from '../../report/model.js';
import type { DbSession } from '../../pg/client.js';
import { SandboxCluster } from '../../sandbox/cluster.js';
import { stoppedFromOutside } from '../../sandbox/stopped-from-outside.js';
import { egressSettings, knowsRestrictRelkind } from '../../sandbox/egress-settings.js';
import { rolesCreatedBy, sandboxSuperuserFor } from '../../restore/restore-dump.js';
import { classifyRestoreErrors } from '../../restore/classify.js';
import { boundStatement } from '../../restore/restore-errors.js';
import type { CopyBlock } from '../../scan/types.js';
import type { DatabaseLocale } from '../../restore/database-locale.js';
import { endsDrill, type DrillContext } from '../context.js';
import { isolationCheck, measureIsolation } from '../../sandbox/isolation-check.js';
import { preRestoreExtensions, type AfterRestoreHook } from '../../fidelity/fidelity-stage.js';
import { SandboxLease, teardownStage } from '../teardown.js';
import { fidelityStageOfCopy } from '../fidelity.js';
import { defaultJobs, loadDump } from './load-dump.js';
import { foreignBlocksToLeaveOut, foreignDataBlocks, relationKey, restoredForeignTables } from './foreign-data.js';
import type { RowCountPlan } from '../../fidelity/row-counts.js';
import { restoredConfigTables } from '../../fidelity/extension-config.js';
import type { MatviewRefreshLine, PgDumpTransactionLine } from '../../scan/types.js';
import type { SourceFidelity } from '../../fidelity/source-capture.js';
import { emptyFidelity, type SourceNowComparison } from '../../fidelity/verify-restored.js';

/** What the restore stage needs to know about the artefact and the source. */
export interface RestoreStageInput {
  readonly artifact: { readonly path: string; readonly format: ArtifactFormat };
  readonly globals: { readonly path: string | null; readonly mode: 'globals-only' | 'roles-only' | 'none' };
  readonly inventory: DumpInventory;
  readonly database: string;
  readonly encoding: string;
  /** The locale to create the database with (database-locale.ts); null/absent: SANDBOX_DEFAULT_LOCALE (libc C). */
  readonly locale?: DatabaseLocale | null;
  /** Source identity and catalog (null when verifying without a source). */
  readonly sourceSystemIdentifier: string | null;
  readonly sourceObjects: readonly CatalogObject[] | null;
  /** Exact counts from the dump's snapshot, or null. */
  readonly sourceCounts: readonly TableCount[] | null;
  /** The source's user relations (the guard's count), or null: then estimated from the inventory. */
  readonly sourceRelations?: number | null;
  /** Tables to count when there are no source counts (from the dump's COPY blocks / inventory). */
  readonly tablesFromDump: readonly TableRef[];
  readonly copyBlocks?: readonly CopyBlock[];
  /** verify --source --deep: the source's content hashes now, compared with the copy's (fidelity.source_hashes_now). Default none. */
  readonly sourceNow?: SourceNowComparison | null;
  /** A plain dump's `BEGIN;`/`COMMIT;` lines around large-object data (the scan's `pgDumpTransactionLines`), dropped from a one-transaction replay. Default none. */
  readonly pgDumpTransactionLines?: readonly PgDumpTransactionLine[];
  /** A dump's REFRESH lines of materialized views once it declared a foreign table (the scan's `matviewRefreshes`): held back and run after the restore. Default none. */
  readonly matviewRefreshes?: readonly MatviewRefreshLine[];
  readonly keep: boolean;
  readonly jobs?: number;
  /** What the source side of the fidelity checks captured in the dump snapshot; absent/null: only amcheck runs. */
  readonly sourceFidelity?: SourceFidelity | null;
  /** Test/extension hook: called with the restored copy once restored, before it is measured (objects, counts, fidelity). Default none. */
  readonly afterRestore?: AfterRestoreHook;
  /** Test hook: called with the copy right after a parallel archive restore (`pg_restore --jobs`), before it is searched for a race's traces (parallel-restore-race.ts). Default none. */
  readonly afterParallelRestore?: AfterRestoreHook;
  /** Overlap (src/pipeline/restore/overlapped-restore.ts): a sandbox started while the source was dumped and, for a plain dump, the restore already replayed from pg_dump's stream. Default: start the sandbox and restore here. */
  readonly prepared?: PreparedRestore;
  /**
   * A plain dump made with `pg_dump --create` creates `database` and `\connect`s to it itself: then the stage does
   * not create it, and psql starts in `postgres`. Default false (verify sets it for such dumps).
   */
  readonly dumpCreatesDatabase?: boolean;
}

/** What the overlap prepared before the restore stage: the sandbox, and (plain dumps) the restore that ran while pg_dump wrote. */
export interface PreparedRestore {
  /** The sandbox started early; rejects with the error its start failed with. */
  sandbox(): Promise<SandboxCluster>;
  /** Overlapped plain restore: ends psql's input, waits for psql and returns every error of the globals and the dump. Absent: restore here. */
  readonly restored?: () => Promise<{ readonly errors: RestoreError[]; readonly durationMs: number }>;
  /**
   * The restore stage ended without `restored()` having finished (an error or a refusal before it, a signal during
   * it): stop feeding psql and kill it. Its end of input is held back until `restored()`, so a psql left alone would
   * wait on its stdin for ever and keep the drill's process alive after the drill. A no-op once psql has exited.
   */
  readonly abandon?: () => void;
}

/**
 * Settings of a restore sandbox, beyond the sandbox's own (no TCP, durability off). `wal_level = minimal`: a table
 * created and loaded in one transaction (psql --single-transaction) writes no WAL for its data or its indexes.
 * One transaction holds a lock on every relation it creates: `max_locks_per_transaction` comes from
 * `locksPerTransaction` (the lock table holds about 80 × its value with 40 connections: 1024 held 81,495 tables
 * created in one transaction, the next one failed with "out of shared memory").
 * `maintenance_work_mem` stays PostgreSQL's 64 MB: index builds with 256 MB or 1 GB were slower (a huge in-memory
 * sort touches memory a merge of small runs does not: docs/performance.md), and a sandbox beside production work
 * should not take a gigabyte per index build.
 * `jit = off`: the checks' scans (counts with their parallel workers, each compiling on its own, hashes) pay JIT's
 * compilation and never earn it back — the restored 5M-row count of pgbench scale 50 took 0.62 s with it, 0.52 s
 * without; side by side, drills of that source ended ~0.2 s sooner (median of 5 pairs).
 * `autovacuum = off`: a restored table is all new rows, which (PostgreSQL 13+: autovacuum_vacuum_insert_threshold)
 * calls for a VACUUM and an ANALYZE — measured, a restored pgbench scale 50 left running got both ~80 s after
 * the start — so in any drill longer than that, autovacuum workers would rewrite the big tables' pages beside
 * the counts and pg_amcheck, for a cluster that is deleted minutes later. (Vacuums against wraparound still run.)
 */
export function restoreSandboxSettings(relations: number | null, serverMajor: number, serverMinor = 0): Readonly<Record<string, string>> {
  return {
    ...egressSettings(serverMajor, serverMinor),
    ...(serverMajor >= 11 ? { jit: 'off' } : {}), autovacuum: 'off', wal_level: 'minimal', max_wal_senders: '0', max_connections: '40', max_locks_per_transaction: String(locksPerTransaction(relations)),
    // The SQLSTATE in the log too: pg_restore prints none, and a restore error is matched with its logged statement (src/restore/server-log-errors.ts).
    log_line_prefix: "'%m [%p] %e '",
  };
}

/**
 * `max_locks_per_transaction` for restoring `relations` relations in one transaction: room for 2.5 times as many
 * locks (relations / 32 × ~80), at least 1024 (~80,000 locks, a few MB of shared memory). Unknown: 1024.
 */
export function locksPerTransaction(relations: number | null): number {
  return Math.max(1024, Math.ceil((relations ?? 0) / 32));
}

/**
 * The relations a dump creates, from its inventory, when the source's count is not known (verify): a table or
 * materialized view with its TOAST table and index (3), an index, a constraint (its index, if any), a sequence or
 * a view (1 each).
 */
export function relationsInInventory(inv: DumpInventory): number {
  let n = 0;
  for (const e of inv.entries) {
    if (e.type === 'TABLE' || e.type === 'MATERIALIZED VIEW') n += 3;
    else if (e.type === 'INDEX' || e.type === 'CONSTRAINT' || e.type === 'SEQUENCE' || e.type === 'VIEW') n += 1;
  }
  return n;
}

/**
 * Start the throwaway cluster of a drill (also used by the overlap to start it early, with the same options).
 * Its superuser is named so that no role the globals create collides with it (globals replay stops on errors):
 * `avoid` is the globals script's path (its CREATE ROLE lines are read) or the source's role names.
 */
export async function startRestoreSandbox(ctx: DrillContext, avoid: string | ReadonlySet<string> | null, relations: number | null): Promise<SandboxCluster> {
  const superuser = sandboxSuperuserFor(typeof avoid === 'string' ? await rolesCreatedBy(avoid) : avoid ?? new Set());
  const version = ctx.bins.server.version;
  const settings = restoreSandboxSettings(relations, version.major, version.minor);
  if (!knowsRestrictRelkind(version.major, version.minor)) {
    ctx.builder.note('foreign-tables-unrestricted', `the sandbox's server ${version.text} predates restrict_nonsystem_relation_kind (15.8, 14.13, 13.16, 12.20, 16.4): statements in the restored copy can use a foreign table's server; only the jail's network namespace keeps them from reaching it — install a current minor release`);
  }
  ctx.logger.info(`restore sandbox: max_locks_per_transaction ${settings.max_locks_per_transaction} for ${relations ?? 'an unknown number of'} relations restored in one transaction`);
  return SandboxCluster.start({ bins: ctx.bins, parentDir: ctx.runDir, osUser: ctx.sandboxUser, logger: ctx.logger, signal: ctx.signal, superuser, settings, spare: true });
}

/** `restore.roles`: every role the dump references exists in the sandbox (roles are cluster-wide: any database's session will do). */
async function rolesCheck(db: DbSession, referenced: readonly string[], globalsMode: RestoreStageInput['globals']['mode']): Promise<CheckResult> {
  const roles = await db.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1)', [referenced]);
  const have = new Set(roles.map((r) => r.rolname));
  const missingRoles = referenced.filter((r) => !have.has(r));
  return {
    name: 'restore.roles', stage: 'restore',
    status: missingRoles.length ? 'fail' : globalsMode === 'none' ? 'warn' : 'pass',
    detail: missingRoles.length
      ? `role(s) referenced by the dump missing after restore: ${missingRoles.join(', ')}`
      : `all ${referenced.length} role(s) referenced by the dump exist after restore${globalsMode === 'none' ? ' (as placeholders: globals were not captured)' : ` (from ${globalsMode})`}: ${referenced.join(', ')}`,
    evidence: { referenced, missing: missingRoles },
  };
}


/**
 * What the restore stage did: the report's `restore`, `tables`, `fidelity` and `teardown` sections — also when an
 * error that ends the drill (interrupt, environment, bug) stopped it: then `ended` holds it, for the caller to
 * rethrow once the sections are in the report.
 */
export interface RestoreResult {
  readonly restore: NonNullable<Report['restore']> | null;
  readonly tables: readonly TableRow[];
  readonly fidelity: Fidelity | null;
  readonly teardown: Report['teardown'];
  readonly ended: { readonly error: unknown } | null;
}

/** No restore ran: no sandbox started (or the overlap's, torn down: `teardown`). */
export function notRestored(teardown?: Report['teardown'] | null): RestoreResult {
  return { restore: null, tables: [], fidelity: null, teardown: teardown ?? { confirmed: true, detail: 'no sandbox was started', postmaster_pid: null }, ended: null };
}

/** What the stage records as it runs, so that an interrupted stage still reports its sandbox, tables and fidelity. */
interface StageRecord {
  readonly lease: SandboxLease;
  readonly restore: NonNullable<Report['restore']>;
  readonly fidelity: Fidelity;
  readonly tables: TableRow[];
}

/** Run the restore, fidelity and teardown stages; adds their checks to ctx.builder. Never throws a drill-ending error: see `ended`. */
export async function restoreStage(ctx: DrillContext, input: RestoreStageInput): Promise<RestoreResult> {
  const rec: StageRecord = {
    lease: new SandboxLease(),
    restore: {
      system_identifier: null, server_version: null, os_user: ctx.sandboxUser?.name ?? null, data_dir: null, socket_dir: null,
      duration_ms: null, errors: [], objects_source: {}, objects_restored: {}, missing_objects: [], kept: false, connect: null,
    },
    fidelity: emptyFidelity(input.sourceFidelity?.deep ?? false),
    tables: [],
  };
  const ended = await restoreAndCompare(ctx, input, rec).then(() => null, (error: unknown) => ({ error }));
  input.prepared?.abandon?.();
  const t = await teardownStage(ctx, rec.lease.sandbox, { keep: input.keep, database: input.database });
  return { restore: { ...rec.restore, kept: t.kept, connect: t.connect }, tables: rec.tables, fidelity: rec.fidelity, teardown: t.teardown, ended };
}

/** The restore stage, then the fidelity stage on the copy — or its skip, when the restore stopped at an error. */
async function restoreAndCompare(ctx: DrillContext, input: RestoreStageInput, rec: StageRecord): Promise<void> {
  const outcome = await ctx.builder.stage('restore', () => restoreInto(ctx, input, rec), endsDrill);
  await endIfStoppedFromOutside(ctx, rec.lease.sandbox, 'the restore');
  if (!outcome) return;
  if ('stopped' in outcome) return ctx.builder.skipStage('fidelity', outcome.stopped);
  await fidelityStageOfCopy(ctx, outcome.sandbox, outcome.rowCounts, { ...input, jobs: input.jobs ?? defaultJobs(), unpopulatedMatviews: outcome.unpopulatedMatviews }, rec);
  await endIfStoppedFromOutside(ctx, outcome.sandbox, 'the fidelity checks');
}

/**
 * A stage that failed because the sandbox's server was killed or stopped from outside pgdrill (stopped-from-outside.ts)
 * judged nothing of the backup: the drill ends as an environment error (exit 4) instead of a FAIL. Looked at only
 * when something failed.
 */
async function endIfStoppedFromOutside(ctx: DrillContext, sandbox: SandboxCluster | null, during: string): Promise<void> {
  if (!sandbox || !ctx.builder.failed) return;
  const stopped = await stoppedFromOutside(sandbox, during);
  if (stopped) throw stopped;
}

/** How a restore ended: compared (the copy's row counts follow), or stopped at its first error (why it is not compared). */
type RestoreOutcome = { readonly sandbox: SandboxCluster; readonly rowCounts: RowCountPlan; readonly unpopulatedMatviews: ReadonlySet<string> } | { readonly stopped: string };

/** Start (or take over) the sandbox, prove it isolated, restore, judge the errors and compare the catalog; null: not isolated. */
async function restoreInto(ctx: DrillContext, input: RestoreStageInput, rec: StageRecord): Promise<RestoreOutcome | null> {
  const { restore } = rec;
  const sandbox = await rec.lease.take(() => input.prepared
    ? input.prepared.sandbox()
    : startRestoreSandbox(ctx, input.globals.mode === 'none' ? null : input.globals.path, input.sourceRelations ?? relationsInInventory(input.inventory)));
  if (!(await measureSandbox(ctx, input, sandbox, restore))) return null;
  await preRestoreExtensions(ctx, sandbox, input.sourceFidelity, rec.fidelity);
  // Overlapped plain restore: globals and dump were replayed while pg_dump ran; this only waits for psql's end.
  const overlapped = input.prepared?.restored ? await input.prepared.restored() : null;
  restore.overlapped = overlapped !== null;
  const loaded = await loadDump(ctx, input, sandbox, overlapped);
  restore.duration_ms = loaded.durationMs;
  // psql's errors once the server was killed or stopped from outside are not the dump's: no restore.errors of them.
  if (loaded.errors.length) {
    const stopped = await stoppedFromOutside(sandbox, 'the restore');
    if (stopped) throw stopped;
  }
  const real = judgeErrors(ctx, restore, loaded.errors);
  // The hook sees the copy as restored, before anything measures it.
  if (input.afterRestore) {
    await input.afterRestore({ url: sandbox.url(input.database), database: input.database, dataDir: sandbox.dataDir, env: sandbox.env(input.database) });
  }
  // psql stops at a plain dump's first error (ON_ERROR_STOP): the copy is known to be incomplete, and comparing
  // it would turn that one error into a difference for every object after it. One error is one finding.
  // (Only the dump's own errors: the globals are replayed apart, and the dump after them restores either way.)
  const plain = input.artifact.format === 'plain' || input.artifact.format === 'plain-gzip';
  const stoppedAt = real.find((e) => e.phase === 'dump');
  if (stoppedAt && (plain || loaded.archiveRolledBack || loaded.refreshFailed)) {
    const oneTransaction = overlapped !== null || !input.dumpCreatesDatabase;
    const stopped = loaded.refreshFailed
      ? `the refresh of a materialized view, run after the restore, failed${stoppedAt.line ? ` (line ${stoppedAt.line})` : ''}: the copy is not compared (see restore.errors)`
      : oneTransaction
      ? `the restore stopped at its first error and was rolled back as a whole (one transaction): nothing of the dump was committed, so the copy is not compared (see restore.errors)`
      : `psql stopped at the dump's first error${stoppedAt.line ? ` (line ${stoppedAt.line})` : ''}: what follows it was not restored, so the copy is not compared (see restore.errors)`;
    ctx.builder.add({ name: 'restore.objects', stage: 'restore', status: 'skip', detail: stopped });
    // Roles are the cluster's, not the copy's: a missing one is often why the dump stopped.
    await using pdb = await sandbox.openForChecks('postgres', ctx.signal);
    ctx.builder.add(await rolesCheck(pdb, loaded.referenced, input.globals.mode));
    return { stopped };
  }
  return {
    sandbox, rowCounts: await compareCatalog(ctx, input, sandbox, restore, loaded.referenced),
    unpopulatedMatviews: new Set(loaded.heldBackMatviews.map((m) => m.label)),
  };
}

/** The sandbox's facts in the report, and `sandbox.isolated` measured on the running server. */
async function measureSandbox(ctx: DrillContext, input: RestoreStageInput, sandbox: SandboxCluster, restore: NonNullable<Report['restore']>): Promise<boolean> {
  restore.data_dir = sandbox.dataDir;
  restore.socket_dir = sandbox.socketDir;
  if (sandbox.placementNote) ctx.builder.note('sandbox-placement', sandbox.placementNote);
  restore.system_identifier = await sandbox.systemIdentifier();
  await using db = await sandbox.openForChecks();
  restore.server_version = await db.value<string>('SHOW server_version');
  // Measured on the running server: system_identifier, listen_addresses, the postmaster's TCP sockets.
  return ctx.builder.add(isolationCheck(await measureIsolation(db, input.sourceSystemIdentifier), sandbox.socketDir)).status === 'pass';
}

/** `restore.errors`: the errors classified (benign or real), logged whole, bounded in the report; returns the real ones. */
function judgeErrors(ctx: DrillContext, restore: NonNullable<Report['restore']>, errors: readonly RestoreError[]): RestoreError[] {
  // Error texts come from the restored copy (a hostile dump chooses them): run.log keeps them whole, reports bounded.
  for (const e of errors) ctx.logger.info(`restore error (${e.phase}${e.line ? `, line ${e.line}` : ''}): ${e.sqlstate ? `${e.sqlstate}: ` : ''}${e.message}${e.statement ? `\n  statement: ${e.statement}` : ''}`);
  restore.errors = classifyRestoreErrors([...errors]).map(boundStatement);
  const real = restore.errors.filter((e) => e.classification !== 'benign');
  ctx.builder.expect('restore.errors', 'restore', real.length === 0,
    `restored in ${restore.duration_ms} ms with no errors${restore.errors.length ? ` (${restore.errors.length} benign, e.g. ${restore.errors[0]!.message})` : ''}`,
    `${real.length} restore error(s); first: ${real[0]?.message}${real[0]?.statement ? ` — in: ${real[0].statement.split('\n')[0]!.slice(0, 160)}` : ''}`,
    { errors: real.length, benign: restore.errors.length - real.length });
  return real;
}

/** The restored catalog against the source's (from the dump's snapshot), and the roles; exact counts follow in the fidelity stage. */
async function compareCatalog(ctx: DrillContext, input: RestoreStageInput, sandbox: SandboxCluster, restore: NonNullable<Report['restore']>, referenced: readonly string[]): Promise<RowCountPlan> {
  const b = ctx.builder;
  await using db = await sandbox.openForChecks(input.database, ctx.signal);
  const restoredObjects = await listObjects(db);
  restore.objects_restored = countByType(restoredObjects);
  if (input.sourceObjects) {
    restore.objects_source = countByType(input.sourceObjects);
    const have = new Set(restoredObjects.map(objectKey));
    restore.missing_objects = input.sourceObjects.map(objectKey).filter((k) => !have.has(k));
    b.expect('restore.objects', 'restore', restore.missing_objects.length === 0,
      `all ${input.sourceObjects.length} source objects present in the restore (${Object.entries(restore.objects_restored).map(([k, v]) => `${v} ${k}`).join(', ')})`,
      `${restore.missing_objects.length} source object(s) missing after restore: ${restore.missing_objects.slice(0, 20).join(', ')}`,
      { source: restore.objects_source, restored: restore.objects_restored, missing: restore.missing_objects });
  }
  b.add(await rolesCheck(db, referenced, input.globals.mode));
  // Foreign tables are never read in the sandbox (foreign-data.ts): their rows, where the dump carries them
  // (--include-foreign-data), are reported from the dump's stream (note foreign-table-data), not compared.
  // By exact name (schema and name): an ordinary table spelled like a foreign one once quotes are dropped stays.
  const foreign = restoredForeignTables(restoredObjects);
  const isForeign = (key: string) => foreign.has(key);
  const foreignBlocks = await foreignBlocksToLeaveOut(db, foreignDataBlocks(input.copyBlocks ?? [], input.inventory, isForeign));
  // Extension configuration tables belong to their extension (listObjects leaves them out) but the dump carries their rows.
  const configTables = await restoredConfigTables(db);
  return {
    sourceCounts: input.sourceCounts?.filter((t) => !isForeign(relationKey(t.schema, t.name))) ?? null,
    tablesFromDump: input.tablesFromDump.filter((t) => !isForeign(relationKey(t.schema, t.name))),
    copyBlocks: (input.copyBlocks ?? []).filter((blk) => !foreignBlocks.has(blk)), dumpEncoding: input.inventory.encoding,
    restoredTables: new Set([...restoredObjects.filter((o) => o.type === 'table').map((o) => `${o.schema}.${o.name}`), ...configTables.keys()]),
    configTables,
  };
}
