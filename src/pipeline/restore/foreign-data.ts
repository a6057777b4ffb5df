/**
 * Foreign-table data a dump carries (`pg_dump --include-foreign-data`) is never loaded into the sandbox. Loaded, its
 * `COPY ft FROM stdin` makes postgres_fdw INSERT the rows into the foreign server — possibly production — and any
 * count or read-back of the table in the copy reads the remote's *current* rows as if they were the backup's. The
 * sandbox refuses every use of a foreign table anyway (restrict_nonsystem_relation_kind, restore-stage.ts), so a
 * loaded block would only fail the restore of a good backup. Instead:
 * - a plain dump's blocks of the foreign tables its headers declare are held back from psql (the scanner's
 *   `CopyBlock.span`: a COPY line of pg_dump's form through its `\.`; their newlines stay, so line numbers do too);
 * - an archive is restored with `pg_restore --use-list` of every entry but those tables' TABLE DATA (matched by the
 *   OID pg_restore --list prints: a TABLE DATA entry carries its table's);
 * - the rows and hash of those blocks are reported from the dump's stream (note `foreign-table-data`), and the
 *   fidelity checks leave out the blocks whose table *is* a foreign table in the restored copy. A block held back
 *   whose table turns out to be an ordinary one (a header that lied) stays in the checks: its rows are missing, a FAIL.
 * A block is foreign data when the table its COPY names is a foreign table, or when its `-- Data for Name:` header
 * names one: a dump taken with `--load-via-partition-root` writes a foreign partition's rows as `COPY root …`.
 * Names are compared exactly (schema and name, quotes undone), as pg_dump's headers write them: newlines as spaces.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DumpInventory, InventoryEntry } from '../../inventory/types.js';
import type { ByteRange } from '../../restore/transaction-lines.js';
import type { CopyBlock } from '../../scan/types.js';
import { addCopyHashes, copyTargetLabel } from '../../fidelity/copy-targets.js';
import { parseQualifiedName } from '../../verify/artifact-name.js';
import { listArchive } from '../../verify/read-archive.js';
import type { DumpReader } from '../../toolchain/toolchain.js';
import type { DbSession } from '../../pg/client.js';

/** One relation, exactly: schema and name as pg_dump's headers write them (a name's newlines as spaces). */
export function relationKey(schema: string, name: string): string {
  const header = (s: string) => s.replace(/[\r\n]/g, ' ');
  return JSON.stringify([header(schema), header(name)]);
}

/** The key of the table a COPY statement names (`public."My ""T"""`), or null when it is not a qualified name. */
export function copyTargetKey(table: string): string | null {
  const t = parseQualifiedName(table);
  return t ? relationKey(t.schema, t.name) : null;
}

/** The key of each foreign table the dump's headers declare (`Type: FOREIGN TABLE`, in any reading of the header). */
export function declaredForeignTables(inv: DumpInventory): Set<string> {
  const out = new Set<string>();
  for (const e of inv.entries) {
    for (const r of [e, ...(e.alternatives ?? [])]) if (r.type === 'FOREIGN TABLE' && r.schema !== null) out.add(relationKey(r.schema, r.name));
  }
  return out;
}

/** The table each block's `-- Data for Name: …; Type: TABLE DATA` header names (the last header before it), if any. */
function dataHeaders(blocks: readonly CopyBlock[], entries: readonly InventoryEntry[]): Map<CopyBlock, InventoryEntry> {
  const out = new Map<CopyBlock, InventoryEntry>();
  const sorted = [...blocks].sort((a, b) => a.line - b.line);
  let i = 0;
  let last: InventoryEntry | null = null;
  for (const b of sorted) {
    while (i < entries.length && entries[i]!.line < b.line) last = entries[i++]!;
    if (last?.type === 'TABLE DATA' && last.schema !== null) out.set(b, last);
  }
  return out;
}

/** The blocks of foreign-table data: the table their COPY names, or their data header names, is foreign (`isForeign` of its key). */
export function foreignDataBlocks(blocks: readonly CopyBlock[], inv: DumpInventory, isForeign: (key: string) => boolean): ForeignDataBlock[] {
  const headers = dataHeaders(blocks, inv.entries);
  const out: ForeignDataBlock[] = [];
  for (const b of blocks) {
    const h = headers.get(b);
    const target = copyTargetKey(b.table);
    const viaHeader = h ? isForeign(relationKey(h.schema!, h.name)) : false;
    const direct = target !== null && isForeign(target);
    if (direct || viaHeader) {
      out.push({ block: b, label: viaHeader ? `${h!.schema}.${h!.name}` : copyTargetLabel(b.table), ...(direct ? {} : { viaHeader: { schema: h!.schema!, name: h!.name } }) });
    }
  }
  return out;
}

/** A COPY block of foreign-table data, and the foreign table it is (its header's, for a block naming the root). */
export interface ForeignDataBlock {
  readonly block: CopyBlock;
  readonly label: string;
  /** Only its header names a foreign table (its COPY names another: the root, with --load-via-partition-root). */
  readonly viaHeader?: { readonly schema: string; readonly name: string };
}

/**
 * The foreign-data blocks the fidelity checks may leave out: those whose COPY names a foreign table of the copy, and
 * those only whose header does when the table their COPY names is a partitioned ancestor of it in the copy (a
 * header over another table's block — a dump that lies — keeps that block in the checks: its rows are missing, a FAIL).
 */
export async function foreignBlocksToLeaveOut(db: DbSession, held: readonly ForeignDataBlock[]): Promise<Set<CopyBlock>> {
  const out = new Set<CopyBlock>();
  for (const h of held) {
    if (!h.viaHeader) {
      out.add(h.block);
      continue;
    }
    const t = parseQualifiedName(h.block.table);
    if (!t) continue;
    const ok = await db.value<boolean>(`
SELECT EXISTS (SELECT FROM pg_catalog.pg_partition_ancestors(c.oid) a JOIN pg_catalog.pg_class r ON r.oid = a.relid JOIN pg_catalog.pg_namespace rn ON rn.oid = r.relnamespace
                WHERE rn.nspname = $3 AND r.relname = $4 AND r.oid <> c.oid)
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'f'`, [h.viaHeader.schema, h.viaHeader.name, t.schema, t.name]);
    if (ok) out.add(h.block);
  }
  return out;
}

/** The byte ranges of a plain dump's foreign-data blocks (those of pg_dump's form), ascending. */
export function foreignDataRanges(held: readonly ForeignDataBlock[]): ByteRange[] {
  return held.filter((h) => h.block.span).map((h) => h.block.span!).sort((a, b) => a.start - b.start);
}

/** What an archive's restore list leaves out. */
export interface ArchiveRestoreList {
  /** The `pg_restore --use-list` file, or null when nothing is left out (the archive is restored whole). */
  readonly path: string | null;
  /** TABLE DATA entries of foreign tables left out. */
  readonly foreignData: number;
  /** MATERIALIZED VIEW DATA entries left out (their REFRESH is run after the restore: src/restore/deferred-refresh.ts). */
  readonly matviewData: number;
}

/**
 * A `pg_restore --use-list` file in `dir` naming every entry of the archive but the TABLE DATA of its foreign tables
 * and — when the archive's text showed exactly as many pg_dump REFRESH lines (`refreshes`) as it has MATERIALIZED
 * VIEW DATA entries — those entries too. @throws Error when the archive cannot be listed (its restore would fail on it anyway).
 */
export async function archiveRestoreList(bins: DumpReader, archive: string, refreshes: number, dir: string, signal?: AbortSignal): Promise<ArchiveRestoreList> {
  const toc = await listArchive(bins, archive, signal);
  if ('error' in toc) throw new Error(`pg_restore --list ${archive}: ${toc.error}`);
  const foreign = new Set(toc.entries.filter((e) => e.text.startsWith('FOREIGN TABLE ') && e.oid).map((e) => e.oid));
  const isForeignData = (e: { text: string; oid?: number }) => e.text.startsWith('TABLE DATA ') && e.oid !== undefined && foreign.has(e.oid);
  const matviews = toc.entries.filter((e) => e.text.startsWith('MATERIALIZED VIEW DATA '));
  const deferMatviews = refreshes > 0 && matviews.length === refreshes;
  const kept = toc.entries.filter((e) => !isForeignData(e) && !(deferMatviews && e.text.startsWith('MATERIALIZED VIEW DATA ')));
  const out = { foreignData: toc.entries.filter(isForeignData).length, matviewData: deferMatviews ? matviews.length : 0 };
  if (kept.length === toc.entries.length) return { path: null, ...out };
  const path = join(dir, 'restore.list');
  await writeFile(path, kept.map((e) => `${e.dumpId}; ${e.text}\n`).join(''), { mode: 0o600 });
  return { path, ...out };
}

/** The note naming the foreign tables whose rows the dump carries and the sandbox did not load. */
export function foreignDataNote(held: readonly ForeignDataBlock[]): string | null {
  const byTable = new Map<string, { rows: number; hash: string | undefined }>();
  for (const { block, label } of held) {
    const seen = byTable.get(label);
    byTable.set(label, seen
      ? { rows: seen.rows + block.rows, hash: seen.hash !== undefined && block.hash !== undefined ? addCopyHashes(seen.hash, block.hash) : undefined }
      : { rows: block.rows, hash: block.hash });
  }
  if (!byTable.size) return null;
  const targets = [...byTable];
  const listed = targets.slice(0, 10).map(([label, t]) => `${label} (${t.rows} row(s)${t.hash ? `, ${t.hash}` : ''})`).join(', ');
  return `the dump carries the rows of ${targets.length} foreign table(s) (pg_dump --include-foreign-data): ${listed}${targets.length > 10 ? ', …' : ''}. ` +
    'They are counted and hashed from the dump as it was read, and not restorable into a sandbox: loading them would write them to the foreign server, and reading the restored foreign table would read the remote\'s current rows, not the backup\'s';
}

/** The keys of the restored copy's foreign tables, to leave out of the fidelity checks. */
export function restoredForeignTables(objects: readonly { readonly type: string; readonly schema: string | null; readonly name: string }[]): Set<string> {
  return new Set(objects.filter((o) => o.type === 'foreign_table' && o.schema !== null).map((o) => relationKey(o.schema!, o.name)));
}
