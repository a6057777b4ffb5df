/** What the fidelity section's content hashes and the tables' comparisons rest on, in words — shared by report.md and report.html. */
import type { Fidelity, TableRow } from './model.js';

type Hashes = NonNullable<Fidelity['hashes']>;

/** What a table hash was compared with. */
export const EVIDENCE_WORDS: Record<NonNullable<Hashes['evidence']>[number], string> = {
  'dump-stream': "the dump's own COPY lines (no source read)",
  'source-snapshot': "the source server's row hashes in the dump snapshot",
};

/**
 * Whether hashing read the source (so that its time means something): hashes in the dump snapshot, or large objects
 * (hashed on the source with --deep). A stream-only comparison reads none, and its `source_ms` is 0. Reports
 * without `evidence` come from versions that always hashed on the source.
 */
export function hashesReadTheSource(h: Hashes): boolean {
  return !h.evidence || h.evidence.includes('source-snapshot') || (h.large_objects ?? 0) > 0;
}

/**
 * Whether any table row carries something its restored rows were compared with (a source count, the dump's COPY
 * rows, a content hash). A physical backup's tables carry restored rows only: they are recorded for the baseline
 * and history, and a "match" column would claim a comparison that did not happen.
 */
export function tablesCompared(tables: readonly TableRow[]): boolean {
  return tables.some((t) => (t.source_rows !== null && t.source_rows !== undefined) || (t.dump_rows !== null && t.dump_rows !== undefined)
    || t.dump_hash !== undefined || t.source_hash !== undefined);
}

/** What the tables section says when nothing was compared. */
export const TABLES_RECORDED_ONLY = 'recorded for the baseline and history: this drill has nothing to compare them with';
