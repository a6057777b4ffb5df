/**
 * The restore itself, in a sandbox measured isolated: globals (or NOLOGIN placeholder roles), placeholder
 * tablespaces, the database, then the dump — restored again serially when a parallel pg_restore raced
 * (parallel-restore-race.ts), and as one transaction when an archive's restore reported errors.
 */
import { cpus } from 'node:os';
import type { RestoreError } from '../../report/model.js';
import { createDatabase, createPlaceholderRoles, dropDatabase, restoreDump, restoreGlobals, startDatabaseForCreate, superuserOwners } from '../../restore/restore-dump.js';
import { describeParallelRestoreRace, findParallelRestoreRace } from '../../restore/parallel-restore-race.js';
import { createPlaceholderTablespaces, noteTablespaces } from '../../restore/tablespaces.js';
import type { SandboxCluster } from '../../sandbox/cluster.js';
import type { DrillContext } from '../context.js';
import type { RestoreStageInput } from './restore-stage.js';
import type { ByteRange } from '../../restore/transaction-lines.js';
import { archiveRestoreList, declaredForeignTables, foreignDataBlocks, foreignDataNote, foreignDataRanges } from './foreign-data.js';
import { heldBackMatviewsNote, runDeferredRefreshes, type HeldBackMatview } from '../../restore/deferred-refresh.js';
import type { MatviewRefreshLine } from '../../scan/types.js';

/** pg_restore's and the fidelity checks' workers when the config does not say: the cores, at most 4. */
export const defaultJobs = (): number => Math.max(1, Math.min(4, cpus().length));

/** A restore's errors and duration (the overlapped restore's, or one pg_restore/psql run's). */
interface Restored {
  readonly errors: RestoreError[];
  readonly durationMs: number;
}

/** What loading the dump left. */
export interface LoadedDump {
  /** Every error of the globals and of the dump's last restore. */
  readonly errors: RestoreError[];
  readonly durationMs: number;
  /** An archive restored again as one transaction stopped at its first error and rolled back: the copy is empty. */
  readonly archiveRolledBack: boolean;
  /** The roles the dump references (PUBLIC aside). */
  readonly referenced: string[];
  /** Materialized views left unpopulated: their refresh reads a foreign table (src/restore/deferred-refresh.ts). */
  readonly heldBackMatviews: HeldBackMatview[];
  /** The dump restored, but a refresh run after it failed for another reason (its error is in `errors`). */
  readonly refreshFailed: boolean;
}

const isDumpError = (e: RestoreError): boolean => e.phase === 'dump';

/** Restore the globals and the dump into `sandbox` (`overlapped`: they were replayed while pg_dump ran). */
export async function loadDump(ctx: DrillContext, input: RestoreStageInput, sandbox: SandboxCluster, overlapped: Restored | null): Promise<LoadedDump> {
  const t0 = performance.now();
  const target = await prepareTarget(ctx, input, sandbox, overlapped !== null);
  // The overlapped restore's gate held the REFRESH lines back itself (the scanner's live list).
  const held = overlapped ? { omit: [], useList: null, refreshes: input.matviewRefreshes ?? [] } : await holdBack(ctx, input);
  const restoreWith = (jobs: number, archiveSingleTransaction = false) => restoreDump({
    sandbox, bins: ctx.bins, path: input.artifact.path, format: input.artifact.format, database: target.startIn,
    jobs, singleTransaction: !input.dumpCreatesDatabase, archiveSingleTransaction, pgDumpTransactionLines: input.pgDumpTransactionLines,
    omit: held.omit, useList: held.useList ?? undefined,
    signal: ctx.signal, logger: ctx.logger,
  });
  const again = async (jobs: number, archiveSingleTransaction = false) => {
    await dropDatabase(sandbox, input.database);
    await createDatabase(sandbox, input.database, input.encoding, undefined, input.locale);
    return restoreWith(jobs, archiveSingleTransaction);
  };
  const format = input.artifact.format;
  const jobs = input.jobs ?? defaultJobs();
  const first = overlapped ?? await restoreWith(jobs);
  const r = !overlapped && (format === 'custom' || format === 'directory') && jobs > 1 ? await serialIfRaced(ctx, input, sandbox, first, jobs, () => again(1)) : first;
  // pg_restore goes on after an error, so one defect of an archive would show as that error plus a difference for
  // everything that depended on it. An archive whose restore reported errors is restored again as one transaction
  // (serial, stopping at its first error, nothing committed): one real error is one finding, as for a plain dump.
  const archive = !overlapped && (format === 'custom' || format === 'directory' || format === 'tar');
  const redo = archive && !input.dumpCreatesDatabase && r.errors.some(isDumpError) ? await oneTransactionRedo(ctx, r, () => again(1, true)) : null;
  const last = redo ?? r;
  // The refreshes held back, run once the dump restored without error (after one, the drill fails on it anyway).
  const refreshed = held.refreshes.length && !last.errors.some(isDumpError) ? await refreshHeldBack(ctx, input, sandbox, held.refreshes) : null;
  return {
    errors: [...target.errors, ...last.errors, ...(refreshed?.errors ?? [])],
    durationMs: overlapped ? overlapped.durationMs : Math.round(performance.now() - t0),
    archiveRolledBack: redo !== null && redo.errors.some(isDumpError),
    referenced: target.referenced,
    heldBackMatviews: refreshed?.heldBack ?? [],
    refreshFailed: (refreshed?.errors.length ?? 0) > 0,
  };
}

/** Run the REFRESH lines held back from the restore (deferred-refresh.ts); notes the views left unpopulated. */
async function refreshHeldBack(ctx: DrillContext, input: RestoreStageInput, sandbox: SandboxCluster, refreshes: readonly MatviewRefreshLine[]) {
  const out = await (async () => {
    await using db = await sandbox.open(input.database, ctx.signal);
    return await runDeferredRefreshes(db, refreshes, ctx.signal);
  })();
  ctx.logger.info(`restore: ${refreshes.length} materialized view refresh(es) run after the restore: ${out.refreshed} refreshed, ${out.heldBack.length} left unpopulated (they read a foreign table)${out.errors.length ? ', then an error' : ''}`);
  if (out.heldBack.length) ctx.builder.note('matview-not-refreshed', heldBackMatviewsNote(out.heldBack));
  return out;
}

/**
 * What the restore holds back in a dump that declares a foreign table: the foreign tables' data (foreign-data.ts,
 * with its note) and pg_dump's REFRESH of each materialized view, run after the restore (deferred-refresh.ts).
 */
async function holdBack(ctx: DrillContext, input: RestoreStageInput): Promise<{ omit: ByteRange[]; useList: string | null; refreshes: readonly MatviewRefreshLine[] }> {
  const foreign = declaredForeignTables(input.inventory);
  if (!foreign.size) return { omit: [], useList: null, refreshes: [] };
  const format = input.artifact.format;
  const plain = format === 'plain' || format === 'plain-gzip';
  const blocks = foreignDataBlocks(input.copyBlocks ?? [], input.inventory, (k) => foreign.has(k));
  let refreshes = input.matviewRefreshes ?? [];
  let omit: ByteRange[] = [];
  let useList: string | null = null;
  let foreignData: number;
  if (plain) {
    const data = foreignDataRanges(blocks);
    foreignData = data.length;
    omit = [...data, ...refreshes.map((l) => ({ start: l.start, end: l.end }))].sort((a, b) => a.start - b.start);
  } else {
    const list = await archiveRestoreList(ctx.bins, input.artifact.path, refreshes.length, ctx.runDir, ctx.signal);
    useList = list.path;
    foreignData = list.foreignData;
    if (!list.matviewData) refreshes = [];
  }
  const note = foreignData ? foreignDataNote(blocks) : null;
  if (note) ctx.builder.note('foreign-table-data', note);
  if (foreignData || refreshes.length) {
    ctx.logger.info(`restore: held back ${foreignData} foreign table data entr(ies) and ${refreshes.length} materialized view refresh(es)${useList ? ` (pg_restore --use-list ${useList})` : ''}`);
  }
  return { omit, useList, refreshes };
}

/** Globals (or placeholder roles), placeholder tablespaces and the database; the database psql starts in. */
async function prepareTarget(ctx: DrillContext, input: RestoreStageInput, sandbox: SandboxCluster, overlapped: boolean): Promise<{ errors: RestoreError[]; referenced: string[]; startIn: string }> {
  const b = ctx.builder;
  const errors: RestoreError[] = [];
  if (input.globals.path && input.globals.mode !== 'none' && !overlapped) {
    const g = await restoreGlobals(sandbox, ctx.bins, input.globals.path, ctx.signal);
    errors.push(...g.errors);
    noteTablespaces(b, { moved: g.tablespaces });
  }
  const referenced = Object.keys(input.inventory.roles).filter((r) => r !== 'PUBLIC');
  if (input.globals.mode === 'none') {
    const { created, superusers } = await createPlaceholderRoles(sandbox, referenced, superuserOwners(input.inventory.entries));
    if (created.length) {
      b.note('placeholder-roles', `roles recreated as NOLOGIN placeholders (globals not captured): ${created.join(', ')}` +
        (superusers.length ? `; as superusers, since the dump makes them owners of what only a superuser may own (an event trigger, foreign-data wrapper, subscription or publication): ${superusers.join(', ')}` : ''));
    }
  }
  if (!overlapped) noteTablespaces(b, { placeholders: await createPlaceholderTablespaces(sandbox, input.inventory.tablespaces) });
  if (!overlapped && !input.dumpCreatesDatabase) await createDatabase(sandbox, input.database, input.encoding, undefined, input.locale);
  const startIn = !overlapped && input.dumpCreatesDatabase ? await startDatabaseForCreate(sandbox, input.database) : input.database;
  return { errors, referenced, startIn };
}

/**
 * pg_restore --jobs can leave a good archive's copy wrong (parallel-restore-race.ts): then the database is made
 * again and the archive restored serially, which that race cannot touch. Real defects fail there too.
 */
async function serialIfRaced(ctx: DrillContext, input: RestoreStageInput, sandbox: SandboxCluster, r: Restored, jobs: number, serially: () => Promise<Restored>): Promise<Restored> {
  if (input.afterParallelRestore) {
    await input.afterParallelRestore({ url: sandbox.url(input.database), database: input.database, dataDir: sandbox.dataDir, env: sandbox.env(input.database) });
  }
  const race = await (async () => {
    await using db = await sandbox.openForChecks(input.database, ctx.signal);
    return await findParallelRestoreRace(db, r.errors);
  })();
  if (!race) return r;
  const note = describeParallelRestoreRace(race, jobs);
  ctx.logger.warn(`restore: ${note}`);
  for (const e of r.errors) ctx.logger.info(`restore error of the parallel restore (discarded, restored again serially): ${e.sqlstate ? `${e.sqlstate}: ` : ''}${e.message}`);
  ctx.builder.note('restore-serial-redo', note);
  return serially();
}

/** An archive whose restore reported errors, restored again with --single-transaction (see loadDump). */
async function oneTransactionRedo(ctx: DrillContext, r: Restored, redo: () => Promise<Restored>): Promise<Restored> {
  const first = r.errors.length;
  for (const e of r.errors) ctx.logger.info(`restore error of the first archive restore (restored again as one transaction): ${e.sqlstate ? `${e.sqlstate}: ` : ''}${e.message}`);
  const again = await redo();
  const rolledBack = again.errors.some(isDumpError);
  ctx.builder.note('restore-one-transaction', `pg_restore reported ${first} error(s); the archive was restored again with --single-transaction, ` +
    (rolledBack ? 'which stopped at its first error and rolled back: restore.errors names that error, and the copy is not compared' : 'which restored without error: the copy compared is that one'));
  return again;
}
