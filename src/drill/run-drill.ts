/**
 * `runDrill`: the whole guarded drill against a live source — identity guard, fresh backup in an exported
 * snapshot, content check, isolated restore with exact counts, confirmed teardown, production-untouched proof —
 * returning the report object the CLI renders.
 */
import { join } from 'node:path';
import { listObjects, type CatalogObject } from '../catalog/objects.js';
import { countSourceRows, listTables, tableLabel, type TableCount, type TableFailure } from '../catalog/tables.js';
import type { DrillConfig, DrillConfigInput } from '../config/schema.js';
import { validateConfig } from '../config/load.js';
import { parseDuration } from '../config/duration.js';
import { InterruptedError } from '../errors.js';
import { fileLogger, silentLogger, teeLogger, type Logger, type ProgressCallback } from '../logger.js';
import { ReportBuilder } from '../report/builder.js';
import type { CheckResult, Report } from '../report/model.js';
import { findLockBlockers, isLockWaitFailure, lockFailureCheck } from '../source/lock-blockers.js';
import { acquireDrillLock } from './drill-lock.js';
import { guardSource, productionStage } from '../source/guard-and-proof.js';
import { sessionSettingsText } from '../source/connection.js';
import { scanSessionSettings, SourceSnapshot } from '../source/snapshot.js';
import { pgDumpArgs, takeDump, type DumpFormat, type DumpResult } from '../backup/pg-dump.js';
import { captureGlobals, type GlobalsResult } from '../backup/globals.js';
import { checkSums, writeSums } from '../backup/sha256sums.js';
import { PlainDumpScanner } from '../scan/plain-dump-scanner.js';
import type { PlainScanResult } from '../scan/types.js';
import { scanArchive } from '../inventory/read-inventory.js';
import { contentChecks, summarizeInventory } from '../inventory/expectations.js';
import { chooseToolchain, endsDrill, resolveDrillEnvironment, type DrillContext } from './context.js';
import { sandboxMajorOf, versionsReport } from './versions-report.js';
import { createRunDir, safeName, utcStamp } from './run-dir.js';
import { emptyRestoreOutput, restoreStage } from './restore-stage.js';
import { trailerCheck, hostileContentCheck } from './dump-checks.js';
import { emptyReport } from './empty-report.js';
import { assertOutDirSafe } from './out-dir-guard.js';
import { assertLockTableFits, lockTableCheck, withDumpWorkers } from '../source/lock-table.js';
import { watchLockWaits } from '../source/lock-watch.js';
import { isRecoveryConflict, recoveryConflictCheck, standbyCheck } from '../source/standby.js';
import { SourceFidelityCapture, type SourceFidelity } from '../fidelity/source-capture.js';
import { fidelityDir, type AfterRestoreHook } from '../fidelity/fidelity-stage.js';
import { jailReport } from './jail-report.js';
import { finishReport } from './finish-report.js';
import { assertOutputPaths } from '../outputs/publish.js';
import { OverlappedRestore } from './overlapped-restore.js';
import { ArchiveScanTee } from '../inventory/archive-scan-stream.js';
import type { DiscoverOptions } from '../toolchain/discover.js';

/** Options of a drill. Every field has a default; `source` falls back to the PG* environment. */
export interface RunDrillOptions {
  /** libpq URL of the source; default: PG* environment (or config source.url). */
  readonly source?: string;
  /** The config as in the YAML file (a `DrillConfigInput`; an already validated `DrillConfig` fits too), always validated here: an invalid one is a ConfigError (exit 2). Default: no pins, no expectations (the source catalog is the expectation). */
  readonly config?: DrillConfigInput;
  /** Where run directories go. Default: config `out`, else ./drills. */
  readonly outDir?: string;
  /** Dump format. Default: config backup.format, else plain. */
  readonly format?: DumpFormat;
  /** Leave the sandbox running. Default false. */
  readonly keep?: boolean;
  readonly kind?: 'run' | 'demo';
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  readonly progress?: ProgressCallback;
  /** The command line, for the report (secrets are redacted). */
  readonly argv?: readonly string[];
  /** Directory of PostgreSQL programs that wins for what it holds. Default: PG_BINDIR; then the config's binaries and the usual places. */
  readonly bindir?: string;
  /** Where to look for PostgreSQL programs (for embedding and tests). Default: the machine (docs/versions.md). */
  readonly discover?: DiscoverOptions;
  /** Major of the sandbox's server (≥ pg_dump's). Default: the source's (docs/versions.md). */
  readonly sandboxMajor?: number;
  /** Upgrade rehearsal: restore into this major (≥ the source's) and compare across versions. Default none. */
  readonly targetMajor?: number;
  /** Content hashes of every table, on the source in the dump snapshot and on the restored copy (`run --deep`). Default false; demo: true. */
  readonly deep?: boolean;
  /** For tests and extensions: called with the restored copy after the restore, before the fidelity checks. Default none. */
  readonly afterRestore?: AfterRestoreHook;
  /** For tests: called with the copy right after a parallel archive restore, before it is searched for a race's traces. Default none. */
  readonly afterParallelRestore?: AfterRestoreHook;
  /** Write JUnit XML (one test case per check) to this file. Default: none. */
  readonly junit?: string;
  /** Update this Prometheus textfile-collector file with the drill's metrics. Default: none. */
  readonly metrics?: string;
}

/** The drill's outcome: the report (as written to report.json) and where it is. */
export interface DrillResult {
  readonly report: Report;
  readonly runDir: string;
  readonly exitCode: 0 | 1;
}

/** Run a complete drill. @throws GuardError (3) before anything is done, EnvironmentError (4), InterruptedError (130/143) after teardown. */
export async function runDrill(opts: RunDrillOptions = {}): Promise<DrillResult> {
  const config: DrillConfig = validateConfig(opts.config ?? {}); // always: an object that merely looks validated may not be
  const startedAt = new Date();
  const progress = opts.progress ?? (() => {});
  const baseLogger = opts.logger ?? silentLogger;
  const { sandboxUser, jail, scanOpts } = await resolveDrillEnvironment(config);
  const sandboxMajor = sandboxMajorOf(opts);
  const format: DumpFormat = opts.format ?? config.backup.format;
  const outDir = opts.outDir ?? config.out ?? './drills';
  await assertOutputPaths({ junit: opts.junit, metrics: opts.metrics });

  // 1. Identity guard — before any file exists. Every session on the source is read-only and bounded.
  progress({ stage: 'guard', state: 'start' });
  const guardT0 = performance.now();
  const guarded = await guardSource(opts.source ?? config.source.url, config, {
    signal: opts.signal,
    checks: async (db) => {
      await assertOutDirSafe(db, outDir);
    },
  });
  const { spec, identity, before, capability, encoding, locale, audit, scrub } = guarded;
  // The programs for the source's major, before any file exists: a missing pg_dump of that major is exit 4 here.
  const bins = await chooseToolchain(config, opts, { source: identity.serverVersion, sandboxMajor, dumpSource: true, archive: format !== 'plain' });
  const sourceRoles = guarded.roles;
  const lockTable = withDumpWorkers(guarded.lockTable, format, config.backup.jobs);
  assertLockTableFits(lockTable, config.source.max_lock_table_share); // exit 3 before anything is done: see src/source/lock-table.ts
  const guardMs = Math.round(performance.now() - guardT0);

  // One drill of a database per out directory at a time (exit 3 otherwise); released however the drill ends.
  await using _drillLock = await acquireDrillLock(outDir, identity.database);
  const runDir = await createRunDir(outDir, identity.database, startedAt);
  const logger = teeLogger(baseLogger, fileLogger(join(runDir, 'run.log'), scrub));
  const builder = new ReportBuilder(progress, logger, runDir);
  builder.stages.push({ name: 'guard', started_at: startedAt.toISOString(), duration_ms: guardMs, status: 'pass' });
  progress({ stage: 'guard', state: 'end', status: 'pass' });
  builder.add({
    name: 'guard.identity', stage: 'guard', status: 'pass',
    detail: `source system_identifier ${identity.systemIdentifier}, database ${identity.database}` +
      (config.source.system_identifier || config.source.database ? ' — matches the pinned identity' : ' (no identity pinned in the config)'),
    evidence: { system_identifier: identity.systemIdentifier, database: identity.database, pinned: { system_identifier: config.source.system_identifier ?? null, database: config.source.database ?? null } },
  });
  builder.add(lockTableCheck(lockTable));
  if (guarded.standby) builder.add(standbyCheck(guarded.standby));
  if (!config.source.system_identifier) builder.note('identity-not-pinned', 'source.system_identifier is not pinned in the config: pin it so that a drill can never run against the wrong cluster');
  logger.info(`drill ${runDir}: source ${spec.redacted} sysid ${identity.systemIdentifier} db ${identity.database} server ${identity.serverVersionText}; pg_dump ${bins.version('pg_dump').text} (${bins.path('pg_dump')}); sandbox PostgreSQL ${bins.server.version.text} (${bins.server.bindir}): ${bins.server.reason}`);
  const ctx: DrillContext = { bins, sandboxUser, logger, progress, builder, runDir, signal: opts.signal };

  const report = emptyReport(opts.kind ?? 'run', runDir, startedAt, opts.argv ?? [], scrub, config.metadata);
  report.source = {
    url: spec.redacted, database: identity.database, system_identifier: identity.systemIdentifier,
    server_version: identity.serverVersionText, user: identity.user, is_superuser: identity.isSuperuser,
    can_write: capability.canWrite, can_write_detail: capability.detail, in_recovery: identity.inRecovery, snapshot: null,
  };
  report.production.system_identifier_before = identity.systemIdentifier;
  report.production.fingerprint_before = `${before.fingerprint} (${before.items} items)`;
  report.production.session_settings = sessionSettingsText(spec);
  report.versions = versionsReport(bins, { source: identity.serverVersion, pgDump: bins.version('pg_dump'), targetMajor: opts.targetMajor ?? null });
  for (const [i, text] of bins.notes.entries()) builder.note(`toolchain-${i + 1}`, text);

  let interrupted: InterruptedError | null = null;
  let fatal: unknown = null;
  const restored = emptyRestoreOutput();
  let overlap = null as OverlappedRestore | null;
  try {
    // 2. Fresh backup in the exported snapshot, counted on the source in the same snapshot.
    const fileBase = `${safeName(identity.database)}-${utcStamp(startedAt)}`;
    const dumpPath = join(runDir, format === 'plain' ? `${fileBase}.sql` : format === 'custom' ? `${fileBase}.dump` : `${fileBase}.dir`);
    let dump: DumpResult | undefined;
    let globals: GlobalsResult | undefined;
    let scan: PlainScanResult | undefined;
    let archiveScan = null as ArchiveScanTee | null;
    let sourceObjects: CatalogObject[] | null = null;
    let sourceCounts: TableCount[] | null = null;
    let countFailures: TableFailure[] = [];
    let sourceFidelity: SourceFidelity | null = null;
    const lockWaitMs = parseDuration(config.backup.lock_wait_timeout)!;
    await builder.stage('backup', async () => {
      const runGlobals = () => {
        audit.push({ at: new Date().toISOString(), by: 'pg_dumpall', sql: 'pg_dumpall --globals-only --no-role-passwords (catalog SELECTs on pg_roles, pg_auth_members, pg_tablespace; read-only session)' });
        return captureGlobals({ bins, env: spec.toolEnv, path: join(runDir, `${fileBase}.globals.sql`), signal: opts.signal, logger });
      };
      // Overlap (backup.overlap): the sandbox starts now, and pg_dumpall runs first — its roles must exist before psql replays the dump.
      overlap = config.backup.overlap ? OverlappedRestore.begin(ctx, {
        format, database: identity.database, encoding, locale, sourceSystemIdentifier: identity.systemIdentifier,
        captureGlobals: config.backup.globals ? runGlobals : null, sourceRoles, sourceTablespaces: guarded.tablespaces, sourceRelations: guarded.lockTable.relations,
      }) : null;
      await using snap = await SourceSnapshot.open(spec.connection, audit, opts.signal);
      report.source.snapshot = snap.id;
      await snap.db.query(`SET lock_timeout = '${Math.round(lockWaitMs)}ms'`);
      sourceObjects = await listObjects(snap.db);
      const tables = await listTables(snap.db);
      // No hang on the locks pg_dump takes without a timeout (views, sequences, …): src/source/lock-watch.ts. Its
      // signal stops both pg_dumps and the counts; the failure is then a lock failure like pg_dump's own.
      let lastProgress = performance.now();
      await using watch = watchLockWaits({
        connection: spec.connection, audit, timeoutMs: lockWaitMs, exclude: [snap.db.backendPid ?? 0], logger, signal: opts.signal,
        idleMs: () => performance.now() - lastProgress,
      });
      const dumpSignal = opts.signal ? AbortSignal.any([opts.signal, watch.signal]) : watch.signal;
      // Fidelity, source side: extensions and sequence positions now (before pg_dump), a schema-only dump in the snapshot.
      const fid = await SourceFidelityCapture.begin({
        db: snap.db, snapshot: snap.id, bins, env: spec.toolEnv, dir: fidelityDir(runDir), lockWaitTimeoutMs: lockWaitMs,
        deep: opts.deep ?? false, audit, signal: dumpSignal,
      });
      const scanner = format === 'plain' ? new PlainDumpScanner(scanOpts) : null;
      // Overlap: a plain dump is restored from this very stream, each line only once the scanner approved it.
      logger.debug('source: snapshot open, catalog read, source fidelity capture begun');
      const gate = scanner && overlap ? await overlap.feed(scanner) : null;
      // One pass for custom archives too: pg_restore --file=- scans the archive from this stream as it is written.
      archiveScan = format === 'custom' ? new ArchiveScanTee(bins, logger, opts.signal, scanOpts) : null;
      // The counts (and hashes) below run while pg_dump streams, in the very snapshot pg_dump reads: no timeout for
      // them, no parallel workers, no JIT (scanSessionSettings). Set before pg_dump starts, so that nothing is
      // awaited between its start and the wait for it below (an interrupt there would leave pg_dump's failure
      // unobserved). One backend per count: it always reads far less than pg_dump's COPY.
      for (const sql of scanSessionSettings(identity.serverVersion.major)) await snap.db.query(sql);
      let writerExited!: () => void;
      // The dump's end counts as progress: from then on, silence is the counts' and the round trip's.
      const dumpWritten = new Promise<void>((resolve) => (writerExited = resolve)).then(() => void (lastProgress = performance.now()));
      const dumpP = takeDump({
        bins, env: spec.toolEnv, format, path: dumpPath, snapshot: snap.id, lockWaitTimeoutMs: lockWaitMs,
        jobs: config.backup.jobs, consumers: scanner && !gate ? [(c) => scanner.push(c)] : [], through: gate ?? archiveScan ?? undefined, signal: dumpSignal, logger,
        onBytes: (bytes) => ((lastProgress = performance.now()), progress({ stage: 'backup', state: 'progress', bytes })), onWriterExited: writerExited, reread: true,
      });
      const dumpArgs = pgDumpArgs({ format, snapshot: snap.id, lockWaitTimeoutMs: lockWaitMs, jobs: config.backup.jobs }, format === 'custom' ? undefined : `${dumpPath}.partial`);
      audit.push({ at: new Date().toISOString(), by: 'pg_dump', sql: `pg_dump ${dumpArgs.join(' ')} (its own REPEATABLE READ, READ ONLY transaction in snapshot ${snap.id}; ACCESS SHARE locks)` });
      // After the counts, on the same session: catalog facts and (deep) content hashes, still in the dump's snapshot.
      // A table whose count fails on its own is named (backup.source_counts) and the drill goes on without its count.
      const countsP = countSourceRows(snap.db, tables, dumpSignal).then(async (c) => ((sourceFidelity = await fid.finish(tables)), c));
      // The snapshot's transaction ends as soon as nothing needs it — pg_dump exited, the counts, catalog facts and
      // schema-only dump taken — not when the restore has caught up with the file: the source gets its ACCESS SHARE
      // locks and its VACUUM horizon back while the drill goes on in the sandbox.
      Promise.all([dumpWritten, countsP]).then(() => snap.close()).catch(() => {}); // a failure is the wait's below
      const [d, counts] = await Promise.allSettled([dumpP, countsP]);
      await watch.stop();
      if (opts.signal?.aborted) throw opts.signal.reason;
      const reasons: unknown[] = [d, counts].flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
      // The lock watch's finding first: pg_dump's failure then only says it was stopped.
      const failure: unknown = watch.signal.aborted ? watch.signal.reason : reasons[0] ?? null;
      // On a standby, replay can cancel pg_dump and end the snapshot session: whichever failed first, that is the cause.
      const conflict = reasons.find(isRecoveryConflict);
      if (conflict) {
        builder.add(recoveryConflictCheck(conflict, guarded.standby));
        return;
      }
      if (failure && isLockWaitFailure(failure)) {
        // Name the table and the session in the way, read while it may still hold the lock.
        let lookupError: unknown;
        const blockers = await findLockBlockers(spec.connection, audit).catch((e: unknown) => ((lookupError = e), null));
        builder.add(lockFailureCheck(failure, blockers, lockWaitMs, lookupError));
        return;
      }
      if (d.status === 'rejected') throw d.reason;
      if (counts.status === 'rejected') throw counts.reason;
      dump = d.value;
      sourceCounts = counts.value.counts;
      countFailures = counts.value.failures;
      scan = scanner?.finish();
      builder.add({
        name: 'backup.pg_dump', stage: 'backup', status: 'pass',
        detail: `pg_dump ${bins.version('pg_dump').text} exited 0: ${dump.sizeBytes} bytes (${format}) in ${dump.durationMs} ms, snapshot ${snap.id}${dump.stderr.length ? `; stderr: ${dump.stderr.join(' | ').slice(0, 300)}` : ''}`,
        evidence: { path: dump.path, size_bytes: dump.sizeBytes, sha256: dump.sha256, args: dump.args, snapshot: snap.id },
      });
      if (scan) builder.add(trailerCheck(scan));
      if (config.backup.globals) {
        globals = await (overlap?.globals ?? runGlobals());
        builder.add({
          name: 'backup.globals', stage: 'backup', status: globals.mode === 'globals-only' ? 'pass' : 'warn',
          detail: globals.mode === 'none' ? globals.note! : `pg_dumpall --${globals.mode} --no-role-passwords: ${globals.sizeBytes} bytes, sha256 ${globals.sha256}${globals.note ? ` (${globals.note})` : ''}`,
          evidence: { ...globals },
        });
        if (globals.note) builder.note('globals', globals.note);
      } else {
        builder.note('globals', 'backup.globals is off: roles were not captured; referenced roles are recreated as NOLOGIN placeholders');
        globals = { mode: 'none', path: null, sha256: null, sizeBytes: 0, note: 'globals capture disabled by config', args: [] };
      }
      const sumsPath = join(runDir, 'SHA256SUMS');
      const listed = [...(dump.files.length ? dump.files : [{ path: dump.path, sha256: dump.sha256 }]), ...(globals.path ? [{ path: globals.path, sha256: globals.sha256! }] : [])];
      await writeSums(sumsPath, listed);
      // The dump was re-read from disk once pg_dump had exited (beside the restore): compared here, not read a third time.
      const self = await checkSums(sumsPath, dump.reread ? new Map([[dump.path, dump.reread.sha256]]) : undefined);
      report.backup.self_check = self.ok;
      report.backup.sums_path = sumsPath;
      builder.expect('backup.sha256_self_check', 'backup', self.ok,
        `SHA256SUMS re-read: ${self.checked}/${self.checked} OK (sha256sum -c compatible${dump.reread ? '; the dump re-read from disk once pg_dump had exited, beside the restore' : ''})`,
        `SHA256SUMS re-read: ${self.failures.length} of ${self.checked} FAILED: ${self.failures.map((f) => `${f.path} expected ${f.expected} got ${f.actual ?? 'unreadable'}`).join('; ')}`,
        { checked: self.checked, failures: self.failures, dump_reread_after_exit: dump.reread !== null });
    }, endsDrill);
    if (dump) {
      report.backup = {
        ...report.backup, path: dump.path, format, size_bytes: dump.sizeBytes, sha256: dump.sha256,
        tool: `pg_dump ${bins.version('pg_dump').text} ${dump.args.join(' ')}`, duration_ms: dump.durationMs,
        globals: globals ? { mode: globals.mode, path: globals.path, sha256: globals.sha256, size_bytes: globals.sizeBytes, note: globals.note } : null,
      };
    }

    // 3. Content check, from the dump's own text.
    let restorable = !!dump && !builder.failed;
    // After the restorable verdict: a table the source could not count fails the drill, but the dump is still checked and restored.
    if (countFailures.length) builder.add(sourceCountsCheck(countFailures));
    if (dump) {
      await builder.stage('content', async () => {
        // Archives: one full pg_restore -f - pass gives the inventory and the hostile-content verdict of every entry.
        const inv = scan ?? (await (archiveScan?.result ?? scanArchive(bins, dump!.path, opts.signal, scanOpts)));
        scan = inv;
        builder.add(hostileContentCheck(inv, format !== 'plain'));
        report.jail = jailReport(jail, config.sandbox.os_user, inv, scanOpts);
        report.inventory = summarizeInventory(inv.inventory);
        for (const c of contentChecks(inv.inventory, config.expect, sourceObjects)) builder.add(c);
      }, endsDrill);
      restorable = restorable && !builder.checks.some((c) => c.name === 'content.hostile_content' && c.status === 'fail');
    }

    // 4-5. Isolated restore, fidelity, confirmed teardown.
    if (dump && scan && restorable) {
      await restoreStage(ctx, {
        artifact: { path: dump.path, format },
        globals: { path: globals?.path ?? null, mode: globals?.mode ?? 'none' },
        inventory: scan.inventory,
        database: identity.database, encoding, locale,
        sourceSystemIdentifier: identity.systemIdentifier, sourceObjects, sourceCounts, sourceRelations: guarded.lockTable.relations,
        tablesFromDump: [], copyBlocks: scan.copyBlocks, pgDumpTransactionLines: format === 'plain' ? scan.pgDumpTransactionLines : [], keep: opts.keep ?? false, jobs: config.backup.jobs,
        sourceFidelity: sourceFidelity, afterRestore: opts.afterRestore, afterParallelRestore: opts.afterParallelRestore,
        prepared: overlap?.handOver(),
      }, restored);
    } else {
      builder.skipStage('restore', dump ? 'not restored: an earlier check failed (see above)' : 'not restored: no backup was taken');
    }
  } catch (err) {
    if (err instanceof InterruptedError) interrupted = err;
    else fatal = err;
    if (!(err instanceof InterruptedError)) logger.debug(`drill aborted: ${scrub((err as Error)?.stack ?? String(err))}`);
    builder.add({ name: 'drill.aborted', stage: 'drill', status: 'fail', detail: scrub((err as Error).message) });
  }
  // An early sandbox the restore stage did not take over (no restore, or the drill ended early) is torn down here.
  await overlap?.discard(restored, interrupted ? 'the drill was interrupted' : fatal ? 'the drill ended early' : report.backup.path ? 'the dump did not pass the checks a restore requires' : 'no backup was taken', { dumpTaken: report.backup.path !== null });

  // 6. Production untouched: identity and catalog fingerprint again, and the audit judged.
  report.production_untouched = await productionStage(builder, guarded, report, { what: 'drill', signal: opts.signal, interrupted: interrupted !== null });
  // A signal whose interruption a stage recorded as a failed check (or that came during this proof) still ends the drill as interrupted.
  if (!interrupted && opts.signal?.aborted) interrupted = opts.signal.reason instanceof InterruptedError ? opts.signal.reason : new InterruptedError('SIGINT');
  report.restore = restored.restore;
  report.tables = restored.tables;
  report.fidelity = restored.fidelity ?? null;
  report.teardown = restored.teardown;

  return finishReport({
    builder, report, runDir, startedAt, config, jail, scanOpts, logger, junit: opts.junit, metrics: opts.metrics, interrupted, fatal,
  });
}

/**
 * `backup.source_counts`: tables whose exact count failed on the source in the dump snapshot, each with the server's
 * reason. The dump itself was taken, summed and goes on to be checked and restored; only these tables' rows
 * cannot be compared (fidelity.row_counts covers the others).
 */
export function sourceCountsCheck(failures: readonly TableFailure[]): CheckResult {
  const named = failures.map((f) => `${tableLabel(f)}: ${f.error}`);
  return {
    name: 'backup.source_counts', stage: 'backup', status: 'fail',
    detail: `count(*) failed on the source in the dump snapshot for ${failures.length} table(s), whose rows are therefore not compared: ${named.slice(0, 10).join('; ')}${named.length > 10 ? `; … ${named.length - 10} more` : ''} — the dump was taken and checked on; fix the object (e.g. schema-qualify the names in a function its plan calls: pg_dump and pgdrill run with an empty search_path)`,
    evidence: { tables: failures },
  };
}
