/**
 * Foreign-table data a dump carries (`pg_dump --include-foreign-data`) is never loaded into the sandbox. Loaded, its
 * `COPY ft FROM stdin` makes postgres_fdw INSERT the rows into the foreign server — possibly production — and any
 * count or read-back of the table in the copy reads the remote's *current* rows as if they were the backup's. The
 * sandbox refuses every use of a foreign table anyway (restrict_nonsystem_relation_kind, restore-stage.ts), so a
 * loaded block would only fail the restore of a good backup. Instead:
 * - a plain dump's blocks for the foreign tables its headers declare are held back from psql (the scanner's
 *   `CopyBlock.span`: a COPY line of pg_dump's form through its `\.`; their newlines stay, so line numbers do too);
 * - an archive is restored with `pg_restore --use-list` of every entry but those tables' TABLE DATA;
 * - the rows and hash of those blocks are reported from the dump's stream (note `foreign-table-data`), and the
 *   fidelity checks leave out the targets that *are* foreign tables in the restored copy. A block held back whose
 *   target turns out to be an ordinary table (a header that lied) stays in the checks: its rows are missing, a FAIL.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DumpInventory } from '../../inventory/types.js';
import type { ByteRange } from '../../restore/transaction-lines.js';
import type { CopyBlock } from '../../scan/types.js';
import { copyTargetLabel, gatherCopyTargets } from '../../fidelity/copy-targets.js';
import { listArchive } from '../../verify/read-archive.js';
import type { DumpReader } from '../../toolchain/toolchain.js';

/** `schema.name` of each foreign table the dump's headers declare (`Type: FOREIGN TABLE`). */
export function declaredForeignTables(inv: DumpInventory): Set<string> {
  return new Set(inv.entries.filter((e) => e.type === 'FOREIGN TABLE' && e.schema !== null).map((e) => `${e.schema}.${e.name}`));
}

/** The byte ranges of a plain dump's COPY blocks into declared foreign tables (those of pg_dump's form), ascending. */
export function foreignDataRanges(blocks: readonly CopyBlock[], foreign: ReadonlySet<string>): ByteRange[] {
  return blocks.filter((b) => b.span && foreign.has(copyTargetLabel(b.table))).map((b) => b.span!).sort((a, b) => a.start - b.start);
}

/**
 * A `pg_restore --use-list` file in `dir` naming every entry of the archive but the TABLE DATA of declared foreign
 * tables, or null when the archive has none (then it is restored whole, as before). @throws Error when the archive
 * cannot be listed (its restore would fail on it anyway).
 */
export async function listWithoutForeignData(bins: DumpReader, archive: string, foreign: ReadonlySet<string>, dir: string, signal?: AbortSignal): Promise<string | null> {
  if (!foreign.size) return null;
  const toc = await listArchive(bins, archive, signal);
  if ('error' in toc) throw new Error(`pg_restore --list ${archive}: ${toc.error}`);
  // `TABLE DATA schema name owner`, as pg_restore --list prints it (names unquoted).
  const isForeignData = (text: string) => [...foreign].some((label) => text.startsWith(`TABLE DATA ${label.replace('.', ' ')} `));
  const kept = toc.entries.filter((e) => !isForeignData(e.text));
  if (kept.length === toc.entries.length) return null;
  const path = join(dir, 'restore-without-foreign-data.list');
  await writeFile(path, kept.map((e) => `${e.dumpId}; ${e.text}\n`).join(''), { mode: 0o600 });
  return path;
}

/** The note naming the foreign tables whose rows the dump carries and the sandbox did not load. */
export function foreignDataNote(blocks: readonly CopyBlock[], foreign: ReadonlySet<string>): string | null {
  const targets = [...gatherCopyTargets(blocks).entries()].filter(([label]) => foreign.has(label));
  if (!targets.length) return null;
  const listed = targets.slice(0, 10).map(([label, t]) => `${label} (${t.rows} row(s)${t.hash ? `, ${t.hash}` : ''})`).join(', ');
  return `the dump carries the rows of ${targets.length} foreign table(s) (pg_dump --include-foreign-data): ${listed}${targets.length > 10 ? ', …' : ''}. ` +
    'They are counted and hashed from the dump as it was read, and not restorable into a sandbox: loading them would write them to the foreign server, and reading the restored foreign table would read the remote\'s current rows, not the backup\'s';
}

/** The labels of the restored copy's foreign tables, to leave out of the fidelity checks. */
export function restoredForeignTables(objects: readonly { readonly type: string; readonly schema: string | null; readonly name: string }[]): Set<string> {
  return new Set(objects.filter((o) => o.type === 'foreign_table').map((o) => `${o.schema}.${o.name}`));
}
