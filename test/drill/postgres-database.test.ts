/**
 * A drill of the `postgres` database — where small installations keep their data. The sandbox's initdb made a
 * `postgres` database of its own (empty, UTF8, locale C, used by pgdrill's sessions there): the dump is restored
 * into it instead of failing with "database already exists"; a dump made with `--create` (verify) gets it dropped
 * first. A non-UTF8 `postgres` cannot be drilled, and says so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { pgDump } from '../helpers/dumps.js';
import { ReportSchema } from '../../src/report/model.js';

test('a drill of the postgres database restores into the sandbox\'s own (verify of a --create dump too); a LATIN1 one is refused with the reason', async () => {
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

    await psql(source, 'template1', { sql: 'DROP DATABASE postgres' });
    await psql(source, 'template1', { sql: "CREATE DATABASE postgres ENCODING 'LATIN1' LOCALE 'C' TEMPLATE template0" });
    const latin1 = await runCli(['run', '--source', urlOf(source, 'postgres'), '--out', join(dir.path, 'out'), '--json']);
    assert.equal(latin1.code, 1, latin1.stderr);
    const failed = ReportSchema.parse(JSON.parse(latin1.stdout)).checks.filter((c) => c.status === 'fail');
    assert.ok(failed.some((c) => /cannot restore a LATIN1 database named "postgres": the sandbox's own "postgres" database \(made by initdb, UTF8\)/.test(c.detail)), JSON.stringify(failed));
  } finally {
    await source.stop();
  }
});
