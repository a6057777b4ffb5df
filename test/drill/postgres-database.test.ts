/**
 * A drill of the `postgres` database — where small installations keep their data. The sandbox's initdb made a
 * `postgres` database of its own (empty, UTF8, locale C, used by pgdrill's sessions there): the dump is restored
 * into it instead of failing with "database already exists"; a dump made with `--create` (verify) gets it dropped
 * first. A `postgres` in another encoding or locale replaces initdb's, created with the source's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { pgDump } from '../helpers/dumps.js';
import { ReportSchema } from '../../src/report/model.js';

test('a drill of the postgres database restores into the sandbox\'s own (verify of a --create dump too); one in another encoding or locale replaces it', async () => {
  await using dir = await scratchDir();
  const source = await startSource({ parentDir: dir.path });
  try {
    await psql(source, 'postgres', { sql: 'CREATE TABLE items (id serial PRIMARY KEY, name text); INSERT INTO items (name) SELECT md5(g::text) FROM generate_series(1, 500) g;' });
    const ok = await runCli(['run', '--source', urlOf(source, 'postgres'), '--out', join(dir.path, 'out'), '--json']);
    const report = ReportSchema.parse(JSON.parse(ok.stdout));
    assert.equal(ok.code, 0, JSON.stringify(report.checks.filter((c) => c.status === 'fail')));
    assert.equal(report.tables.find((t) => t.name === 'items')?.restored_rows, 500);
    assert.equal(report.checks.find((c) => c.name === 'fidelity.catalog')?.status, 'pass');

    // A dump made with --create creates `postgres` itself: verify drops the sandbox's before psql replays it.
    const created = await pgDump(source, 'postgres', 'plain', join(dir.path, 'postgres-create.sql'), ['--create']);
    const verified = await runCli(['verify', created, '--out', join(dir.path, 'out-verify'), '--json']);
    const vr = ReportSchema.parse(JSON.parse(verified.stdout));
    assert.equal(verified.code, 0, JSON.stringify(vr.checks.filter((c) => c.status === 'fail')));
    assert.equal(vr.tables.find((t) => t.name === 'items')?.restored_rows, 500);

    // A `postgres` in another encoding or locale (Debian's default clusters take the system's, e.g. C.UTF-8):
    // initdb's own is replaced by one with the source's, with or without the overlap.
    for (const [create, overlap] of [["ENCODING 'LATIN1' LOCALE 'C'", true], ["ENCODING 'UTF8' LOCALE 'C.UTF-8'", false]] as const) {
      await psql(source, 'template1', { sql: 'DROP DATABASE postgres' });
      await psql(source, 'template1', { sql: `CREATE DATABASE postgres ${create} TEMPLATE template0` });
      await psql(source, 'postgres', { sql: "CREATE TABLE words (w text CHECK (w ~ '^[[:alpha:]]+$')); INSERT INTO words VALUES ('abc');" });
      const config = join(dir.path, `overlap-${overlap}.yaml`);
      await writeFile(config, `backup:\n  overlap: ${overlap}\n`);
      const other = await runCli(['run', '--source', urlOf(source, 'postgres'), '--out', join(dir.path, `out-${overlap}`), '--config', config, '--json']);
      const r = ReportSchema.parse(JSON.parse(other.stdout));
      assert.equal(other.code, 0, `${create}: ${JSON.stringify(r.checks.filter((c) => c.status === 'fail'))}`);
      assert.equal(r.restore?.overlapped, overlap);
      assert.equal(r.tables.find((t) => t.name === 'words')?.restored_rows, 1);
    }
  } finally {
    await source.stop();
  }
});
