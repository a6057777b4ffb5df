/**
 * Database names are always exact: names PostgreSQL's programs would read as a pattern (`MixedCase`, `my.app`,
 * `o"q`, `all*`) or as a connection string (`a=b`) or as an option (`-lead`) are drilled as themselves, in the plain
 * (psql) and the custom (pg_restore) paths, and every check PASSes — fidelity.amcheck among them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { psql, scratchDir, startSource } from '../helpers/clusters.js';
import { APP_SQL } from '../helpers/safety.js';
import { pgDump } from '../helpers/dumps.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { ReportSchema } from '../../src/report/model.js';

const NAMES: [string, 'plain' | 'custom'][] = [
  ['MixedCase', 'custom'], ['my.app', 'custom'], ['o"q', 'plain'], ['o"q', 'custom'], ['a=b', 'plain'], ['a=b', 'custom'],
  ['-lead', 'custom'], ['all*', 'custom'],
];

describe('odd database names are drilled as themselves', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  before(async () => {
    dir = await scratchDir();
    source = await startSource({ parentDir: dir.path });
    for (const name of new Set(NAMES.map(([n]) => n))) {
      await psql(source, 'postgres', { sql: `CREATE DATABASE "${name.replace(/"/g, '""')}" ENCODING 'UTF8' TEMPLATE template0 LOCALE 'C'` });
      await psql(source, name, { sql: APP_SQL });
    }
    // A database whose name the patterns above would also match: a pattern would check it (or it alone) instead.
    await psql(source, 'postgres', { sql: 'CREATE DATABASE mixedcase' });
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  for (const name of ['a=b', 'o"q', '-lead', 'my.app']) {
    test(`verify of a pg_dump --create plain dump of ${JSON.stringify(name)} (its own \\connect)`, async () => {
      await mkdir(join(dir.path, 'dumps'), { recursive: true });
      const file = await pgDump(source, name, 'plain', join(dir.path, 'dumps', `created-${encodeURIComponent(name)}.sql`), ['--create']);
      const r = await runCli(['verify', file, '--out', join(dir.path, 'out-verify'), '--json']);
      const report = ReportSchema.parse(JSON.parse(r.stdout));
      assert.deepEqual(report.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`), [], r.stderr.slice(-1000));
      assert.equal(r.code, 0);
      // The dump's own CREATE DATABASE and \connect put the rows where they belong.
      assert.equal(report.tables.find((t) => t.name === 'orders')?.restored_rows, 2000);
    });
  }

  for (const [name, format] of NAMES) {
    test(`${JSON.stringify(name)} (${format})`, async () => {
      const url = `postgresql://postgres@/${encodeURIComponent(name)}?host=${encodeURIComponent(source.socketDir)}&port=${source.port}`;
      const r = await runCli(['run', '--source', url, '--format', format, '--out', join(dir.path, 'out'), '--json']);
      const report = ReportSchema.parse(JSON.parse(r.stdout));
      const failed = report.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`);
      assert.deepEqual(failed, [], r.stderr.slice(-1000));
      assert.equal(r.code, 0);
      assert.equal(report.source.database, name);
      const amcheck = report.checks.find((c) => c.name === 'fidelity.amcheck')!;
      assert.equal(amcheck.status, 'pass', amcheck.detail);
      assert.ok(report.fidelity!.amcheck!.relations_checked >= 4, `amcheck checked the restored tables: ${amcheck.detail}`);
      assert.equal(report.tables.find((t) => t.name === 'orders')?.restored_rows, 2000);
    });
  }
});
