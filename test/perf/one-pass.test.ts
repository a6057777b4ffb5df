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
import { openSync, writeSync, closeSync } from 'node:fs';
import { takeDump } from '../../src/backup/pg-dump.js';
import { checkSums, sha256File, writeSums } from '../../src/backup/sha256sums.js';
import { bins, silentLogger } from '../helpers/clusters.js';

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
    assert.equal(report.checks.find((c) => c.name === 'content.hostile_content')?.status, 'pass');
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
    assert.match(content.detail, /pg_restore/);
  });

  test('plain: the file is re-read as soon as pg_dump exited; a byte changed on disk after the stream read it fails the self-check (backup.sha256_self_check)', async () => {
    const b = await bins();
    const env = fx.source.env('pagila');
    const ok = await takeDump({ bins: b, env, format: 'plain', path: join(fx.dir, 'reread-ok.sql'), reread: true, logger: silentLogger });
    assert.deepEqual(ok.reread, { sha256: ok.sha256, bytes: ok.sizeBytes });
    assert.equal(await sha256File(ok.path), ok.sha256);

    // The stream has read the first bytes long before pg_dump exits; changing one of them on disk then, before the
    // re-read starts, is what a write behind pgdrill's back (or a bad disk) looks like.
    const path = join(fx.dir, 'reread-tampered.sql');
    const bad = await takeDump({
      bins: b, env, format: 'plain', path, reread: true, logger: silentLogger,
      onWriterExited: () => {
        const fd = openSync(`${path}.partial`, 'r+');
        writeSync(fd, '#', 3);
        closeSync(fd);
      },
    });
    assert.notEqual(bad.reread?.sha256, bad.sha256, 'the re-read saw the changed byte');
    const sums = join(fx.dir, 'SHA256SUMS.tampered');
    await writeSums(sums, [{ path: bad.path, sha256: bad.sha256 }]);
    const self = await checkSums(sums, new Map([[bad.path, bad.reread!.sha256]]));
    assert.equal(self.ok, false);
    assert.deepEqual(self.failures, [{ path: 'reread-tampered.sql', expected: bad.sha256, actual: bad.reread!.sha256 }]);
  });
});

