/**
 * `pgdrill init`: a starter config written from a real source pins its identity — a drill with it PASSes (its
 * expectations too, once enabled), the same config against another cluster aborts with exit 3 — and an existing
 * file (or a link) at --out is never written over without --force.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { EXPECT_BLOCK_START } from '../../src/init/starter-config.js';
import { ReportSchema } from '../../src/report/model.js';
import { runCli } from '../helpers/cli.js';
import { bins, psql, scratchDir, silentLogger, startSource, urlOf } from '../helpers/clusters.js';
import { resolveSandboxUser } from '../../src/exec/os-user.js';
import { SandboxCluster } from '../../src/sandbox/cluster.js';

const SCHEMA = `
CREATE ROLE app_owner; CREATE ROLE reporting LOGIN;
CREATE SCHEMA sales AUTHORIZATION app_owner;
CREATE TABLE sales.orders (id serial PRIMARY KEY, total numeric); ALTER TABLE sales.orders OWNER TO app_owner;
CREATE TABLE sales.items (id int, name text); ALTER TABLE sales.items OWNER TO app_owner;
CREATE VIEW sales.big_orders AS SELECT * FROM sales.orders WHERE total > 100; ALTER VIEW sales.big_orders OWNER TO app_owner;
CREATE TABLE public.notes (id int PRIMARY KEY, body text);
CREATE MATERIALIZED VIEW public.note_count AS SELECT count(*) FROM public.notes;
GRANT USAGE ON SCHEMA sales TO reporting; GRANT SELECT ON ALL TABLES IN SCHEMA sales TO reporting;
INSERT INTO sales.orders (total) SELECT g FROM generate_series(1, 300) g;
`;

/** The config with its expectation block enabled (the block's lines uncommented). */
function withExpectations(text: string): string {
  const lines = text.split('\n');
  const start = lines.indexOf(EXPECT_BLOCK_START);
  assert.ok(start > 0, 'the config has an expectation block');
  for (let i = start; i < lines.length && lines[i]!.startsWith('#'); i++) lines[i] = lines[i]!.replace(/^# ?/, '');
  return lines.join('\n');
}

test('init pins the source: run --config PASSes (expectations enabled too), another cluster exits 3, no overwrite', async () => {
  await using dir = await scratchDir();
  const source = await startSource({ parentDir: dir.path, label: 'init-source' });
  // Test sources are copies of one cached initdb, with one system_identifier: the other cluster gets its own initdb.
  const other = await SandboxCluster.start({
    bins: await bins(), parentDir: dir.path, osUser: await resolveSandboxUser(), logger: silentLogger,
    superuser: 'postgres', label: 'init-other', templateCache: null,
  });
  try {
    for (const c of [source, other]) await psql(c, 'postgres', { sql: 'CREATE DATABASE app' });
    const sysidOf = async (c: SandboxCluster) => (await psql(c, 'app', { sql: 'SELECT system_identifier FROM pg_control_system()' })).trim();
    assert.notEqual(await sysidOf(other), await sysidOf(source));
    await psql(source, 'app', { sql: SCHEMA });
    const cfg = join(dir.path, 'app.yaml');
    const init = await runCli(['init', '--source', urlOf(source, 'app'), '--out', cfg]);
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /wrote .*app\.yaml: database "app" pinned to system_identifier \d+/);
    const text = await readFile(cfg, 'utf8');
    const sysid = (await psql(source, 'app', { sql: 'SELECT system_identifier FROM pg_control_system()' })).trim();
    const yaml = parse(text) as { source: { system_identifier: string; database: string; url: string } };
    assert.equal(yaml.source.system_identifier, sysid);
    assert.equal(yaml.source.database, 'app');
    assert.equal(yaml.source.url, urlOf(source, 'app'));
    assert.match(text, /#   objects    3 tables, 1 view, 1 materialized view, 1 sequence, 0 functions and procedures, 1 schema besides public/);
    assert.match(text, /"reporting" \(login\)/);
    assert.match(text, /#     - \{ type: table, schema: "sales", count: 2 \}/);

    // The config as written: the drill PASSes, pinned (url from the config).
    const run = await runCli(['run', '--config', cfg, '--out', join(dir.path, 'drills'), '--json']);
    const report = ReportSchema.parse(JSON.parse(run.stdout));
    assert.equal(run.code, 0, JSON.stringify(report.checks.filter((c) => c.status === 'fail')));
    assert.match(report.checks.find((c) => c.name === 'guard.identity')?.detail ?? '', /matches the pinned identity/);

    // With the expectations init listed enabled: still PASS, and they are the checks that ran.
    const strict = join(dir.path, 'app-strict.yaml');
    await writeFile(strict, withExpectations(text));
    const run2 = await runCli(['run', '--config', strict, '--out', join(dir.path, 'drills'), '--json']);
    const report2 = ReportSchema.parse(JSON.parse(run2.stdout));
    assert.equal(run2.code, 0, JSON.stringify(report2.checks.filter((c) => c.status === 'fail')));
    const names = report2.checks.map((c) => c.name);
    for (const n of ['content.objects[table sales.*]', 'content.objects[view sales.*]', 'content.objects[materialized_view public.*]', 'content.role[app_owner]', 'content.role[postgres]'] as const) {
      assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
    }

    // The same config against another cluster (its own system_identifier, a database of the same name): exit 3.
    const wrong = await runCli(['run', '--config', cfg, '--source', urlOf(other, 'app'), '--out', join(dir.path, 'drills-wrong')]);
    assert.equal(wrong.code, 3, wrong.stderr);
    assert.match(wrong.stderr, /identity guard: source system_identifier is \d+, but the config pins \d+/);
    assert.equal(await lstat(join(dir.path, 'drills-wrong')).catch(() => null), null);

    // Never over an existing file without --force; with it, replaced.
    await writeFile(cfg, 'mine: true\n');
    const again = await runCli(['init', '--source', urlOf(source, 'app'), '--out', cfg]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /app\.yaml already exists; pgdrill init never overwrites a file/);
    assert.equal(await readFile(cfg, 'utf8'), 'mine: true\n');
    const forced = await runCli(['init', '--source', urlOf(source, 'app'), '--out', cfg, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(await readFile(cfg, 'utf8'), /system_identifier: "\d+"/);

    // A link at --out, dangling or not, is not written through.
    const target = join(dir.path, 'elsewhere.yaml');
    const link = join(dir.path, 'link.yaml');
    await symlink(target, link);
    const viaLink = await runCli(['init', '--source', urlOf(source, 'app'), '--out', link]);
    assert.equal(viaLink.code, 2);
    assert.equal(await lstat(target).catch(() => null), null);
    assert.equal(await readlink(link), target);

    // --out - prints the config.
    const printed = await runCli(['init', '--source', urlOf(source, 'app'), '--out', '-']);
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(printed.stdout, /^# pgdrill config for database "app"/);
  } finally {
    await Promise.all([source.stop(), other.stop()]);
  }
});

test('init of an unreachable source exits 4 and writes nothing', async () => {
  await using dir = await scratchDir();
  const out = join(dir.path, 'x.yaml');
  const r = await runCli(['init', '--source', 'postgresql://nobody@127.0.0.1:1/app', '--out', out]);
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /cannot connect to the source postgresql:\/\/nobody@127\.0\.0\.1:1\/app/);
  assert.equal(await lstat(out).catch(() => null), null);
});
