/**
 * Content of large objects (`--deep`): the sha256 of each large object's bytes, on the source in the dump's
 * snapshot and on the restored copy. `pg_largeobject` itself is readable only by superusers; `lo_get(oid, offset,
 * length)` reads an object the session may read (pg_dump must read them too) in slices, so neither the server nor
 * pgdrill holds a whole object, and the hash is taken here as the slices arrive: the first `LO_HEAD` bytes of
 * `LO_BATCH` objects at a time (most large objects are small: one round trip for many), then the rest of a longer
 * one in `LO_SLICE` pieces. A large object read in a REPEATABLE READ transaction shows it as of the transaction's
 * snapshot.
 */
import { createHash, type Hash } from 'node:crypto';
import type { DbSession } from '../pg/client.js';

/** Bytes of each object read in the batched first query. */
export const LO_HEAD = 64 * 1024;
/** Objects per batched first query: at most LO_HEAD × LO_BATCH bytes (4 MiB) in one result. */
export const LO_BATCH = 64;
/** Bytes per `lo_get` read of the rest of a longer object. */
export const LO_SLICE = 1024 * 1024;

/** One large object's content. */
export interface LargeObjectHash {
  /** The OID, as text (pg_dump keeps it: `lo_create(<oid>)`). */
  readonly oid: string;
  readonly bytes: number;
  /** sha256 of the bytes, hex. */
  readonly sha256: string;
}

const HEADS_SQL = `SELECT m.oid::text AS oid, pg_catalog.lo_get(m.oid, 0, ${LO_HEAD}) AS head
  FROM pg_catalog.pg_largeobject_metadata m WHERE m.oid > $1::oid ORDER BY m.oid LIMIT ${LO_BATCH}`;

/** Hash every large object of the connected database, in OID order. */
export async function hashLargeObjects(db: DbSession, signal?: AbortSignal): Promise<LargeObjectHash[]> {
  const out: LargeObjectHash[] = [];
  let after = '0';
  for (;;) {
    signal?.throwIfAborted();
    const heads = await db.query<{ oid: string; head: Buffer }>(HEADS_SQL, [after]);
    for (const { oid, head } of heads) {
      const hash = createHash('sha256').update(head);
      const bytes = head.length < LO_HEAD ? head.length : await hashRest(db, oid, hash, head.length, signal);
      out.push({ oid, bytes, sha256: hash.digest('hex') });
    }
    if (heads.length < LO_BATCH) return out;
    after = heads[heads.length - 1]!.oid;
  }
}

/** Read the rest of one object from `offset` in LO_SLICE pieces into `hash`; its total length. */
async function hashRest(db: DbSession, oid: string, hash: Hash, offset: number, signal?: AbortSignal): Promise<number> {
  let bytes = offset;
  for (;;) {
    signal?.throwIfAborted();
    const slice = await db.value<Buffer>('SELECT pg_catalog.lo_get($1::oid, $2::bigint, $3::int)', [oid, bytes, LO_SLICE]);
    hash.update(slice);
    bytes += slice.length;
    if (slice.length < LO_SLICE) return bytes;
  }
}

/** A large object whose content differs: missing on one side (null) or other bytes. */
export interface LargeObjectDifference {
  readonly oid: string;
  readonly source: LargeObjectHash | null;
  readonly restored: LargeObjectHash | null;
}

/** Every large object present on only one side or with other bytes, in OID order. */
export function diffLargeObjects(source: readonly LargeObjectHash[], restored: readonly LargeObjectHash[]): LargeObjectDifference[] {
  const r = new Map(restored.map((h) => [h.oid, h]));
  const s = new Map(source.map((h) => [h.oid, h]));
  const oids = [...new Set([...s.keys(), ...r.keys()])].sort((a, b) => Number(a) - Number(b));
  return oids
    .map((oid) => ({ oid, source: s.get(oid) ?? null, restored: r.get(oid) ?? null }))
    .filter((d) => d.source?.sha256 !== d.restored?.sha256 || d.source?.bytes !== d.restored?.bytes);
}
