/**
 * The programs a drill chooses, on real clusters: the report names the source, pg_dump and sandbox versions and every
 * program used; a source whose major has no pg_dump is exit 4 before any file is written; an archive newer than
 * every pg_restore is exit 4 naming the major it needs; the sandbox-major flags are checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runDrill } from '../../src/drill/run-drill.js';
import { EnvironmentError } from '../../src/errors.js';
import { resolveSandboxUser } from '../../src/exec/os-user.js';
import { ReportSchema } from '../../src/report/model.js';
import { SandboxCluster } from '../../src/sandbox/cluster.js';
import { storedServers } from '../../src/toolchain/server-store.js';
import { resolveToolchain } from '../../src/toolchain/toolchain.js';
import { runCli } from '../helpers/cli.js';
import { bins, psql, scratchDir, silentLogger, startSource, urlOf } from '../helpers/clusters.js';
import { pgDump } from '../helpers/dumps.js';
import { requireMajor, startSourceOfMajor } from '../helpers/majors.js';

test('run and verify name the source, pg_dump and sandbox versions and every program used; the flags are checked', async () => {
  await using dir = await scratchDir();
  const source = await startSource({ parentDir: dir.path });
  try {
    await psql(source, 'postgres', { sql: 'CREATE DATABASE app' });
    await psql(source, 'app', { sql: 'CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 100) g' });
    const major = (await bins()).server.version.major;
    const r = await runCli(['run', '--source', urlOf(source, 'app'), '--out', join(dir.path, 'out'), '--format', 'custom', '--sandbox-major', String(major), '--json']);
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    assert.equal(r.code, 0, r.stderr);
    const v = report.versions!;
    assert.equal(v.source_major, major);
    assert.equal(v.pg_dump_major, major);
    assert.equal(v.sandbox_major, major);
    assert.equal(v.target_major, null);
    for (const [name, role] of [['pg_dump', 'dump'], ['pg_dumpall', 'dump'], ['postgres', 'server'], ['initdb', 'server'], ['pg_restore', 'client'], ['psql', 'client'], ['pg_dump', 'sandbox-dump']]) {
      const p = v.programs.find((x) => x.name === name && x.role === role);
      assert.ok(p && existsSync(p.path) && p.version.startsWith(`${major}.`), `${name} (${role}): ${JSON.stringify(p)}`);
    }
    assert.match(await readFile(join(report.run.dir, 'run.log'), 'utf8'), new RegExp(`sandbox PostgreSQL ${major}\\.\\d+ .*: the source's major`));

    const dump = await pgDump(source, 'app', 'custom', join(dir.path, 'app.dump'));
    const vr = await runCli(['verify', dump, '--out', join(dir.path, 'out-verify'), '--json']);
    assert.equal(vr.code, 0, vr.stderr);
    const vv = ReportSchema.parse(JSON.parse(vr.stdout)).versions!;
    assert.deepEqual([vv.source_major, vv.pg_dump_major, vv.sandbox_major], [major, major, major]);
    assert.ok(!vv.programs.some((p) => p.role === 'dump'), 'verify dumps nothing');

    for (const args of [['--sandbox-major', '9'], ['--target-major', 'x'], ['--sandbox-major', String(major), '--target-major', String(major + 1)]]) {
      const bad = await runCli(['run', '--source', urlOf(source, 'app'), '--out', join(dir.path, 'out-bad'), ...args]);
      assert.equal(bad.code, 2, `${args.join(' ')}: ${bad.stderr}`);
    }
    const older = await runCli(['verify', dump, '--out', join(dir.path, 'out-bad'), '--sandbox-major', String(major - 1)]);
    assert.equal(older.code, 2, older.stderr);
    assert.match(older.stderr, new RegExp(`pg_dump ${major}'s`));
    assert.ok(!existsSync(join(dir.path, 'out-bad')), 'nothing written');
  } finally {
    await source.stop();
  }
});

test('an archive newer than every pg_restore: exit 4 naming the major it needs, before any file', async () => {
  await using dir = await scratchDir();
  const source = await startSource({ parentDir: dir.path });
  try {
    const dump = await pgDump(source, 'postgres', 'custom', join(dir.path, 'base.dump'));
    const bytes = await readFile(dump);
    bytes[6] = 99; // archive version 1.99: what a future pg_dump may write
    const future = join(dir.path, 'future.dump');
    await writeFile(future, bytes);
    const r = await runCli(['verify', future, '--out', join(dir.path, 'out')]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /no pg_restore of major 19 or newer/);
    assert.match(r.stderr, /postgresql-client-19/);
    assert.doesNotMatch(r.stderr, /unsupported version/);
    assert.ok(!existsSync(join(dir.path, 'out')), 'nothing written');
  } finally {
    await source.stop();
  }
});

test('a source whose major has no pg_dump on the machine: exit 4 before any file, naming its version and postgresql-client-N', async (t) => {
  const local = await bins();
  const newer = (await storedServers()).filter((s) => s.major > local.version('pg_dump').major).pop();
  if (!newer) return t.skip('no server of a major newer than the local pg_dump in the server store (pgdrill server install 16)');
  await using dir = await scratchDir();
  // Only the local client programs and the store's server: whatever else this machine holds is not searched.
  const discover = { pgBindir: local.server.bindir, sysroot: dir.path, path: '', store: async () => [newer] };
  const serverOnly = await resolveToolchain({ source: null, sandboxMajor: newer.major, dumpSource: false, archive: false }, discover);
  const source = await SandboxCluster.start({ bins: serverOnly, parentDir: dir.path, osUser: await resolveSandboxUser(), logger: silentLogger, superuser: 'postgres', label: 'test-source' });
  try {
    const out = join(dir.path, 'out');
    const err = await runDrill({ source: urlOf(source, 'postgres'), outDir: out, discover }).then(() => null, (e: Error) => e);
    assert.ok(err instanceof EnvironmentError, String(err));
    assert.equal(err.exitCode, 4);
    assert.match(err.message, new RegExp(`source runs PostgreSQL ${newer.major}\\.\\d+`));
    assert.match(err.message, new RegExp(`postgresql-client-${newer.major}\\b`));
    assert.match(err.message, new RegExp(`brew install postgresql@${newer.major}`));
    assert.ok(!existsSync(out) || readdirSync(out).length === 0, 'nothing written');
  } finally {
    await source.stop();
  }
});

test('a sandbox older than 14 (no verify_heapam): fidelity.amcheck checks B-tree indexes only and says so, never a false FAIL', async (t) => {
  if (!(await requireMajor(t, 13))) return;
  await using dir = await scratchDir();
  const source = (await startSourceOfMajor(13, { parentDir: dir.path }))!;
  try {
    await psql(source, 'postgres', { sql: 'CREATE DATABASE app' });
    await psql(source, 'app', { sql: 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100)' });
    // The machine has no pg_dump 13: the local, newer one dumps the 13 source; verify restores into the source's major.
    const dump = await pgDump(source, 'app', 'plain', join(dir.path, 'app.sql'));
    const r = await runCli(['verify', dump, '--out', join(dir.path, 'out'), '--json']);
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    assert.equal(report.versions?.sandbox_major, 13, r.stderr);
    const amcheck = report.checks.find((c) => c.name === 'fidelity.amcheck');
    assert.equal(amcheck?.status, 'pass', JSON.stringify(amcheck));
    assert.match(amcheck.detail, /B-tree indexes only/);
    assert.equal(r.code, 0, JSON.stringify(report.checks.filter((c) => c.status === 'fail')));
  } finally {
    await source.stop();
  }
});
