/**
 * Content of large objects (`--deep`): the sha256 of each large object's bytes, read from the dump's own text on the
 * source's side (`LargeObjectDumpReader`: production pays nothing beyond pg_dump's read) and from the restored copy
 * (`hashLargeObjects`). `pg_largeobject` itself is readable only by superusers; `lo_get(oid, offset, length)` reads
 * an object the session may read in slices, so neither the server nor pgdrill holds a whole object, and the hash is
 * taken here as the slices arrive: the first `LO_HEAD` bytes of `LO_BATCH` objects at a time (most large objects
 * are small: one round trip for many), then the rest of a longer one in `LO_SLICE` pieces.
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

/** `SELECT pg_catalog.lo_open('<oid>', 131072);` — a large object's data begins (pg_dump's plain text and pg_restore's). */
const LO_OPEN = /^SELECT pg_catalog\.lo_open\('(\d+)', \d+\);$/;
/** A slice of its bytes, hex bytea under `standard_conforming_strings = on` (set by the dump's header). */
const LO_WRITE_HEAD = "SELECT pg_catalog.lowrite(0, '\\x";
const LO_WRITE_TAIL = "');";
const LO_CLOSE = 'SELECT pg_catalog.lo_close(0);';

/**
 * Every large object's sha256 from the dump's own text (`--deep`): the lines of its BLOBS data entry — a plain dump's,
 * or pg_restore's text of an archive's — are fed one by one (`line`, latin1: only ASCII is expected). pg_dump writes
 * each object as `lo_open('<oid>')`, its bytes in `lowrite(0, '\x…')` slices, `lo_close(0)`, inside BEGIN/COMMIT: the
 * bytes are hashed as they pass, never held. Compared with `hashLargeObjects` of the restored copy, this costs
 * production nothing beyond pg_dump's own read. Any other line is an error (`result` throws it): a form this reader
 * does not know must not pass for an empty object.
 */
export class LargeObjectDumpReader {
  private readonly done: LargeObjectHash[] = [];
  private open: { oid: string; hash: Hash; bytes: number } | null = null;
  private error: string | null = null;

  /** One line of a BLOBS data entry, without its newline. */
  line(text: string): void {
    if (this.error) return;
    const opened = LO_OPEN.exec(text);
    if (opened && !this.open) {
      this.open = { oid: opened[1]!, hash: createHash('sha256'), bytes: 0 };
    } else if (this.open && text.startsWith(LO_WRITE_HEAD) && text.endsWith(LO_WRITE_TAIL)) {
      const hex = text.slice(LO_WRITE_HEAD.length, text.length - LO_WRITE_TAIL.length);
      const bytes = Buffer.from(hex, 'hex');
      // Buffer.from stops silently at the first character that is not hex: a short decode is a malformed line.
      if (bytes.length * 2 !== hex.length) return void (this.error = `large object ${this.open.oid}: a lowrite line that is not hex bytea`);
      this.open.hash.update(bytes);
      this.open.bytes += bytes.length;
    } else if (this.open && text === LO_CLOSE) {
      this.done.push({ oid: this.open.oid, bytes: this.open.bytes, sha256: this.open.hash.digest('hex') });
      this.open = null;
    } else if (!(text === '' || text === '--' || text === 'BEGIN;' || text === 'COMMIT;')) {
      this.error = `an unexpected line in the dump's large objects: ${JSON.stringify(text.slice(0, 80))}`;
    }
  }

  /** The objects read, in OID order. @throws Error on a line it did not understand, or an object never closed. */
  result(): LargeObjectHash[] {
    if (!this.error && this.open) this.error = `large object ${this.open.oid} was never closed in the dump (lo_close missing: a dump cut short?)`;
    if (this.error) throw new Error(this.error);
    return [...this.done].sort((a, b) => Number(a.oid) - Number(b.oid));
  }
}
