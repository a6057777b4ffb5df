/**
 * The snapshot session does not pile up locks on the source: it counts (and hashes) the tables a batch at a time and
 * gives each batch's locks back, and its fidelity steps give theirs back once done — while its transaction, and so
 * the snapshot pg_dump imported, stays open. Observed from another session in pg_locks; the counts stay the
 * snapshot's (rows inserted after the export are not counted).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { countRows, listTables } from '../../src/catalog/tables.js';
import { SourceFidelityCapture } from '../../src/fidelity/source-capture.js';
import { resolveSource } from '../../src/source/connection.js';
import { eachReleasingLocks } from '../../src/source/lock-batches.js';
import { SourceSnapshot } from '../../src/source/snapshot.js';
import type { AuditEntry, DbSession } from '../../src/pg/client.js';
import { bins, psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { openSession } from '../helpers/safety.js';

/** Relation locks a backend holds on user relations (tables, indexes, views, sequences). */
async function locksOf(observer: DbSession, pid: number): Promise<number> {
  return Number(await observer.value<string>(`SELECT count(*) FROM pg_locks WHERE pid = ${pid} AND locktype = 'relation' AND relation >= 16384`));
}

describe("the snapshot session's locks", () => {
  test('counts hold one batch at a time, fidelity steps give theirs back; the snapshot stays the same', async () => {
    await using dir = await scratchDir();
    const source = await startSource({ parentDir: dir.path });
    try {
      await psql(source, 'postgres', { sql: 'CREATE DATABASE many' });
      await psql(source, 'many', {
        sql: `DO $$ BEGIN FOR i IN 1..120 LOOP EXECUTE format('CREATE TABLE t%s (id serial PRIMARY KEY, v int UNIQUE)', i); END LOOP; END $$;
              INSERT INTO t1 (v) SELECT g FROM generate_series(1, 10) g;
              CREATE VIEW v1 AS SELECT t2.id, t3.v FROM t2 JOIN t3 USING (id); CREATE MATERIALIZED VIEW m1 AS SELECT * FROM t4;`,
      });
      const spec = resolveSource(urlOf(source, 'many'));
      const audit: AuditEntry[] = [];
      await using observer = await openSession(source, 'many');
      await using snap = await SourceSnapshot.open(spec.connection, audit);
      const pid = snap.db.backendPid!;
      await observer.query('INSERT INTO t1 (v) VALUES (11)'); // after the export: not in the snapshot
      const tables = await listTables(snap.db);
      assert.equal(tables.length, 120);

      // A batch of 10: each count is watched from the observer — never more than 10 tables with their 2 indexes.
      let peak = 0;
      await eachReleasingLocks(snap.db, tables, async (t) => {
        await snap.db.value(`SELECT count(*) FROM ONLY "${t.schema}"."${t.name}"`);
        peak = Math.max(peak, await locksOf(observer, pid));
      }, 10);
      assert.ok(peak > 0 && peak <= 30, `peak ${peak}`);
      assert.equal(await locksOf(observer, pid), 0, 'no lock left after the last batch');

      // The drill's counts: exact in the snapshot, nothing held afterwards (without the batches: 360 locks).
      const counts = await countRows(snap.db, tables, undefined, { releaseLocks: true });
      assert.equal(counts.find((c) => c.name === 't1')?.rows, 10);
      assert.equal(await locksOf(observer, pid), 0);

      // The fidelity capture: sequences, the views' definitions, the hashes — each step gives its locks back.
      const fid = await SourceFidelityCapture.begin({
        db: snap.db, snapshot: snap.id, bins: await bins(), env: spec.toolEnv, dir: join(dir.path, 'fidelity'), lockWaitTimeoutMs: 10_000, deep: true, witnessHashes: true, audit,
      });
      const captured = await fid.finish(tables);
      assert.deepEqual(captured.errors, {});
      assert.equal(captured.sequences?.length, 120);
      assert.equal(captured.hashes?.find((h) => h.name === 't1')?.rows, 10);
      assert.ok(captured.catalog, 'catalog captured');
      assert.equal(await locksOf(observer, pid), 0, 'the fidelity steps gave their locks back');
      // Still the same transaction: the snapshot's view of t1.
      assert.equal(await snap.db.value<string>('SELECT count(*) FROM public.t1'), '10');
      assert.ok(audit.some((a) => a.sql === 'ROLLBACK TO SAVEPOINT pgdrill_lock_batch'));
    } finally {
      await source.stop();
    }
  });
});
