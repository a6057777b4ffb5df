/**
 * The scheduling recipes in contrib/ work as shipped: the systemd units pass `systemd-analyze verify`; the
 * commands of the crontab line and of the service's ExecStart lines, run as written (only the paths moved into a
 * scratch directory), drill a real source with a config `pgdrill init` wrote, PASS, and write the metrics; and the
 * Prometheus alert rules name only metrics that src/outputs/metrics.ts writes (and pass promtool's own unit tests,
 * contrib/prometheus/pgdrill.rules.test.yml). systemd-analyze and promtool are installed by
 * `scripts/setup --with-browser`; without them those checks skip, except under CI.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { METRIC_FAMILIES, parseMetrics } from '../../src/outputs/metrics.js';
import { runCli } from '../helpers/cli.js';
import { psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { binDir, requireTool, ROOT, runExecStart, sh } from '../helpers/recipes.js';

const CONTRIB = join(ROOT, 'contrib');

test('the systemd units pass systemd-analyze verify', async (t) => {
  if (!(await requireTool(t, 'systemd-analyze'))) return;
  await using d = await scratchDir('pgdrill-units-');
  const bin = await binDir(d.path);
  // An instance of each template, with ExecStart's binary where this machine has it (verify checks it exists).
  const service = (await readFile(join(CONTRIB, 'systemd/pgdrill@.service'), 'utf8')).replaceAll('/usr/local/bin/pgdrill', join(bin, 'pgdrill'));
  await writeFile(join(d.path, 'pgdrill@app.service'), service);
  await copyFile(join(CONTRIB, 'systemd/pgdrill@.timer'), join(d.path, 'pgdrill@app.timer'));
  const r = await sh('systemd-analyze', ['verify', join(d.path, 'pgdrill@app.service'), join(d.path, 'pgdrill@app.timer')], { cwd: d.path });
  assert.equal(r.code, 0, r.stderr);
  // verify only warns about an unknown key or a bad value: any output is a defect.
  assert.equal(r.stderr.trim(), '');
  // The control: a misspelt key is reported.
  await writeFile(join(d.path, 'pgdrill@bad.timer'), (await readFile(join(d.path, 'pgdrill@app.timer'), 'utf8')).replace('Persistent=', 'Persistant='));
  const bad = await sh('systemd-analyze', ['verify', join(d.path, 'pgdrill@bad.timer')], { cwd: d.path });
  assert.match(bad.stderr, /Unknown key 'Persistant'/);
});

test('the crontab line and the service\'s commands, run as written, drill a source configured by init and PASS', async () => {
  await using d = await scratchDir('pgdrill-recipes-');
  const bin = await binDir(d.path);
  const source = await startSource({ parentDir: d.path, label: 'recipes-source' });
  try {
    await psql(source, 'postgres', { sql: 'CREATE DATABASE app' });
    await psql(source, 'app', { sql: 'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 200) g;' });
    const cfg = join(d.path, 'app.yaml');
    const init = await runCli(['init', '--source', urlOf(source, 'app'), '--out', cfg]);
    assert.equal(init.code, 0, init.stderr);
    const metrics = join(d.path, 'pgdrill.prom');
    /** The recipe's paths moved into the scratch directory. */
    const local = (s: string, out: string) => s
      .replaceAll('/usr/local/bin', bin)
      .replaceAll('/etc/pgdrill/%i.yaml', cfg).replaceAll('/etc/pgdrill/app.yaml', cfg)
      .replaceAll('/var/lib/prometheus/node-exporter/pgdrill.prom', metrics)
      .replace(/\/var\/lib\/pgdrill\/drills\/(%i|app)/g, join(d.path, out))
      .replaceAll('/var/lib/pgdrill', d.path);

    // cron: PATH as the file sets it, then the command after the five time fields and the user.
    const cron = (await readFile(join(CONTRIB, 'cron/pgdrill'), 'utf8')).split('\n').filter((l) => l.trim() && !l.startsWith('#'));
    const pathLine = cron.find((l) => l.startsWith('PATH='));
    assert.ok(pathLine, 'the cron file sets PATH');
    const entries = cron.filter((l) => !/^[A-Z_]+=/.test(l));
    assert.equal(entries.length, 1);
    const m = /^(\S+\s+){5}root\s+(.*)$/.exec(entries[0]!);
    assert.ok(m, `five time fields, user root, command: ${entries[0]}`);
    assert.match(entries[0]!, /pgdrill run --config \S+ .*&& pgdrill status .*--max-age 26h/);
    const cronEnv = { HOME: process.env.HOME ?? '/root', PATH: local(pathLine.slice('PATH='.length), 'cron-drills') };
    const viaCron = await sh('/bin/sh', ['-c', local(m[2]!, 'cron-drills')], { env: cronEnv, cwd: '/' });
    assert.equal(viaCron.code, 0, viaCron.stderr);
    const samples = parseMetrics(await readFile(metrics, 'utf8'));
    assert.ok(samples);
    assert.equal(samples.find((s) => s.name === 'pgdrill_last_run_success' && s.labels.database === 'app')?.value, 1);

    // systemd: the ExecStart lines in order, each must succeed (what Type=oneshot does), as root in WorkingDirectory.
    const service = await readFile(join(CONTRIB, 'systemd/pgdrill@.service'), 'utf8');
    const execStarts = service.split('\n').filter((l) => l.startsWith('ExecStart=')).map((l) => local(l.slice('ExecStart='.length), 'systemd-drills'));
    assert.equal(execStarts.length, 2);
    assert.match(execStarts[0]!, / run --config .* --metrics /);
    assert.match(execStarts[1]!, / status --out .* --max-age 26h$/);
    for (const line of execStarts) {
      const r = await runExecStart(line, d.path);
      assert.equal(r.code, 0, `${line}\n${r.stderr}`);
      if (line.includes(' status ')) assert.match(r.stdout, /^OK\s+app\s/m);
    }
  } finally {
    await source.stop();
  }
});

test('the Prometheus alert rules parse and name only metrics pgdrill writes', async (t) => {
  const rules = parse(await readFile(join(CONTRIB, 'prometheus/pgdrill.rules.yml'), 'utf8')) as { groups: { name: string; rules: { alert: string; expr: string; for?: string }[] }[] };
  const all = rules.groups.flatMap((g) => g.rules);
  assert.deepEqual(all.map((r) => r.alert), ['PgdrillNoVerifiedBackup', 'PgdrillDrillFailed', 'PgdrillMetricsAbsent']);
  for (const r of all) {
    const names = r.expr.match(/\bpgdrill_[a-z_]+\b/g) ?? [];
    assert.ok(names.length, r.alert);
    for (const n of names) assert.ok(n in METRIC_FAMILIES, `${r.alert}: ${n} is not a metric pgdrill writes`);
  }
  assert.match(all[0]!.expr, /time\(\) - pgdrill_last_success_timestamp_seconds > 26 \* 3600/);
  if (!(await requireTool(t, 'promtool'))) return;
  const check = await sh('promtool', ['check', 'rules', 'pgdrill.rules.yml'], { cwd: join(CONTRIB, 'prometheus') });
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const unit = await sh('promtool', ['test', 'rules', 'pgdrill.rules.test.yml'], { cwd: join(CONTRIB, 'prometheus') });
  assert.equal(unit.code, 0, unit.stdout + unit.stderr);
});
