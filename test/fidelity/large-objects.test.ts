/**
 * Large objects' content hashes (`--deep`): every size around the read boundaries (the batched first 64 KiB, the
 * 1 MiB slices after it) and more objects than one batch hashes exactly as the server's own sha256 of the whole
 * object does; in a REPEATABLE READ transaction, as of its snapshot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashLargeObjects, LO_BATCH, LO_HEAD, LO_SLICE } from '../../src/fidelity/large-object-hash.js';
import { psql, scratchDir, startSource } from '../helpers/clusters.js';
import { openSession } from '../helpers/safety.js';

test('large objects hash as the server hashes them, at every read boundary and beyond one batch', async () => {
  await using dir = await scratchDir();
  const source = await startSource({ parentDir: dir.path });
  try {
    const sizes = [0, 1, LO_HEAD - 1, LO_HEAD, LO_HEAD + 1, LO_HEAD + LO_SLICE - 1, LO_HEAD + LO_SLICE, LO_HEAD + LO_SLICE + 1, 2 * LO_SLICE + 12345];
    // Each object's bytes differ (a counter in every 4-byte word, offset by the OID): a slice read twice or skipped changes the hash.
    const make = (oid: number, n: number) => `SELECT pg_catalog.lo_from_bytea(${oid}, substring(decode(string_agg(lpad(to_hex(${oid} + g), 8, '0'), '' ORDER BY g), 'hex') FROM 1 FOR ${n})) FROM generate_series(0, ${Math.ceil(n / 4)}) g;`;
    const smalls = Array.from({ length: LO_BATCH + 6 }, (_, i) => make(70000 + i, 3 + i));
    await psql(source, 'postgres', { sql: [...sizes.map((n, i) => make(60000 + i, n)), ...smalls].join('\n') });
    await using db = await openSession(source, 'postgres');
    await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const expected = await db.query<{ oid: string; bytes: number; sha256: string }>(
      `SELECT oid::text, length(pg_catalog.lo_get(oid)) AS bytes, encode(sha256(pg_catalog.lo_get(oid)), 'hex') AS sha256 FROM pg_largeobject_metadata ORDER BY oid`);
    // Changed after the snapshot: not seen.
    await psql(source, 'postgres', { sql: `SELECT pg_catalog.lo_put(60008, 10, '\\xff'::bytea); SELECT pg_catalog.lo_unlink(60000);` });
    const got = await hashLargeObjects(db);
    assert.equal(got.length, sizes.length + LO_BATCH + 6);
    assert.deepEqual(got, expected.map((e) => ({ ...e, bytes: Number(e.bytes) })));
    assert.deepEqual(got.slice(0, sizes.length).map((h) => h.bytes), sizes);
    await db.query('COMMIT');
    const now = await hashLargeObjects(db);
    assert.equal(now.length, got.length - 1);
    assert.notEqual(now.find((h) => h.oid === '60008')!.sha256, got.find((h) => h.oid === '60008')!.sha256);
  } finally {
    await source.stop();
  }
});
