/** Where a truncated plain dump ends, in words an operator can act on: which section and which object it stops after. */
import type { PlainScanResult } from '../../scan/types.js';

/** pg_dump's data-section entry types. */
const DATA_TYPES = new Set(['TABLE DATA', 'SEQUENCE SET', 'BLOBS', 'BLOB', 'BLOB DATA', 'LARGE OBJECT', 'LARGE OBJECTS']);

/**
 * Describe the end of a dump that has no trailer (and does not end inside COPY data): the section it stops in and
 * the last `-- Name: …; Type: …` header before the end. Sections follow pg_dump's order: pre-data, data, post-data.
 */
export function truncationPoint(scan: PlainScanResult): string {
  const entries = scan.inventory.entries;
  const last = entries[entries.length - 1];
  if (!last) return `it ends at line ${scan.lines} before any object header`;
  const what = `${last.type} ${last.schema ? `${last.schema}.` : ''}${last.name} (header at line ${last.line})`;
  const sawData = entries.some((e) => DATA_TYPES.has(e.type));
  if (DATA_TYPES.has(last.type)) {
    const post = entries.slice(entries.indexOf(last)).some((e) => !DATA_TYPES.has(e.type));
    return `it ends at line ${scan.lines} in the data section, after ${what}: ${post ? 'part of' : 'all of'} the post-data section (constraints, indexes, triggers, grants) is missing`;
  }
  if (sawData) return `it ends at line ${scan.lines} inside the post-data section, after ${what}: the constraints, indexes, triggers or grants after it are missing`;
  return `it ends at line ${scan.lines} in the pre-data section, after ${what}: all table data and everything after it are missing`;
}
