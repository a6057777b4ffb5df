/**
 * The dump's COPY blocks gathered by the table they name. Usually one block per table; but a dump taken with
 * `--load-via-partition-root` (and, since PostgreSQL 16.x/17, any dump of a table hash-partitioned on an enum) writes
 * one block per leaf partition, every one naming the partitioned root — each with the leaf's own column list. Their
 * rows add up, and so do their `c2:` hashes (each lane is a sum of per-line digests modulo 2^32, copy-hash.ts): the
 * target's hash is that of all its lines, whichever block carried them.
 */
import { tableLabel } from '../catalog/tables.js';
import type { CopyBlock } from '../scan/types.js';
import { parseQualifiedName } from '../verify/artifact-name.js';

/** One table named by COPY blocks: their lines' rows and hash together, and each column list they used. */
export interface GatheredCopyTarget {
  /** As the (first) block's COPY statement names it. */
  readonly table: string;
  /** The first block's column list (all blocks' are in `columnLists`). */
  readonly columns: string | null;
  readonly rows: number;
  /** Undefined when a block carries none (a truncated block, a dump not hashed). */
  readonly hash: string | undefined;
  /** Each distinct column list of its blocks, in the dump's order (more than one: leaves of different column orders). */
  readonly columnLists: readonly (string | null)[];
  readonly blocks: number;
}

/** The sum of two `c2:` hashes: the hash of both line multisets together. */
export function addCopyHashes(a: string, b: string): string {
  const lane = (h: string, i: number) => Number.parseInt(h.slice(3 + 8 * i, 11 + 8 * i), 16);
  const hex = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
  return `c2:${hex(lane(a, 0) + lane(b, 0))}${hex(lane(a, 1) + lane(b, 1))}`;
}

/**
 * The label the report's rows use for a COPY target: `schema.name` as `tableLabel` writes it, the quoting undone
 * (`"a""b"` is `a"b`: dropping every quote made it `ab`, which matched no table, so such a table was never read
 * back nor compared). A target that does not parse keeps its text, quotes dropped.
 */
export function copyTargetLabel(table: string): string {
  const t = parseQualifiedName(table);
  return t ? tableLabel(t) : table.replace(/"/g, '');
}

/** The dump's blocks by target label, in the dump's order of first appearance. */
export function gatherCopyTargets(blocks: readonly CopyBlock[]): Map<string, GatheredCopyTarget> {
  const out = new Map<string, GatheredCopyTarget>();
  for (const b of blocks) {
    const key = copyTargetLabel(b.table);
    const seen = out.get(key);
    const columns = b.columns ?? null;
    if (!seen) {
      out.set(key, { table: b.table, columns, rows: b.rows, hash: b.hash, columnLists: [columns], blocks: 1 });
      continue;
    }
    out.set(key, {
      ...seen, rows: seen.rows + b.rows, blocks: seen.blocks + 1,
      hash: seen.hash !== undefined && b.hash !== undefined ? addCopyHashes(seen.hash, b.hash) : undefined,
      columnLists: seen.columnLists.includes(columns) ? seen.columnLists : [...seen.columnLists, columns],
    });
  }
  return out;
}
