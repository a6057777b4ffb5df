/**
 * `fidelity.content_hashes`: every table's content in the restored copy against the evidence available —
 *
 * - **the dump's own stream** (always, when the dump holds COPY data): the order-independent hash pgdrill computed
 *   of each COPY block's lines as it read the dump (src/scan/copy-hash.ts), against the same hash of the restored
 *   table's `COPY … TO STDOUT` under the dump's session settings (copy-hash-restored.ts). Costs the source nothing.
 * - **the source as a witness** (`source.witness: hashes`): the source server's row hashes in the dump's snapshot
 *   (content-hash.ts), against the same computed in the restored copy — a second opinion on pg_dump itself.
 * - **large objects** (`--deep`): sha256 of each object in the dump (its BLOBS entries) and in the copy.
 *
 * The check's evidence names which of them the verdict rests on.
 */
import type { DbSession } from '../pg/client.js';
import type { ReportBuilder } from '../report/builder.js';
import type { TableRow } from '../report/model.js';
import type { CopyBlock } from '../scan/types.js';
import { tableLabel } from '../catalog/tables.js';
import { hashTablesParallel } from './content-hash.js';
import { hashRestoredCopies, UNKNOWN_DUMP_SESSION, type RestoredCopyHash } from './copy-hash-restored.js';
import { copyTargetLabel, gatherCopyTargets, type GatheredCopyTarget } from './copy-targets.js';
import { filterProblem } from './extension-config.js';
import { diffLargeObjects, hashLargeObjects, type LargeObjectHash } from './large-object-hash.js';
import type { ReadBackCounts } from './row-counts.js';
import type { VerifyRestoredInput } from './verify-restored.js';

const name = 'fidelity.content_hashes';
const short = (h: string | null | undefined) => (h ? h.slice(0, 12) : 'none');

/** What one line of evidence found: problems (each names a table or object) and what it measured. */
interface Evidence {
  readonly problems: string[];
  /** Differences that cannot be told from a legitimate change of text form (listed, they warn). */
  readonly unsure: string[];
  readonly ms: number;
}

/** The dump's COPY targets that carry a hash (blocks naming one table gathered), by `schema.table` (quotes dropped, as the row counts match them). */
function hashedBlocks(blocks: readonly CopyBlock[]): Map<string, GatheredCopyTarget> {
  return new Map([...gatherCopyTargets(blocks)].filter(([, t]) => t.hash !== undefined));
}

/**
 * Tables of the copy with a column whose text follows a setting pg_dump's session inherits and a dump does not
 * record: TimeZone (timestamptz and its ranges), bytea_output (bytea), lc_monetary (money), quote_all_identifiers
 * (`regclass`, `regproc`, `regtype` and the other OID alias types: `pg_dump --quote-all-identifiers`), and any user-defined,
 * composite or array type that may hold one. With those settings unknown (a dump pgdrill did not take), such a
 * table's text may legitimately differ.
 */
async function sessionDependent(db: DbSession): Promise<Set<string>> {
  const rows = await db.query<{ schema: string; name: string }>(`
SELECT DISTINCT n.nspname AS schema, c.relname AS name
  FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f')
   AND pg_catalog.format_type(a.atttypid, NULL) ~ '(with time zone|tstz|bytea|money|record|\\.|^reg[a-z]+)'`);
  return new Set(rows.map(tableLabel));
}

/** The stream evidence's read-back under way: the restored tables' COPY … TO STDOUT hashes, and when it began. */
export interface StreamReadBack {
  readonly restored: Promise<RestoredCopyHash[]>;
  readonly t0: number;
  /** Labels (`schema.name`) of the tables it reads. */
  readonly tables: ReadonlySet<string>;
}

/**
 * The row counts the read-back takes anyway, for `checkRowCounts`: the lines of each table it read whole and without
 * error. A read-back that failed as a whole gives none (the counts then take count(*); its failure is this check's).
 */
export function readBackCounts(readBack: StreamReadBack | null): ReadBackCounts | null {
  if (!readBack) return null;
  const rows = readBack.restored.then(
    (rs) => new Map<string, number>(rs.flatMap((r) => ('hash' in r && r.whole ? [[copyTargetLabel(r.table), r.rows] as const] : []))),
    () => new Map<string, number>());
  return { tables: readBack.tables, rows };
}

/**
 * Begin reading back and hashing every restored table the dump has a hashed COPY block for. It needs only which
 * tables the copy has (`rowCounts.restoredTables`), not their counts, so it starts beside the counts instead of
 * after them (the counts' full scans are seconds at pgbench scale 50). The largest tables first: with several
 * sessions the longest read starts at once instead of after a queue of small ones. Null when no block is hashed.
 * Its verdict is judged after the counts, over exactly the tables they found (`contentHashesCheck`).
 */
export function startStreamReadBack(input: VerifyRestoredInput, openRaw: () => Promise<DbSession>): StreamReadBack | null {
  const blocks = hashedBlocks(input.rowCounts.copyBlocks);
  if (!blocks.size) return null;
  // An extension configuration table is read through its filter (extension-config.ts); one whose filter is not one
  // WHERE clause is not read (the counts name it).
  const config = input.rowCounts.configTables;
  const targets = [...blocks].filter(([k]) => input.rowCounts.restoredTables.has(k) && !(config?.has(k) && filterProblem(k, config.get(k)!)))
    .map(([k, t]) => (config?.get(k)?.filter ? { ...t, filter: config.get(k)!.filter } : t)).sort((a, b) => b.rows - a.rows);
  const t0 = performance.now();
  const restored = hashRestoredCopies(targets, {
    open: openRaw, settings: input.source?.dumpSession ?? UNKNOWN_DUMP_SESSION, encoding: input.rowCounts.dumpEncoding ?? 'UTF8', jobs: input.jobs, signal: input.signal,
    psql: input.bins.has('psql') ? { bin: input.bins.path('psql'), env: input.sandbox.checkEnv(input.database) } : null,
  });
  restored.catch(() => {}); // awaited by contentHashesCheck, or dropped when the counts failed first (the caller waits for it to settle)
  return { restored, t0, tables: new Set(targets.map((t) => copyTargetLabel(t.table))) };
}

/** The stream evidence: restored COPY TO hashes against the dump's. Fills the rows' dump_hash/restored_copy_hash. */
async function streamEvidence(input: VerifyRestoredInput, blocks: Map<string, GatheredCopyTarget>, openRaw: () => Promise<DbSession>, readBack: StreamReadBack): Promise<Evidence> {
  // Judged over the tables the counts found in the copy (a table they did not count is theirs to report, not read here).
  const present = new Set(input.tables.filter((t) => t.restored_rows !== null && blocks.has(tableLabel(t))).map(tableLabel));
  const settings = input.source?.dumpSession ?? UNKNOWN_DUMP_SESSION;
  const restored = (await readBack.restored).filter((r) => present.has(copyTargetLabel(r.table)));
  const byTable = new Map<string, RestoredCopyHash>(restored.map((r) => [copyTargetLabel(r.table), r]));
  const problems: string[] = [];
  const unsure: string[] = [];
  let dependent: Set<string> | null = null;
  for (const row of input.tables) {
    const blk = blocks.get(tableLabel(row));
    if (!blk) continue;
    const r = byTable.get(tableLabel(row));
    row.dump_hash = blk.hash ?? null;
    row.restored_copy_hash = r && 'hash' in r ? r.hash : null;
    if (row.dump_hash === row.restored_copy_hash) continue;
    row.match = false;
    if (r && 'error' in r) {
      problems.push(`${tableLabel(row)} could not be read back with COPY … TO STDOUT: ${r.error}`);
      continue;
    }
    const text = `${tableLabel(row)} (dump ${short(row.dump_hash)}… ${blk.rows} rows, restored ${short(row.restored_copy_hash)}… ${r && 'rows' in r ? r.rows : 'MISSING'} rows${row.filter ? ` through its filter ${row.filter}` : ''})`;
    if (settings.timeZone === null && r && r.rows === blk.rows) {
      dependent ??= await (async () => { await using db = await openRaw(); return await sessionDependent(db); })();
      if (dependent.has(tableLabel(row))) {
        row.match = true;
        unsure.push(`${text}: a column prints by the session's TimeZone, bytea_output, lc_monetary or quote_all_identifiers, which a dump pgdrill did not take does not record`);
        continue;
      }
    }
    problems.push(text);
  }
  return { problems, unsure, ms: Math.round(performance.now() - readBack.t0) };
}

/**
 * The source witness: the source server's row hashes in the dump snapshot against the copy's, over the tables the
 * source hashed — its ordinary tables. A COPY target it does not list (an extension configuration table, whose
 * source side holds the extension script's rows too; a partitioned root named by --load-via-partition-root blocks)
 * rests on the dump's stream alone: hashing the copy's whole table would compare it with nothing.
 */
async function sourceEvidence(input: VerifyRestoredInput, open: () => Promise<DbSession>): Promise<Evidence> {
  const src = input.source!;
  if (!src.hashes) return { problems: [`the source's tables could not be hashed in the dump snapshot: ${src.errors.hashes ?? 'unknown error'}`], unsure: [], ms: 0 };
  const t0 = performance.now();
  const sourceHashes = new Map(src.hashes.map((h) => [tableLabel(h), h]));
  const unhashed = new Map(src.hashFailures.map((f) => [tableLabel(f), f]));
  // A leaf the dump loaded through its root may hold other rows in the copy: its rows are compared as the root's, on the stream.
  const witnessed = (t: TableRow) => !t.via_root && (sourceHashes.has(tableLabel(t)) || unhashed.has(tableLabel(t)));
  const present = input.tables.filter((t) => t.restored_rows !== null && witnessed(t));
  const restored = new Map((await hashTablesParallel(open, present, input.jobs ?? 1, input.signal)).map((h) => [tableLabel(h), h]));
  for (const row of input.tables) {
    if (!witnessed(row)) continue;
    const s = sourceHashes.get(tableLabel(row));
    const r = restored.get(tableLabel(row));
    row.source_hash = s?.hash ?? null;
    row.restored_hash = r?.hash ?? null;
    if (s) row.hash_ms = s.ms;
    if (r) row.restored_hash_ms = r.ms;
  }
  // A table the source could not hash (its own failure, the others were hashed) is named with the cause, not as a difference.
  const differ = input.tables.filter((t) => witnessed(t) && t.source_hash !== t.restored_hash && !unhashed.has(tableLabel(t)));
  for (const t of differ) t.match = false;
  return {
    problems: [
      ...[...unhashed.values()].map((f) => `${tableLabel(f)} could not be hashed on the source in the dump snapshot: ${f.error}`),
      ...differ.map((t) => `${tableLabel(t)} (source ${short(t.source_hash)}…, restored ${short(t.restored_hash)}…; rows ${t.source_rows ?? '?'} vs ${t.restored_rows ?? 'MISSING'})`),
    ],
    unsure: [], ms: Math.round(performance.now() - t0),
  };
}

/** Large objects (--deep): the source's in the snapshot against the copy's. */
async function largeObjectEvidence(input: VerifyRestoredInput, open: () => Promise<DbSession>): Promise<Evidence & { readonly count: number; readonly bytes: number; readonly differ: string[] }> {
  const los = input.source!.largeObjects;
  if (!los) return { problems: [`the dump's large objects could not be read: ${input.source!.errors.large_objects ?? 'unknown error'}`], unsure: [], ms: 0, count: 0, bytes: 0, differ: [] };
  const t0 = performance.now();
  const restored = await (async () => { await using db = await open(); return await hashLargeObjects(db, input.signal); })();
  const d = diffLargeObjects(los, restored);
  const side = (h: LargeObjectHash | null) => (h ? `${h.bytes} bytes sha256 ${short(h.sha256)}…` : 'MISSING');
  return {
    problems: d.map((x) => `large object ${x.oid} (source ${side(x.source)}, restored ${side(x.restored)})`), unsure: [],
    ms: Math.round(performance.now() - t0), count: los.length, bytes: los.reduce((a, h) => a + h.bytes, 0), differ: d.map((x) => x.oid),
  };
}

/**
 * Compare the restored copy's content with every evidence available and add `fidelity.content_hashes`.
 * `open`: a session prepared for the server-side hashes; `openRaw`: a plain session on the restored database.
 */
export async function contentHashesCheck(b: ReportBuilder, input: VerifyRestoredInput, open: () => Promise<DbSession>, openRaw: () => Promise<DbSession>, readBack?: StreamReadBack | null): Promise<void> {
  const src = input.source;
  const blocks = hashedBlocks(input.rowCounts.copyBlocks);
  const witness = src?.witnessHashes ?? false;
  const los = src?.deep ?? false;
  if (!blocks.size && !witness && !los) {
    return void b.add({ name: name, stage: 'fidelity', status: 'skip', detail: 'the dump holds no table data (no COPY block) to hash, and no source witness was asked for (source.witness: hashes)' });
  }
  const [stream, source, lo] = await Promise.all([
    blocks.size ? streamEvidence(input, blocks, openRaw, readBack ?? startStreamReadBack(input, openRaw)!) : null,
    witness ? sourceEvidence(input, open) : null,
    los ? largeObjectEvidence(input, open) : null,
  ]);
  const evidence = [...(stream ? ['dump-stream' as const] : []), ...(source ? ['source-snapshot' as const] : [])];
  const problems = [...(stream?.problems ?? []), ...(source?.problems ?? []), ...(lo?.problems ?? [])];
  const unsure = stream?.unsure ?? [];
  const rows: readonly TableRow[] = input.tables;
  const equal = rows.filter((t) => t.match).length;
  const filtered = stream ? rows.filter((t) => t.filter && t.restored_copy_hash).map((t) => ({ table: tableLabel(t), filter: t.filter! })) : [];
  input.fidelity.hashes = {
    tables: rows.length, equal, source_ms: src?.hashesMs ?? 0, restored_ms: (stream?.ms ?? 0) + (source?.ms ?? 0),
    large_objects: lo?.count ?? 0, large_objects_differ: lo?.differ.length ?? 0, evidence,
  };
  const on = [
    ...(stream ? [`the dump's own COPY lines (${blocks.size} block(s), hashed by pgdrill as it read the dump) against the restored tables' COPY … TO STDOUT under the dump's session settings${filtered.length ? ` (${filtered.length} extension configuration table(s) read through their filter, the rows pg_dump dumps: ${filtered.slice(0, 5).map((f) => `${f.table} ${f.filter}`).join('; ')}${filtered.length > 5 ? '; …' : ''})` : ''}`] : []),
    ...(source ? [`the source server's row hashes in the dump snapshot (source.witness: hashes, ${src!.hashesMs} ms on the source)`] : []),
    ...(lo ? [`${lo.count} large object(s) (${lo.bytes} bytes, sha256 from the dump)`] : []),
  ];
  const listed = (xs: string[]) => `${xs.slice(0, 10).join('; ')}${xs.length > 10 ? `; … ${xs.length - 10} more` : ''}`;
  const ev = {
    evidence, tables: rows.length, differ: rows.filter((t) => !t.match).map(tableLabel), not_comparable: unsure,
    restored_ms: (stream?.ms ?? 0) + (source?.ms ?? 0), source_ms: src?.hashesMs ?? 0, large_objects: lo?.count ?? 0, large_objects_differ: lo?.differ ?? [],
    ...(filtered.length ? { filtered } : {}),
  };
  if (!problems.length && unsure.length) {
    return void b.add({ name: name, stage: 'fidelity', status: 'warn', detail: `every other content hash equal; ${unsure.length} table(s) not comparable: ${listed(unsure)}`, evidence: ev });
  }
  b.expect(name, 'fidelity', problems.length === 0,
    `${rows.length} table(s): every content hash equal — evidence: ${on.join('; ')}`,
    `${problems.length} difference(s) in content: ${listed(problems)}${unsure.length ? `; not comparable: ${listed(unsure)}` : ''} — evidence: ${on.join('; ')}`,
    ev);
}
