/**
 * The fleet's recipes in contrib/: the systemd units pass `systemd-analyze verify`; the report service's commands,
 * run as written (paths moved into a scratch directory) as the reader role docs/fleet.md grants, write the dashboard
 * and the metrics of a real coordination database and exit 0; every pgdrill command line in the units and the
 * Kubernetes manifests names a command and flags the CLI has; the fleet's Prometheus rules name only metrics
 * `fleet report --metrics` writes and pass promtool's unit tests. The manifests are not tried on a cluster (none here).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import pg from 'pg';
import { parse, parseAllDocuments } from 'yaml';
import { buildProgram } from '../../src/cli/program.js';
import { silentLogger } from '../../src/logger.js';
import { ensureResultsSchema, recordResult, registerDatabases } from '../../src/fleet/results-store.js';
import { parseMetrics } from '../../src/outputs/metrics.js';
import { FLEET_METRIC_FAMILIES } from '../../src/fleet/fleet-metrics.js';
import { psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { binDir, requireTool, ROOT, runExecStart, sh } from '../helpers/recipes.js';

const SYSTEMD = join(ROOT, 'contrib/systemd');
const K8S = join(ROOT, 'contrib/kubernetes');
const UNITS = ['pgdrill-worker.service', 'pgdrill-fleet-report.service', 'pgdrill-fleet-report.timer'];

/** What is wrong with `pgdrill ARGV` as the CLI defines its commands and flags (nothing runs). */
function problemsOf(argv: readonly string[]): string[] {
  let cmd: Command = buildProgram({ signal: new AbortController().signal, logger: silentLogger, argv: [], exitCode: 0 });
  let i = 0;
  for (; i < argv.length && !argv[i]!.startsWith('-'); i++) {
    const sub = cmd.commands.find((c) => c.name() === argv[i]);
    if (!sub) return [`pgdrill ${argv.slice(0, i + 1).join(' ')}: no such command`];
    cmd = sub;
  }
  const problems: string[] = [];
  for (; i < argv.length; i++) {
    const o = cmd.options.find((opt) => opt.long === argv[i]);
    if (!o) problems.push(`pgdrill ${cmd.name()}: no flag ${argv[i]}`);
    else if (o.required || o.optional) i++;
  }
  for (const o of cmd.options.filter((opt) => opt.mandatory)) if (!argv.includes(o.long!)) problems.push(`pgdrill ${cmd.name()}: ${o.long} missing`);
  return problems;
}

/** The pgdrill invocations in a shell-ish command line: `pgdrill a b && pgdrill c` → [[a, b], [c]]. */
function invocations(line: string): string[][] {
  return line.split('&&').map((part) => part.trim().split(/\s+/)).filter((w) => /(^|\/)pgdrill$/.test(w[0] ?? '')).map((w) => w.slice(1));
}

test('the fleet\'s systemd units pass systemd-analyze verify, and their pgdrill commands exist', async (t: TestContext) => {
  const lines = (await Promise.all(UNITS.map((u) => readFile(join(SYSTEMD, u), 'utf8')))).flatMap((text) => text.split('\n').filter((l) => l.startsWith('ExecStart=')));
  assert.equal(lines.length, 3);
  assert.deepEqual(lines.flatMap((l) => invocations(l.slice('ExecStart='.length))).flatMap(problemsOf), []);
  if (!(await requireTool(t, 'systemd-analyze'))) return;
  await using d = await scratchDir('pgdrill-fleet-units-');
  const bin = await binDir(d.path);
  for (const u of UNITS) await writeFile(join(d.path, u), (await readFile(join(SYSTEMD, u), 'utf8')).replaceAll('/usr/local/bin/pgdrill', join(bin, 'pgdrill')));
  const r = await sh('systemd-analyze', ['verify', ...UNITS.map((u) => join(d.path, u))], { cwd: d.path });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', 'verify only warns about an unknown key or a bad value: any output is a defect');
});

test('the Kubernetes manifests parse and run only pgdrill commands and flags that exist', async () => {
  const files = (await readdir(K8S)).filter((f) => f.endsWith('.yaml'));
  assert.deepEqual(files.sort(), ['pgdrill-fleet-report.yaml', 'pgdrill-fleet-sync.yaml', 'pgdrill-worker.yaml']);
  const kinds: string[] = [];
  const calls: string[][] = [];
  for (const f of files) {
    const text = await readFile(join(K8S, f), 'utf8');
    assert.match(text, /NOT TESTED ON A KUBERNETES CLUSTER/, f);
    for (const doc of parseAllDocuments(text)) {
      assert.deepEqual(doc.errors, [], f);
      const o = doc.toJS() as { kind: string; spec: { template?: PodTemplate; jobTemplate?: { spec: { template: PodTemplate } } } };
      kinds.push(o.kind);
      const pod = o.spec.template ?? o.spec.jobTemplate?.spec.template;
      for (const c of pod?.spec.containers ?? []) {
        calls.push(...(c.command?.[0] === '/bin/sh' ? invocations(c.args?.join(' ') ?? '') : [c.args ?? []]));
      }
    }
  }
  assert.deepEqual(kinds.sort(), ['CronJob', 'CronJob', 'Deployment']);
  assert.deepEqual(calls.map((a) => a.slice(0, 2).join(' ')).sort(), ['fleet report', 'fleet status', 'fleet sync', 'worker --queue']);
  assert.deepEqual(calls.flatMap(problemsOf), []);
});

interface PodTemplate {
  spec: { containers: { command?: string[]; args?: string[] }[] };
}

test('the report service\'s commands, run as written as the reader role, write the dashboard and the metrics', async () => {
  await using d = await scratchDir('pgdrill-fleet-report-');
  const bin = await binDir(d.path);
  const coord = await startSource({ parentDir: d.path, label: 'fleet-coordination' });
  try {
    // docs/fleet.md's GRANTs: the queue role creates its schema in a database of the fleet's own; the reader reads.
    await psql(coord, 'postgres', { sql: 'CREATE ROLE pgdrill_queue LOGIN; CREATE ROLE pgdrill_reader LOGIN' });
    await psql(coord, 'postgres', { sql: 'CREATE DATABASE pgdrill_fleet' });
    await psql(coord, 'postgres', { sql: 'REVOKE ALL ON DATABASE pgdrill_fleet FROM PUBLIC; GRANT CONNECT, CREATE ON DATABASE pgdrill_fleet TO pgdrill_queue; GRANT CONNECT ON DATABASE pgdrill_fleet TO pgdrill_reader' });
    const c = new pg.Client({ ...coord.connection('pgdrill_fleet'), user: 'pgdrill_queue' });
    await c.connect();
    try {
      await ensureResultsSchema(c);
      await registerDatabases(c, [{ key: 'app', source: 'postgresql://drill@db1.example/app', kind: 'run', schedule: 'daily', intervalMs: 86_400_000 }]);
      await recordResult(c, { databaseKey: 'app', worker: 'w1', host: 'drill-01', startedAt: new Date(Date.now() - 120_000), finishedAt: new Date(Date.now() - 60_000), verdict: 'pass', exitCode: 0 });
      await c.query('GRANT USAGE ON SCHEMA pgdrill_fleet TO pgdrill_reader; GRANT SELECT ON ALL TABLES IN SCHEMA pgdrill_fleet TO pgdrill_reader');
    } finally {
      await c.end();
    }
    const queue = urlOf(coord, 'pgdrill_fleet').replace(/^postgresql:\/\/[^@]+@/, 'postgresql://pgdrill_reader@');
    const prom = join(d.path, 'pgdrill-fleet.prom');
    const page = join(d.path, 'index.html');
    const service = await readFile(join(SYSTEMD, 'pgdrill-fleet-report.service'), 'utf8');
    const execStarts = service.split('\n').filter((l) => l.startsWith('ExecStart=')).map((l) => l.slice('ExecStart='.length)
      .replaceAll('/usr/local/bin', bin)
      .replaceAll('postgresql://pgdrill_reader@coord.example.com/pgdrill_fleet', queue)
      .replaceAll('/var/lib/prometheus/node-exporter/pgdrill-fleet.prom', prom)
      .replaceAll('/var/lib/pgdrill/fleet-report/index.html', page));
    for (const line of execStarts) {
      const r = await runExecStart(line, d.path);
      assert.equal(r.code, 0, `${line}\n${r.stderr}`);
    }
    assert.match(await readFile(page, 'utf8'), /<th scope="row">app</);
    assert.equal(parseMetrics(await readFile(prom, 'utf8'))?.find((s) => s.name === 'pgdrill_fleet_database_ok')?.value, 1);
  } finally {
    await coord.stop();
  }
});

test('the fleet\'s Prometheus rules name only metrics fleet report writes, and pass promtool\'s unit tests', async (t) => {
  const dir = join(ROOT, 'contrib/prometheus');
  const rules = parse(await readFile(join(dir, 'pgdrill-fleet.rules.yml'), 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };
  const all = rules.groups.flatMap((g) => g.rules);
  assert.deepEqual(all.map((r) => r.alert), ['PgdrillFleetNoVerifiedBackup', 'PgdrillFleetDrillFailed', 'PgdrillFleetReportStale', 'PgdrillFleetMetricsAbsent']);
  for (const r of all) {
    const names = r.expr.match(/\bpgdrill_[a-z_]+\b/g) ?? [];
    assert.ok(names.length, r.alert);
    for (const n of names) assert.ok(n in FLEET_METRIC_FAMILIES, `${r.alert}: ${n} is not a metric fleet report writes`);
  }
  if (!(await requireTool(t, 'promtool'))) return;
  const check = await sh('promtool', ['check', 'rules', 'pgdrill-fleet.rules.yml'], { cwd: dir });
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const unit = await sh('promtool', ['test', 'rules', 'pgdrill-fleet.rules.test.yml'], { cwd: dir });
  assert.equal(unit.code, 0, unit.stdout + unit.stderr);
});
