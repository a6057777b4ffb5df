/**
 * Flat memory in the number of objects, not only in the dump's bytes: a drill of 5,000 tables (20,000 relations,
 * a 3 MB dump) through the CLI stays under the team's 150 MB of peak RSS. Measured: 276 MB before the catalog was
 * compared as streams, the heap's growth capped and trees removed by `rm -rf` (src/fidelity/catalog-diff.ts,
 * src/cli/heap-cap.ts, src/exec/remove-tree.ts); 142 MB after; 157–167 MB on 2026-12-06 before the young generation
 * was halved and the source's object list and the catalog batches made compact, 140–142 MB after; 144–166 MB
 * idle after the evening's merges, 132–141 MB with the heap cap's slack at 16 MB
 * (docs/performance.md). A memory bound, not a timing: it fails when what a drill holds per object grows again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { ReportSchema } from '../../src/report/model.js';

const TABLES = 5000;
const MB = 1024 * 1024;
/** The team's target for a drill's peak RSS. */
const LIMIT_MB = 150;

test(`a drill of ${TABLES} tables peaks under ${LIMIT_MB} MB`, async () => {
  await using dir = await scratchDir();
  // Room in the source's lock table for a drill of this many tables (the guard refuses one that would not fit).
  const source = await startSource({ parentDir: dir.path, settings: { max_locks_per_transaction: '512' } });
  try {
    await psql(source, 'postgres', { sql: 'CREATE DATABASE many' });
    await psql(source, 'many', {
      sql: `DO $$ BEGIN FOR i IN 1..${TABLES} LOOP
        EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, v text)', i);
        EXECUTE format('INSERT INTO t%s SELECT g, md5(g::text) FROM generate_series(1, 3) g', i);
      END LOOP; END $$`,
    });
    const r = await runCli(['run', '--source', urlOf(source, 'many'), '--out', join(dir.path, 'out'), '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout.slice(0, 2000));
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    assert.equal(report.tables.length, TABLES);
    assert.ok(report.fidelity!.catalog!.source_facts > 10 * TABLES, `${report.fidelity!.catalog!.source_facts} catalog facts compared`);
    // 20,000 relations checked: report.json lists those with findings only (none), and counts the rest.
    const am = report.fidelity!.amcheck!;
    assert.ok(am.relations_checked >= 4 * TABLES, `${am.relations_checked} relations checked`);
    assert.deepEqual([am.relations.length, am.relations_omitted], [0, am.relations_checked]);
    const peak = report.run.peak_rss_bytes!;
    assert.ok(peak < LIMIT_MB * MB, `peak RSS ${(peak / MB).toFixed(0)} MB for ${TABLES} tables`);
  } finally {
    await source.stop();
  }
});
