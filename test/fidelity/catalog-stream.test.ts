/**
 * The catalog read as a stream, on a real server: a capture that cannot write its file fails with that error,
 * leaves no file, and closes its cursor (the snapshot's transaction goes on); two reads of one catalog compare equal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { captureCatalog, readCatalogFacts, readCatalogFile } from '../../src/fidelity/catalog-facts.js';
import { diffCatalogStreams } from '../../src/fidelity/catalog-diff.js';
import { prepareFidelitySession } from '../../src/fidelity/session.js';
import { usePagila } from '../helpers/clusters.js';

const fx = usePagila();

test('a catalog capture that cannot write its file fails with that error, leaves no file and closes its cursor', async () => {
  await using db = await fx.source.open('pagila');
  await prepareFidelitySession(db);
  await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  const path = join(fx.dir, 'no-such-dir', 'source-catalog.ndjson');
  await assert.rejects(captureCatalog(db, path), /ENOENT/);
  await assert.rejects(access(path));
  // The transaction is still usable and the cursor's name free again: the capture closed it.
  const again = join(fx.dir, 'source-catalog.ndjson');
  const c = await captureCatalog(db, again);
  assert.ok(c.facts > 1000, `${c.facts} facts`);
  // The file and a second read of the same catalog, compared as streams: equal, fact for fact.
  const d: unknown[] = [];
  assert.deepEqual(await diffCatalogStreams(readCatalogFile(again), readCatalogFacts(db), (x) => d.push(x)), { source: c.facts, restored: c.facts });
  assert.deepEqual(d, []);
  await db.query('COMMIT');
});
