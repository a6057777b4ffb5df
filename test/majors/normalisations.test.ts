/**
 * The cross-major normalisations (src/fidelity/cross-major.ts) against real servers, below the CLI: the fixture of a
 * 15 source is restored by psql into a server of 16, 17 and 18 (the server store's), and both catalogs and both
 * schema-only dumps (one pg_dump of the newest client for both) are compared as the fidelity stage compares them.
 * Without the rules they differ; with them they are equal, every expected rule applied; and a view changed in the
 * copy is still a difference.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { diffCatalogStreams, describeDifference, type CatalogDifference } from '../../src/fidelity/catalog-diff.js';
import { readCatalogFacts, type CatalogFact } from '../../src/fidelity/catalog-facts.js';
import { CrossMajorNormaliser } from '../../src/fidelity/cross-major.js';
import { compareSchemaDumps, dumpSchema } from '../../src/fidelity/round-trip.js';
import { prepareFidelitySession } from '../../src/fidelity/session.js';
import { runProcess } from '../../src/exec/run-process.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { bins, psql, scratchDir, startSource } from '../helpers/clusters.js';
import { requireMajor } from '../helpers/majors.js';
import { DB, startFixtureSource } from './helpers.js';

const EXPECTED: Record<number, string[]> = {
  16: ['view-column-qualification', 'xmlserialize-no-indent'],
  17: ['view-column-qualification', 'xmlserialize-no-indent', 'domain-not-null-constraint', 'maintain-privilege'],
  18: ['view-column-qualification', 'xmlserialize-no-indent', 'domain-not-null-constraint', 'maintain-privilege', 'not-null-constraint'],
};

/** A cluster's catalog facts, read as the fidelity stage reads them (its session settings, one snapshot). */
async function* factsOf(c: SandboxCluster): AsyncGenerator<CatalogFact[]> {
  await using db = await c.open(DB);
  await prepareFidelitySession(db);
  await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  yield* readCatalogFacts(db);
  await db.query('COMMIT');
}

async function catalogDifferences(source: SandboxCluster, restored: SandboxCluster, n: CrossMajorNormaliser | null): Promise<CatalogDifference[]> {
  const out: CatalogDifference[] = [];
  const [s, r] = n ? [n.facts(factsOf(source), 'source'), n.facts(factsOf(restored), 'restored')] : [factsOf(source), factsOf(restored)];
  await diffCatalogStreams(s, r, (d) => {
    if (!n?.explains(d)) out.push(d);
  });
  return out;
}

describe('cross-major normalisations on real servers: a 15 source restored into 16, 17, 18', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  let dump: string;
  before(async () => {
    scratch = await scratchDir('pgdrill-normalise-');
    source = await startFixtureSource(15, scratch.path);
    const b = await bins();
    dump = join(scratch.path, `${DB}.sql`);
    await runProcess({ bin: b.path('pg_dump'), args: ['--file', dump, DB], env: source.env(DB) });
  });
  after(async () => {
    await source?.stop();
    await scratch?.[Symbol.asyncDispose]();
  });

  for (const target of [16, 17, 18]) {
    test(`15 → ${target}: equal with the rules (each listed), different without them; a changed view still differs`, async (t) => {
      const tb = await requireMajor(t, target);
      if (!tb) return;
      // The round trip needs a pg_dump that can dump the newer server: binsOfMajor gives the closest newer client.
      const dumper = await runProcess({ bin: tb.path('pg_dump'), args: ['--version'], stdout: 'capture' });
      const dumperMajor = Number(/\)\s+(\d+)/.exec(dumper.stdout)?.[1]);
      if (!(dumperMajor >= target)) return void t.skip(`no pg_dump ${target} or newer on this machine (bash scripts/pg-majors builds 18's)`);
      const restored = await startSource({ parentDir: scratch.path, bins: tb, label: `restored-${target}` });
      try {
        await psql(restored, 'postgres', { sql: 'CREATE ROLE app_reader NOLOGIN' }); // the fixture's one role
        await psql(restored, 'postgres', { sql: `CREATE DATABASE ${DB} TEMPLATE template0` });
        await psql(restored, DB, { files: [dump] });

        assert.notDeepEqual(await catalogDifferences(source, restored, null), [], 'the majors differ without the rules');
        const n = new CrossMajorNormaliser(15, target);
        assert.deepEqual((await catalogDifferences(source, restored, n)).map(describeDifference), []);
        const [a, b] = [join(scratch.path, `source-${target}.sql`), join(scratch.path, `restored-${target}.sql`)];
        await dumpSchema({ bins: tb, env: source.env(DB), path: a });
        await dumpSchema({ bins: tb, env: restored.env(DB), path: b });
        assert.equal((await compareSchemaDumps(a, b)).equal, false, 'the schema dumps differ without the rules');
        const cmp = await compareSchemaDumps(a, b, undefined, { normaliser: n });
        assert.equal(cmp.equal, true, JSON.stringify(cmp.objects.slice(0, 3)));
        const applied = n.applied();
        assert.deepEqual(applied.map((x) => x.id), EXPECTED[target]);
        for (const x of applied) assert.ok(x.catalog_facts + x.round_trip_objects > 0, `${x.id} touched something`);

        // A real change is no normalisation: the copy's view selects other rows.
        await psql(restored, DB, { sql: 'CREATE OR REPLACE VIEW app.v AS SELECT id, f * 2 AS g FROM app.t WHERE f > 0.7' });
        const changed = await catalogDifferences(source, restored, new CrossMajorNormaliser(15, target));
        assert.deepEqual(changed.map((d) => `${d.object}: ${d.attribute}`), ['view app.v: definition']);
      } finally {
        await restored.stop();
      }
    });
  }
});
