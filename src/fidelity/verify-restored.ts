/**
 * The restored copy's side of the fidelity checks, run on the sandbox after the restore (and after the
 * `afterRestore` hook), in two lines side by side (each its own sessions; a machine with two cores runs both):
 * - the content hashes' read-back of the restored tables (COPY … TO STDOUT, begun at once: it needs only which tables
 *   the copy has), whose lines are also the exact row counts of the tables it reads whole; count(*) (row-counts.ts)
 *   counts the others beside it, and those it failed to read after it. The hashes are judged once the counts have
 *   ended (over the tables they found);
 * - catalog facts and sequence positions, the schema-only round trip and amcheck, side by side: the first two read
 *   the copy in one snapshot (the catalog session's, exported to pg_dump) taken before amcheck installs its
 *   extension, which they would otherwise see. When the sandbox is kept (--keep), the extension is dropped again
 *   once all three have ended; a sandbox about to be deleted keeps it. Both the CREATE and the DROP run with the
 *   copy's event triggers held off (own-ddl.ts): pgdrill's DDL never fires them, so it never changes what is compared.
 *   Every other session only reads (the counting and hashing ones are READ ONLY as a belt).
 * Each compares with what `SourceFidelityCapture` took in the dump's snapshot, and adds one check (in this fixed
 * order, whichever line ends first):
 *
 * | check | fails when |
 * |---|---|
 * | `fidelity.row_counts` | a table's exact row count (read back, or count(*)) differs from the source's in the dump snapshot (or the dump's COPY rows), or it is missing |
 * | `fidelity.content_hashes` | a table's or large object's content differs (named), or the source could not be hashed |
 * | `fidelity.catalog` | any catalog fact differs (object, attribute, source value, restored value), or a sequence is behind |
 * | `fidelity.round_trip` | the schema-only dumps differ after stripping ROUND_TRIP_STRIPPED (a count, then every differing object with its lines) |
 * | `fidelity.amcheck` | pg_amcheck reports corruption (relations named) or cannot check |
 */
import { rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describePgError } from '../errors.js';
import type { Toolchain } from '../toolchain/toolchain.js';
import type { Logger } from '../logger.js';
import type { DbSession } from '../pg/client.js';
import { ReportBuilder } from '../report/builder.js';
import type { Fidelity, TableRow } from '../report/model.js';
import type { SandboxCluster } from '../sandbox/cluster.js';
import { tableLabel } from '../catalog/tables.js';
import { amcheckChecksHeaps, dropAmcheck, ensureAmcheck, hasPgAmcheck, runAmcheck } from './amcheck.js';
import { readCatalogFacts, readCatalogFile } from './catalog-facts.js';
import { describeDifference, diffCatalogStreams, isHeldBackUnpopulated, sequenceDifferences, type CatalogDifference } from './catalog-diff.js';
import { hashTablesParallel } from './content-hash.js';
import { compareSchemaDumps, dumpedByMajor, dumpSchema, type RoundTripDifference } from './round-trip.js';
import { CrossMajorNormaliser } from './cross-major.js';
import { readSequencePositions, sequencesBehind } from './sequences.js';
import type { SourceFidelity } from './source-capture.js';
import { checkRowCounts, type RowCountPlan } from './row-counts.js';
import { contentHashesCheck, readBackCounts, startStreamReadBack } from './content-hash-check.js';
import { prepareFidelitySession } from './session.js';
import { sourceHashesNowCheck, type SourceNow } from '../verify/source-now.js';

/** The round trip's differences file, in the fidelity directory: every differing object with all its lines. */
export const ROUND_TRIP_DIFFERENCES_FILE = 'round-trip-differences.txt';
/** Differences kept in report.json (all are counted). */
export const MAX_DIFFERENCES = 1000;
/** Relations pg_amcheck checked that report.json lists one by one; beyond, only those with findings (all are counted). */
export const MAX_AMCHECK_RELATIONS = 1000;

/** A report section with nothing measured yet. */
export function emptyFidelity(deep: boolean): Fidelity {
  return { deep, differences: [], differences_omitted: 0, hashes: null, catalog: null, round_trip: null, amcheck: null, extensions_missing: [], normalisations: [] };
}

/** What `verifyRestored` needs. */
export interface VerifyRestoredInput {
  readonly sandbox: SandboxCluster;
  readonly database: string;
  readonly bins: Toolchain;
  /** Directory for the restored copy's schema dump (the source's is already there). */
  readonly dir: string;
  /** The source's capture; null when there is no source (then only the counts, against the dump's COPY rows, and amcheck run). */
  readonly source: SourceFidelity | null;
  /** What the exact row counts compare. */
  readonly rowCounts: RowCountPlan;
  /** The report's table rows: filled by the counts, then the hashes (`match` also requires equal hashes). */
  readonly tables: TableRow[];
  /** The report section to fill. */
  readonly fidelity: Fidelity;
  /** Sessions for hashing the restored copy in parallel. Default 1. */
  readonly jobs?: number;
  /** The sandbox stays running afterwards (--keep): leave the copy as the dump made it (amcheck's extension dropped). */
  readonly keep?: boolean;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
  /** verify --source --deep: the source's content hashes now, compared with the restored copy's (fidelity.source_hashes_now). Default none. */
  readonly sourceNow?: SourceNowComparison | null;
  /** `schema.name` of the materialized views the restore left unpopulated (their refresh reads a foreign table): each may differ in "populated" alone. Default none. */
  readonly unpopulatedMatviews?: ReadonlySet<string>;
}

/** The source read now (not the dump's snapshot), and whether the config says it has not changed since the dump. */
export interface SourceNowComparison {
  readonly now: SourceNow;
  /** Config `source.unchanged_since_dump`: a difference FAILs instead of WARNing. */
  readonly unchanged: boolean;
}

const NO_SOURCE = 'no source to compare with (restored without a source capture)';

/** Run every fidelity check on the restored copy; adds its checks to `b` and fills `input.fidelity`. */
export async function verifyRestored(b: ReportBuilder, input: VerifyRestoredInput): Promise<void> {
  const { sandbox, database, fidelity, signal } = input;
  const open = async (): Promise<DbSession> => {
    const db = await sandbox.openForChecks(database, signal);
    await prepareFidelitySession(db);
    // A belt: the checks only read, so nothing they call (a type's output function, …) may change what they compare.
    await db.query('SET default_transaction_read_only = on');
    return db;
  };
  const t0 = performance.now();
  const timed = async (what: string, part: () => Promise<void>): Promise<void> => {
    await part();
    input.logger.debug(`fidelity: ${what} done ${Math.round(performance.now() - t0)} ms after the checks began`);
  };
  // Each part adds its checks to its own builder, copied into `b` in a fixed order once all have ended.
  const [counted, catalogued, roundTripped, checked] = [new ReportBuilder(), new ReportBuilder(), new ReportBuilder(), new ReportBuilder()] as const;
  const settled = await Promise.allSettled([
    (async () => {
      // The stream hashes' read-back (the longest part at any scale with data) begins now, beside the counts; it is
      // judged after them, over the tables they found. Settled either way before this line ends: no session outlives it.
      const openRaw = () => sandbox.openForChecks(database, signal);
      const readBack = startStreamReadBack(input, openRaw);
      try {
        await timed('row counts', async () => {
          await using db = await sandbox.openForChecks(database, signal);
          await db.query(`SET max_parallel_workers_per_gather = ${countWorkers(input.jobs ?? 1)}`);
          await db.query('SET default_transaction_read_only = on');
          await checkRowCounts(counted, db, input.rowCounts, input.tables, signal, readBackCounts(readBack));
        });
      } catch (err) {
        await readBack?.restored.catch(() => {});
        throw err;
      }
      await timed('content hashes', () => contentHashesCheck(counted, input, open, openRaw, readBack));
      if (input.sourceNow?.now.hashes) await timed('content hashes against the source now', () => sourceNowHashes(counted, input, input.sourceNow!, open));
    })(),
    (async () => {
      // One snapshot for the catalog read and the round trip, fixed before amcheck's extension can exist: pg_amcheck
      // then runs beside them (it used to wait for both: ~0.4 s of a 0.8 s tail at pgbench scale 10).
      await using db = await open();
      await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const snapshot = await db.value<string>('SELECT pg_catalog.pg_export_snapshot()');
      const ext = { created: false };
      // The sandbox's major may be newer than the source's (an upgrade rehearsal): both comparisons share one
      // normaliser, which lists what it rewrote in the report.
      const sandboxMajor = Math.floor(Number(await db.value<string>("SELECT pg_catalog.current_setting('server_version_num')")) / 10000);
      const normaliser = input.source ? new CrossMajorNormaliser(input.source.serverMajor, sandboxMajor) : null;
      const three = await Promise.allSettled([
        timed('catalog', () => catalog(catalogued, input, db, normaliser)),
        timed('round trip', () => roundTrip(roundTripped, input, snapshot, normaliser)),
        timed('amcheck', () => amcheck(checked, input, ext)),
      ]);
      if (normaliser) fidelity.normalisations = normaliser.applied();
      // Ended here whether the three succeeded or not; a COMMIT that fails (the session broke) must not hide why.
      await db.query('COMMIT').catch(() => {});
      if (ext.created && input.keep) {
        await using own = await sandbox.openForChecks(database);
        await dropAmcheck(own).catch((err: unknown) => input.logger.warn(`could not drop the amcheck extension from the kept sandbox: ${describePgError(err)}`));
      }
      for (const s of three) if (s.status === 'rejected') throw s.reason;
    })(),
  ]);
  for (const p of [counted, catalogued, roundTripped, checked]) b.adopt(p.checks);
  for (const s of settled) if (s.status === 'rejected') throw s.reason;
  input.logger.info(`fidelity: ${fidelity.differences.length + fidelity.differences_omitted} catalog difference(s), round trip ${fidelity.round_trip?.equal ?? 'not run'}, amcheck exit ${fidelity.amcheck?.exit_code ?? 'not run'}`);
}

/**
 * Parallel workers for the restored copy's counts: only cores that amcheck's sessions and the count itself leave
 * free (at most PostgreSQL's default 2). On 2 cores none: a parallel count beside amcheck took three
 * processes' CPU for the same wall time (pgbench scale 50: 0.43 s with 2 workers, 0.50 s without, on an idle sandbox).
 */
export function countWorkers(amcheckJobs: number, cores = availableParallelism()): number {
  return Math.max(0, Math.min(2, cores - Math.max(1, amcheckJobs) - 1));
}

/** Hash the restored tables the source has now, and compare (src/verify/source-now.ts `sourceHashesNowCheck`). */
async function sourceNowHashes(b: ReportBuilder, input: VerifyRestoredInput, cmp: SourceNowComparison, open: () => Promise<DbSession>): Promise<void> {
  const present = (cmp.now.hashes ?? []).filter((h) => input.rowCounts.restoredTables.has(tableLabel(h)));
  const restored = await hashTablesParallel(open, present, input.jobs ?? 1, input.signal);
  b.add(sourceHashesNowCheck(cmp.now, new Map(restored.map((h) => [tableLabel(h), h])), cmp.unchanged));
}

async function catalog(b: ReportBuilder, input: VerifyRestoredInput, db: DbSession, normaliser: CrossMajorNormaliser | null): Promise<void> {
  const name = 'fidelity.catalog';
  const src = input.source;
  if (!src) return void b.add({ name, stage: 'fidelity', status: 'skip', detail: NO_SOURCE });
  if (!src.catalog) {
    return void b.add({ name, stage: 'fidelity', status: 'fail', detail: `the source's catalog could not be read in the dump snapshot: ${src.errors.catalog ?? 'unknown error'}` });
  }
  const t0 = performance.now();
  const kept: CatalogDifference[] = [];
  let differences = 0;
  const heldBack = input.unpopulatedMatviews ?? new Set<string>();
  let unpopulated = 0;
  const emit = (d: CatalogDifference) => {
    if (normaliser?.explains(d)) return;
    if (isHeldBackUnpopulated(d, heldBack)) return void unpopulated++;
    if (kept.length < MAX_DIFFERENCES) kept.push(d);
    differences++;
  };
  // In the caller's REPEATABLE READ transaction (the snapshot the round trip dumps in, too).
  const [sourceFacts, restoredFacts] = [readCatalogFile(src.catalog.path), readCatalogFacts(db, input.signal)];
  const facts = normaliser?.active
    ? await diffCatalogStreams(normaliser.facts(sourceFacts, 'source'), normaliser.facts(restoredFacts, 'restored'), emit)
    : await diffCatalogStreams(sourceFacts, restoredFacts, emit);
  const restoredSeqs = await readSequencePositions(db);
  await rm(src.catalog.path, { force: true });
  if (src.sequences) sequenceDifferences(sequencesBehind(src.sequences, restoredSeqs)).forEach(emit);
  const f = input.fidelity;
  f.differences = kept;
  f.differences_omitted = differences - kept.length;
  f.catalog = {
    source_facts: facts.source, restored_facts: facts.restored,
    sequences_checked: src.sequences?.length ?? 0, source_ms: src.catalog.ms, restored_ms: Math.round(performance.now() - t0),
  };
  const seqProblem = src.sequences ? null : `sequence positions could not be read on the source: ${src.errors.sequences ?? 'unknown error'}`;
  const across = (normaliser?.describe('facts') ?? '') + (unpopulated ? `; ${unpopulated} materialized view(s) left unpopulated by the restore, as expected (note matview-not-refreshed)` : '');
  const ok = differences === 0 && !seqProblem;
  b.expect(name, 'fidelity', ok,
    `${facts.source} catalog facts equal, object by object (the database's encoding and locale, columns and their order, constraints, indexes, views and their population, functions, triggers, types, owners, grantee × privilege ACLs, comments, extensions, sequences, partitions, rules, policies, large objects); ${src.sequences?.length ?? 0} sequence(s) not behind the snapshot${across}`,
    differences
      ? `${differences} catalog difference(s): ${kept.slice(0, 8).map(describeDifference).join('; ')}${differences > 8 ? `; … ${differences - 8} more (report.json fidelity.differences)` : ''}${seqProblem ? `; ${seqProblem}` : ''}${across}`
      : seqProblem! + across,
    { differences, source_facts: facts.source, restored_facts: facts.restored });
}

async function roundTrip(b: ReportBuilder, input: VerifyRestoredInput, snapshot: string, normaliser: CrossMajorNormaliser | null): Promise<void> {
  const name = 'fidelity.round_trip';
  const src = input.source;
  if (!src) return void b.add({ name, stage: 'fidelity', status: 'skip', detail: NO_SOURCE });
  if (!src.schemaDump) {
    return void b.add({ name, stage: 'fidelity', status: 'fail', detail: `the source's schema-only dump in the snapshot failed: ${src.errors.schema_dump ?? 'unknown error'}` });
  }
  if (!input.bins.has('pg_dump', 'sandbox-dump')) {
    const major = input.bins.server.version.major;
    return void b.add({ name, stage: 'fidelity', status: 'warn', detail: `no pg_dump of major ${major} or newer was found to dump the PostgreSQL ${major} sandbox: the round trip was not run (install the PostgreSQL ${major} client programs)` });
  }
  const t0 = performance.now();
  // The source's side read from the main dump was written in pg_dump's session: print the copy's constants as it did.
  const session = src.schemaDump.from === 'dump' ? src.dumpSession : null;
  const mine = await dumpSchema({ bins: input.bins, role: 'sandbox-dump', env: input.sandbox.checkEnv(input.database), path: join(input.dir, 'restored-schema.sql'), snapshot, session, signal: input.signal });
  const [srcBy, mineBy] = await Promise.all([dumpedByMajor(src.schemaDump.path), dumpedByMajor(mine.path)]);
  if (srcBy !== mineBy) {
    // Two pg_dump majors print the same catalog differently (SET lines, ACL forms): comparing their text would list
    // every such line as a difference. The toolchain must give both sides one pg_dump; say so plainly.
    return void b.add({
      name, stage: 'fidelity', status: 'fail',
      detail: `the two schema-only dumps were written by different pg_dump majors (source's ${srcBy ?? 'unknown'}, restored copy's ${mineBy ?? 'unknown'}): the round trip needs one pg_dump for both sides (a pgdrill bug: please report it)`,
      evidence: { source: src.schemaDump.path, restored: mine.path },
    });
  }
  const cmp = await compareSchemaDumps(src.schemaDump.path, mine.path, undefined, { differencesPath: join(input.dir, ROUND_TRIP_DIFFERENCES_FILE), normaliser });
  const ms = Math.round(performance.now() - t0) + src.schemaDump.ms;
  input.fidelity.round_trip = { ...cmp, source_path: src.schemaDump.path, restored_path: mine.path, ms };
  const strippedText = cmp.stripped.map((s) => `${s.source}+${s.restored}`).join(', ');
  const across = normaliser?.describe('sections') ?? '';
  const q = (s: string | null | undefined) => (s === null || s === undefined ? '(none)' : JSON.stringify(s.length > 160 ? `${s.slice(0, 160)}…` : s));
  const line = (d: RoundTripDifference) => `source line ${d.source_line ?? '-'} ${q(d.source)} vs restored line ${d.restored_line ?? '-'} ${q(d.restored)}`;
  const named = cmp.objects.slice(0, 5).map((o) => `"${o.section}": ${o.kind === 'differs' ? '' : `${o.kind}; `}${o.lines[0] ? line(o.lines[0]) : '(lines in the file)'}`);
  const more = cmp.objects_differing - named.length;
  b.expect(name, 'fidelity', cmp.equal,
    `schema-only dump of the restored copy = ${src.schemaDump.from === 'dump' ? "the source's schema as the drill's own dump wrote it (its schema entries)" : 'schema-only dump of the source in the same snapshot'}: ${cmp.lines_compared} lines equal (stripped lines per rule, source+restored: ${strippedText})${across}`,
    `schema-only dumps differ in ${cmp.objects_differing} object(s): in ${named.join('; in ')}${more > 0 ? `; … ${more} more` : ''} — every one with all its lines in ${cmp.differences_path}${across}`,
    {
      source: src.schemaDump.path, source_from: src.schemaDump.from, restored: mine.path, restored_args: mine.args, lines_compared: cmp.lines_compared,
      objects_differing: cmp.objects_differing, differences_path: cmp.differences_path, first_differences: cmp.differences,
    });
}

/** pg_amcheck on the restored copy; `ext.created` tells the caller that it installed the amcheck extension. */
async function amcheck(b: ReportBuilder, input: VerifyRestoredInput, ext: { created: boolean }): Promise<void> {
  const name = 'fidelity.amcheck';
  if (!(await hasPgAmcheck(input.bins))) {
    b.add({ name, stage: 'fidelity', status: 'warn', detail: `pg_amcheck was not found (PG_BINDIR, the config's binaries, the packaged layouts, PATH): the restored copy's structure was not checked (install the PostgreSQL ${input.bins.server.version.major} client programs)` });
    return;
  }
  let heaps: boolean;
  {
    await using db = await input.sandbox.openForChecks(input.database, input.signal);
    let installed: Awaited<ReturnType<typeof ensureAmcheck>>;
    try {
      installed = await ensureAmcheck(db);
    } catch (err) {
      b.add({ name, stage: 'fidelity', status: 'warn', detail: `CREATE EXTENSION amcheck failed in the restored copy (its event triggers held off): ${describePgError(err)}: the restored copy's structure was not checked` });
      return;
    }
    if (installed === 'unavailable') {
      b.add({ name, stage: 'fidelity', status: 'warn', detail: `the amcheck extension is not available in the sandbox's server (not in pg_available_extensions): install postgresql-contrib for PostgreSQL ${input.bins.server.version.major}; the restored copy's structure was not checked` });
      return;
    }
    ext.created = installed === 'created';
    heaps = await amcheckChecksHeaps(db);
  }
  // --heapallindexed (every heap tuple has its index entry) is the expensive part: with --deep, like the content hashes.
  const heapallindexed = input.fidelity.deep;
  const r = await runAmcheck({ bins: input.bins, env: input.sandbox.checkEnv(input.database), database: input.database, heapallindexed, jobs: input.jobs, signal: input.signal, heaps });
  const indexesOnly = heaps ? '' : " — B-tree indexes only: the sandbox's amcheck (before PostgreSQL 14) has no verify_heapam to check heap tables";
  const corrupt = r.relations.filter((x) => x.status === 'corrupt');
  // Every relation is listed for a database of ordinary size; for one of many (180,000 relations at 45,000 tables
  // were 21 MB of report.json) only those with findings, the others counted.
  const listed = r.relations.length <= MAX_AMCHECK_RELATIONS ? r.relations : r.relations.filter((x) => x.status !== 'ok');
  input.fidelity.amcheck = {
    exit_code: r.exitCode, relations_checked: r.relations.length, corrupt: corrupt.length, relations: listed,
    relations_omitted: r.relations.length - listed.length, error: r.error, ms: r.ms,
  };
  if (r.error && !corrupt.length) {
    b.add({ name, stage: 'fidelity', status: 'fail', detail: `pg_amcheck could not check the restored copy: ${r.error}`, evidence: { args: r.args } });
    return;
  }
  const heapTables = r.relations.filter((x) => x.kind === 'heap table').length;
  b.expect(name, 'fidelity', corrupt.length === 0 && r.exitCode === 0,
    `pg_amcheck${heapallindexed ? ' --heapallindexed' : ''}: ${r.relations.length} relations (${heapTables} heap tables, ${r.relations.length - heapTables} B-tree indexes) without corruption in ${r.ms} ms${heapallindexed ? '' : ' (pages, tuples and index structure; --deep adds --heapallindexed: every heap tuple has its index entry)'}${indexesOnly} — amcheck proves presence of corruption, never absence`,
    `pg_amcheck found corruption in ${corrupt.length} relation(s): ${corrupt.slice(0, 5).map((x) => `${x.kind} ${x.relation}: ${x.messages[0] ?? ''}`).join('; ')}${corrupt.length > 5 ? `; … ${corrupt.length - 5} more` : ''}`,
    { exit_code: r.exitCode, relations: r.relations.length, corrupt: corrupt.map((x) => x.relation), args: r.args });
}
