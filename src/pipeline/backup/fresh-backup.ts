/**
 * The backup stage of `run`: a fresh pg_dump in an exported snapshot of the source, counted (and, deep, hashed)
 * on the source in that same snapshot while it streams, scanned as it is written, never left hanging on a lock
 * (src/source/lock-watch.ts); then the globals and SHA256SUMS, re-read and checked.
 */
import type { CatalogObject } from '../../catalog/objects.js';
import { listObjects } from '../../catalog/objects.js';
import { listTables, type TableCount, type TableFailure, type TableRef } from '../../catalog/tables.js';
import { parseDuration } from '../../config/duration.js';
import type { DrillConfig } from '../../config/schema.js';
import { takeDump, pgDumpArgs, type DumpFormat, type DumpResult } from '../../backup/pg-dump.js';
import type { GlobalsResult } from '../../backup/globals.js';
import { SourceFidelityCapture, type SourceFidelity } from '../../fidelity/source-capture.js';
import { fidelityDir } from '../../fidelity/fidelity-stage.js';
import { schemaFromDumpPossible } from '../../fidelity/schema-from-dump.js';
import { ArchiveScanTee } from '../../inventory/archive-scan-stream.js';
import { PlainDumpScanner } from '../../scan/plain-dump-scanner.js';
import type { PlainScanOptions, PlainScanResult } from '../../scan/types.js';
import type { GuardedSource } from '../../source/guard-and-proof.js';
import { findLockBlockers, isLockWaitFailure, lockFailureCheck } from '../../source/lock-blockers.js';
import { watchLockWaits } from '../../source/lock-watch.js';
import { scanSessionSettings, SourceSnapshot } from '../../source/snapshot.js';
import { isRecoveryConflict, recoveryConflictCheck } from '../../source/standby.js';
import { endsDrill, type DrillContext } from '../context.js';
import type { OverlappedRestore } from '../restore/overlapped-restore.js';
import { globalsOf, recordDump, sealSums } from './seal-backup.js';
import { witnessCounts, type SourceWitness } from '../../source/witness.js';
import { DumpSide } from './dump-side.js';
import type { FootprintMeter } from '../../source/footprint.js';

/** What the backup stage of `run` needs. */
export interface FreshBackupInput {
  readonly guarded: GuardedSource;
  readonly config: DrillConfig;
  readonly format: DumpFormat;
  /** The dump's path (a `.sql` file, a `.dump` archive or a `.dir` directory in the run directory). */
  readonly dumpPath: string;
  readonly deep: boolean;
  readonly scanOpts: PlainScanOptions;
  /** backup.overlap: the sandbox started early, restoring a plain dump from pg_dump's stream. */
  readonly overlap: OverlappedRestore | null;
  /** pg_dumpall --globals-only (the overlap's, when it captured them first). */
  readonly captureGlobals: () => Promise<GlobalsResult>;
  /** The production footprint's meter: its session is closed once pg_dump's and pg_dumpall's have ended. Default none. */
  readonly footprint?: FootprintMeter | null;
}

/** What the backup stage took, as far as it got (a failed check or `backup.error` leaves the rest null). */
export interface BackupResult {
  readonly snapshot: string | null;
  readonly dump: DumpResult | null;
  readonly globals: GlobalsResult | null;
  /** A plain dump's scan, made as pg_dump wrote it. */
  readonly scan: PlainScanResult | null;
  /** A custom archive's one pg_restore pass, made as pg_dump wrote it. */
  readonly archiveScan: ArchiveScanTee | null;
  /** The source's catalog, counts and fidelity facts, in the dump's snapshot. */
  readonly sourceObjects: CatalogObject[] | null;
  readonly sourceCounts: TableCount[] | null;
  readonly countFailures: TableFailure[];
  readonly sourceFidelity: SourceFidelity | null;
  readonly selfCheck: boolean | null;
  readonly sumsPath: string | null;
}

/** The stage's record, filled as it runs. */
type BackupRecord = { -readonly [K in keyof BackupResult]: BackupResult[K] };

/** Run the backup stage. Throws only what ends the drill (endsDrill); anything else is a failed check. */
export async function freshBackupStage(ctx: DrillContext, input: FreshBackupInput): Promise<BackupResult> {
  const rec: BackupRecord = {
    snapshot: null, dump: null, globals: null, scan: null, archiveScan: null, sourceObjects: null, sourceCounts: null,
    countFailures: [], sourceFidelity: null, selfCheck: null, sumsPath: null,
  };
  await ctx.builder.stage('backup', async () => {
    const dump = await dumpInSnapshot(ctx, input, rec);
    if (!dump) return;
    recordDump(ctx, { format: input.format, dump, scan: rec.scan, snapshot: rec.snapshot! });
    const globals = (rec.globals = await globalsOf(ctx, input));
    Object.assign(rec, await sealSums(ctx, dump, globals));
  }, endsDrill);
  // No pgdrill session stays on production through the restore and the fidelity checks (overlap: pg_dump has ended).
  await input.footprint?.stopSession();
  return rec;
}

/**
 * pg_dump in a snapshot the drill exported, the source counted (and its fidelity facts taken) in the same snapshot
 * while it streams. Null when a lock wait or a recovery conflict stopped it (recorded as that stage's check).
 */
async function dumpInSnapshot(ctx: DrillContext, input: FreshBackupInput, rec: BackupRecord): Promise<DumpResult | null> {
  const { guarded: { spec, audit }, config, format } = input;
  const lockWaitMs = parseDuration(config.backup.lock_wait_timeout)!;
  await using snap = await SourceSnapshot.open(spec.connection, audit, ctx.signal);
  rec.snapshot = snap.id;
  await snap.db.query(`SET lock_timeout = '${Math.round(lockWaitMs)}ms'`);
  rec.sourceObjects = await listObjects(snap.db);
  const tables = await listTables(snap.db);
  // pg_dump writes in its session's client_encoding, which the source's database or role may set (`ALTER DATABASE
  // … SET client_encoding = 'SJIS'` for a legacy client): its documented default, the database's own encoding, is
  // what the drill's dumps must be in (an SJIS dump is refused by the scanner; a LATIN1 one of a UTF8 database
  // differs from the copy's). The copy's schema-only dump is in its database's encoding, the same.
  const env = { ...spec.toolEnv, PGCLIENTENCODING: input.guarded.encoding };
  // No hang on the locks pg_dump takes without a timeout (views, sequences, …): src/source/lock-watch.ts. Its
  // signal stops both pg_dumps and the counts; the failure is then a lock failure like pg_dump's own.
  const clock = idleClock();
  await using watch = watchLockWaits({
    connection: spec.connection, audit, timeoutMs: lockWaitMs, exclude: [snap.db.backendPid ?? 0], logger: ctx.logger, signal: ctx.signal,
    idleMs: clock.idleMs,
  });
  const dumpSignal = ctx.signal ? AbortSignal.any([ctx.signal, watch.signal]) : watch.signal;
  // Fidelity, source side: extensions and sequence positions now (before pg_dump); the round trip's schema and the
  // large objects from the dump itself (dump-side.ts), a schema-only pg_dump in the snapshot only when it cannot.
  const schemaFromDump = schemaFromDumpPossible(ctx.bins, format);
  const fid = await SourceFidelityCapture.begin({
    db: snap.db, snapshot: snap.id, bins: ctx.bins, env, dir: fidelityDir(ctx.runDir), lockWaitTimeoutMs: lockWaitMs,
    deep: input.deep, schemaFromDump, witnessHashes: config.source.witness === 'hashes', audit, signal: dumpSignal,
  });
  // After begin, which made the fidelity directory the schema is written to.
  const side = new DumpSide({ bins: ctx.bins, format, dir: fidelityDir(ctx.runDir), schema: schemaFromDump, largeObjects: input.deep, signal: dumpSignal });
  const scanner = format === 'plain' ? new PlainDumpScanner(input.scanOpts) : null;
  // Overlap: a plain dump is restored from this very stream, each line only once the scanner approved it.
  ctx.logger.debug('source: snapshot open, catalog read, source fidelity capture begun');
  const gate = scanner && input.overlap ? await input.overlap.feed(scanner) : null;
  // One pass for custom archives too: pg_restore --file=- scans the archive from this stream as it is written.
  const archiveScan = format === 'custom' ? new ArchiveScanTee(ctx.bins, ctx.logger, ctx.signal, input.scanOpts) : null;
  rec.archiveScan = archiveScan;
  // The counts (and hashes) below run while pg_dump streams, in the very snapshot pg_dump reads: no timeout for
  // them, no parallel workers, no JIT (scanSessionSettings). Set before pg_dump starts, so that nothing is
  // awaited between its start and the wait for it below (an interrupt there would leave pg_dump's failure
  // unobserved). One backend per count: it always reads far less than pg_dump's COPY.
  for (const sql of scanSessionSettings(input.guarded.identity.serverVersion.major)) await snap.db.query(sql);
  const written = writerExit(clock);
  const dumpP = takeDump({
    bins: ctx.bins, env, format, path: input.dumpPath, snapshot: snap.id, lockWaitTimeoutMs: lockWaitMs,
    jobs: config.backup.jobs, consumers: [...(scanner && !gate ? [(c: Buffer) => scanner.push(c)] : []), ...(side.consumer ? [side.consumer] : [])], through: gate ?? archiveScan ?? undefined, signal: dumpSignal, logger: ctx.logger,
    onBytes: (bytes) => (clock.touch(), ctx.progress({ stage: 'backup', state: 'progress', bytes })), onWriterExited: written.exited, reread: true,
  });
  const dumpArgs = pgDumpArgs({ format, snapshot: snap.id, lockWaitTimeoutMs: lockWaitMs, jobs: config.backup.jobs }, format === 'custom' ? undefined : `${input.dumpPath}.partial`);
  audit.push({ at: new Date().toISOString(), by: 'pg_dump', sql: `pg_dump ${dumpArgs.join(' ')} (its own REPEATABLE READ, READ ONLY transaction in snapshot ${snap.id}; ACCESS SHARE locks)` });
  // pg_dump's session is looked for now: a small database's dump may be over before the meter's next reading.
  input.footprint?.watchTools();
  // After the counts, on the same session: catalog facts and (deep) content hashes, still in the dump's snapshot.
  // A table whose count fails on its own is named (backup.source_counts) and the drill goes on without its count.
  const countsP = countAndCapture(snap, tables, fid, config.source.witness, dumpSignal);
  // The snapshot's transaction ends as soon as nothing needs it — pg_dump exited, the counts, catalog facts and
  // schema-only dump taken — not when the restore has caught up with the file: the source gets its ACCESS SHARE
  // locks and its VACUUM horizon back while the drill goes on in the sandbox.
  Promise.all([written.promise, countsP]).then(() => snap.close()).catch(() => {}); // a failure is the wait's below
  const [d, counts] = await Promise.allSettled([dumpP, countsP]);
  await watch.stop();
  if (ctx.signal?.aborted) throw ctx.signal.reason;
  if (!(await dumpFailureRecorded(ctx, input, [d, counts], watch.signal, lockWaitMs))) {
    if (d.status === 'rejected') throw d.reason;
    if (counts.status === 'rejected') throw counts.reason;
    // source.witness: none — no count on the source: the rows compared are the dump's COPY rows.
    const sourceFidelity = await side.complete(counts.value.fidelity, d.value.path);
    Object.assign(rec, { dump: d.value, sourceCounts: config.source.witness === 'none' ? null : counts.value.counts, countFailures: counts.value.failures, sourceFidelity, scan: scanner?.finish() ?? null });
    return d.value;
  }
  await side.abandon();
  return null;
}

/**
 * The exact counts the witness asks for (src/source/witness.ts), then (same session, same snapshot) the source's
 * fidelity facts. With `hashes` the source's row hashes count every table in the same scan (`count(*)` beside the
 * hash): no pass of count(*) of its own, which read every table a second time; a table whose hash failed on its
 * own (or every table, when the hashes could not be taken at all) is counted by count(*) after.
 */
async function countAndCapture(snap: SourceSnapshot, tables: TableRef[], fid: SourceFidelityCapture, witness: SourceWitness, signal: AbortSignal): Promise<{ counts: TableCount[]; failures: TableFailure[]; fidelity: SourceFidelity }> {
  if (witness !== 'hashes') return { ...(await witnessCounts(witness, snap.db, tables, signal)), fidelity: await fid.finish(tables) };
  const fidelity = await fid.finish(tables);
  const key = (t: TableRef) => `${t.schema}\u0000${t.name}`;
  const hashed = new Map((fidelity.hashes ?? []).map((h) => [key(h), h]));
  const uncounted = tables.filter((t) => !hashed.has(key(t)));
  const rest = uncounted.length ? await witnessCounts('counts', snap.db, uncounted, signal) : { counts: [], failures: [] };
  const counted = new Map(rest.counts.map((c) => [key(c), c]));
  // In the tables' order, as the count pass gives them.
  const counts = tables.flatMap((t): TableCount[] => {
    const h = hashed.get(key(t));
    const c = h ? { schema: h.schema, name: h.name, rows: h.rows, ms: h.ms } : counted.get(key(t));
    return c ? [c] : [];
  });
  return { counts, failures: rest.failures, fidelity };
}

/**
 * A recovery conflict (on a standby, replay can cancel pg_dump and end the snapshot session: whichever failed
 * first, that is the cause) or a lock wait stopped the dump: recorded as its check, with the table and the session
 * in the way read while it may still hold the lock. True when recorded.
 */
async function dumpFailureRecorded(ctx: DrillContext, input: FreshBackupInput, settled: readonly PromiseSettledResult<unknown>[], watched: AbortSignal, lockWaitMs: number): Promise<boolean> {
  const reasons: unknown[] = settled.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
  // The lock watch's finding first: pg_dump's failure then only says it was stopped.
  const failure: unknown = watched.aborted ? watched.reason : reasons[0] ?? null;
  const conflict = reasons.find(isRecoveryConflict);
  if (conflict) {
    ctx.builder.add(recoveryConflictCheck(conflict, input.guarded.standby));
    return true;
  }
  if (!failure || !isLockWaitFailure(failure)) return false;
  const { spec, audit } = input.guarded;
  const found: { blockers: Awaited<ReturnType<typeof findLockBlockers>> | null; error?: unknown } = await findLockBlockers(spec.connection, audit)
    .then((blockers) => ({ blockers }), (error: unknown) => ({ blockers: null, error }));
  ctx.builder.add(lockFailureCheck(failure, found.blockers, lockWaitMs, found.error));
  return true;
}

/** When the backup last made progress: the lock watch stops a dump only after a silence (its idleMs). */
function idleClock(): { touch: () => void; idleMs: () => number } {
  const last = { at: performance.now() };
  return { touch: () => void (last.at = performance.now()), idleMs: () => performance.now() - last.at };
}

/** pg_dump's writer exit: from then on, silence is the counts' and the round trip's (the dump's end counts as progress). */
function writerExit(clock: { touch: () => void }): { exited: () => void; promise: Promise<void> } {
  const ends: Array<() => void> = [];
  const promise = new Promise<void>((resolve) => ends.push(resolve)).then(clock.touch);
  return { exited: () => ends[0]!(), promise };
}
