/** What the fidelity section's content hashes rest on, in words — shared by report.md and report.html. */
import type { Fidelity } from './model.js';

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
