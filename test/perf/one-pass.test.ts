/**
 * One pass for custom archives: the archive is scanned by `pg_restore --file=-` from pg_dump's own stream while it
 * is written (src/inventory/archive-scan-stream.ts), not read again after the dump; and a truncated archive (a
 * "pg_dump" whose pipeline exits 0, as `pg_dump | head` does) still fails the content stage with pg_restore's error.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { urlOf, usePagila } from '../helpers/clusters.js';
import { fakeBindir } from '../helpers/fake-bindir.js';
import { ReportSchema } from '../../src/report/model.js';

describe('custom archives in one pass', () => {
  const fx = usePagila();

  test('the archive is scanned from the dump stream: PASS with the full inventory', async () => {
    const out = join(fx.dir, 'out-custom');
    const r = await runCli(['run', '--source', urlOf(fx.source, 'pagila'), '--format', 'custom', '--out', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    assert.equal(report.backup.format, 'custom');
    // The scan of the streamed archive saw every table, view and function the source has.
    for (const type of ['table', 'view', 'materialized_view', 'function', 'sequence'] as const) {
      assert.equal(report.inventory?.counts_by_type[type], report.restore?.objects_source[type], type);
    }
    assert.equal(report.checks.find((c) => c.name === 'backup.hostile_content')?.status, 'pass');
    const log = await readFile(join(report.run.dir, 'run.log'), 'utf8');
    assert.match(log, /archive scanned from pg_dump's stream by pg_restore --file=-: \d+ bytes of script/);
  });

  test('a truncated archive whose pg_dump "succeeded" fails the content stage with pg_restore\'s error', async () => {
    await using bin = await fakeBindir('"$REAL" "$@" | head -c 100000');
    const out = join(fx.dir, 'out-truncated');
    const r = await runCli(['run', '--source', urlOf(fx.source, 'pagila'), '--format', 'custom', '--out', out, '--json'], { env: { PG_BINDIR: bin.path } });
    assert.equal(r.code, 1, r.stderr);
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    assert.equal(report.checks.find((c) => c.name === 'backup.pg_dump')?.status, 'pass', 'the pipeline exited 0');
    const content = report.checks.find((c) => c.name === 'content.error');
    assert.equal(content?.status, 'fail');
    assert.match(content!.detail, /pg_restore/);
  });
});
