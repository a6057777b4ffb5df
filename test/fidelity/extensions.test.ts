import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, rm, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { ReportSchema } from '../../src/report/model.js';
import { extensionGap, extensionsCheck } from '../../src/fidelity/extensions.js';
import { check } from './helpers.js';

test('extensionGap: missing, other version, present', () => {
  const available = new Map([['pgcrypto', ['1.3']], ['hstore', ['1.7', '1.8']]]);
  const gap = extensionGap([{ name: 'pgcrypto', version: '1.3' }, { name: 'hstore', version: '1.6' }, { name: 'postgis', version: '3.4.2' }], available);
  assert.deepEqual(gap.missing, [{ name: 'postgis', version: '3.4.2' }]);
  assert.deepEqual(gap.otherVersion, [{ name: 'hstore', version: '1.6', available: ['1.7', '1.8'] }]);
  const c = extensionsCheck([], gap);
  assert.equal(c.status, 'fail');
  assert.match(c.detail, /environment defect: .*lacks extension\(s\) the source uses: postgis 3\.4\.2/);
  assert.equal(extensionsCheck([], { missing: [], otherVersion: gap.otherVersion }).status, 'warn');
  assert.equal(extensionsCheck([], { missing: [], otherVersion: [] }).status, 'pass');
});

/**
 * End to end, with a real extension the sandbox's server really lacks. Source and sandbox share this machine's
 * PostgreSQL installation, so the test installs a tiny extension's control and script files into its share
 * directory, creates the extension in the source, and removes the files again before the drill: the source keeps
 * the extension (its catalog entries), the sandbox's server no longer has it available — exactly the situation of a
 * restore machine that lacks an extension's package. Needs write access to the share directory (root), else skipped.
 */
test('a dump that uses an extension the sandbox lacks: an environment defect naming it, up front', async (t) => {
  await using dir = await scratchDir();
  const source = await startSource({ parentDir: dir.path });
  const name = `pgdrill_fake_ext_${process.pid}`;
  let files: string[] = [];
  try {
    const sharedir = (await psql(source, 'postgres', { sql: "SELECT setting FROM pg_config WHERE name = 'SHAREDIR'" })).trim();
    const extdir = join(sharedir, 'extension');
    try {
      await access(extdir, constants.W_OK);
    } catch {
      t.skip(`${extdir} is not writable: cannot stage an extension only the source has`);
      return;
    }
    files = [join(extdir, `${name}.control`), join(extdir, `${name}--1.0.sql`)];
    await writeFile(files[0]!, `comment = 'pgdrill test extension'\ndefault_version = '1.0'\nrelocatable = true\n`);
    await writeFile(files[1]!, `CREATE FUNCTION fake_answer() RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 42';\n`);
    await psql(source, 'postgres', { sql: 'CREATE DATABASE shop' });
    await psql(source, 'shop', { sql: `CREATE EXTENSION ${name}; CREATE TABLE items (id int PRIMARY KEY, answer int DEFAULT fake_answer()); INSERT INTO items (id) SELECT generate_series(1, 10);` });
    for (const f of files) await rm(f, { force: true });

    const r = await runCli(['run', '--source', urlOf(source, 'shop'), '--out', join(dir.path, 'out'), '--json']);
    assert.equal(r.code, 1, r.stderr);
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    const c = check(report, 'restore.extensions_available');
    assert.equal(c.status, 'fail');
    assert.match(c.detail, new RegExp(`environment defect: the sandbox's PostgreSQL lacks extension\\(s\\) the source uses: ${name} 1\\.0`));
    assert.deepEqual(report.fidelity!.extensions_missing, [{ name, version: '1.0' }]);
    // Reported before the restore's own errors, and those are classified the same way.
    const names = report.checks.map((x) => x.name);
    assert.ok(names.indexOf('restore.extensions_available') < names.indexOf('restore.errors'), names.join(', '));
    const ext = report.restore!.errors.find((e) => e.message.includes(name));
    assert.ok(ext, JSON.stringify(report.restore!.errors));
    assert.equal(ext.classification, 'environment_defect');
    assert.match(ext.hint ?? '', /lacks an extension/);
  } finally {
    for (const f of files) await rm(f, { force: true });
    await source.stop();
  }
});
