/**
 * The source as a witness of pg_dump (`source.witness`): what pgdrill reads on production beside pg_dump's own
 * read. The rows and content of every table come from the dump's COPY stream either way (src/scan/copy-hash.ts);
 * `counts` adds an exact count(*) of every table in the dump's snapshot (a second read of each table's heap),
 * `hashes` also the source server's row hashes (src/fidelity/content-hash.ts), `none` nothing.
 */
import { countSourceRows, type SourceCounts, type TableRef } from '../catalog/tables.js';
import type { DbSession } from '../pg/client.js';

/** The values of `source.witness`. */
export type SourceWitness = 'counts' | 'hashes' | 'none';

/** The exact counts the witness asks for, in the snapshot session; none (empty) for `none`. */
export async function witnessCounts(witness: SourceWitness, db: DbSession, tables: readonly TableRef[], signal?: AbortSignal): Promise<SourceCounts> {
  if (witness === 'none') return { counts: [], failures: [] };
  return countSourceRows(db, tables, signal);
}
