/**
 * Sequence positions. Sequences are not transactional: a snapshot does not freeze them, and pg_dump reads each
 * sequence's state when it gets to it, after the snapshot was taken. So the restored value cannot be compared for
 * equality; what must hold is that it is **not behind**: every value the snapshot's rows can contain was handed
 * out before the snapshot, so a position read on the source right after the snapshot was exported (before
 * pg_dump starts) is a lower bound for what pg_dump wrote (upper bound for descending sequences).
 */
import type { DbSession } from '../pg/client.js';
import { quoteIdent } from '../catalog/tables.js';
import { quoteLiteral } from './session.js';

/** Where a sequence stands: the last value it handed out (or, never called, the one before its first). */
export interface SequencePosition {
  /** `schema.name` */
  readonly sequence: string;
  /** As text: bigint does not fit a JS number. */
  readonly position: string;
  readonly increment: string;
}

const LIST_SQL = `
SELECT n.nspname AS schema, c.relname AS name, s.seqincrement::text AS increment
  FROM pg_catalog.pg_sequence s JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)' AND c.relpersistence <> 't'
   AND (NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND e.objid = c.oid AND e.deptype = 'e')
        -- an extension's configuration sequence (pg_extension_config_dump): pg_dump dumps its position
        OR c.oid IN (SELECT pg_catalog.unnest(x.extconfig) FROM pg_catalog.pg_extension x))
 ORDER BY 1, 2`;

/**
 * Read every sequence's position: one catalog query for the list, then one query reading all of them
 * (`SELECT last_value, is_called FROM seq` per sequence, as one UNION ALL) — plain reads, no nextval().
 */
export async function readSequencePositions(db: DbSession): Promise<SequencePosition[]> {
  const list = await db.query<{ schema: string; name: string; increment: string }>(LIST_SQL);
  if (!list.length) return [];
  const union = list
    .map((s) => `SELECT ${quoteLiteral(`${s.schema}.${s.name}`)} AS sequence, last_value::text AS last_value, is_called FROM ${quoteIdent(s.schema)}.${quoteIdent(s.name)}`)
    .join('\nUNION ALL\n');
  const rows = await db.query<{ sequence: string; last_value: string; is_called: boolean }>(union);
  const inc = new Map(list.map((s) => [`${s.schema}.${s.name}`, s.increment]));
  return rows.map((r) => {
    const increment = inc.get(r.sequence)!;
    const position = r.is_called ? BigInt(r.last_value) : BigInt(r.last_value) - BigInt(increment);
    return { sequence: r.sequence, position: position.toString(), increment };
  });
}

/** A sequence whose restored position is behind the source's (or that is missing). */
export interface SequenceBehind {
  readonly sequence: string;
  readonly source: string;
  readonly restored: string | null;
}

/** Sequences whose restored position is behind the source's: lower for ascending, higher for descending ones. */
export function sequencesBehind(source: readonly SequencePosition[], restored: readonly SequencePosition[]): SequenceBehind[] {
  const got = new Map(restored.map((s) => [s.sequence, s]));
  const out: SequenceBehind[] = [];
  for (const s of source) {
    const r = got.get(s.sequence);
    if (!r) {
      out.push({ sequence: s.sequence, source: s.position, restored: null });
      continue;
    }
    const ascending = BigInt(s.increment) > 0n;
    const behind = ascending ? BigInt(r.position) < BigInt(s.position) : BigInt(r.position) > BigInt(s.position);
    if (behind) out.push({ sequence: s.sequence, source: s.position, restored: r.position });
  }
  return out;
}
