import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI, runCli } from '../helpers/cli.js';
import { runProcess } from '../../src/exec/run-process.js';
import { scratchDir } from '../helpers/clusters.js';
import { exists, processesMentioning } from '../helpers/leftovers.js';
import { ReportSchema } from '../../src/report/model.js';

test('pgdrill demo: PASS end to end, the governance layer checked, nothing left behind', async () => {
  await using d = await scratchDir();
  // Reachable by the sandbox user, so the demo's source is placed in the out directory: it is no drill to warn about.
  await chmod(d.path, 0o755);
  const r = await runCli(['demo', '--out', d.path, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /warning|skipped/);
  const report = ReportSchema.parse(JSON.parse(r.stdout));
  assert.equal(report.status, 'PASS');
  assert.equal(report.kind, 'demo');
  const byName = new Map(report.checks.map((c) => [c.name, c]));
  for (const name of [
    'guard.identity', 'guard.lock_table', 'backup.pg_dump', 'backup.trailer', 'backup.sha256_self_check', 'backup.globals',
    'content.objects[view cutter_governance.v_*_observe]', 'content.objects[table cutter_governance.*]', 'content.role[cutter_ro]',
    'content.grants[cutter_ro]', 'restore.isolation', 'restore.errors', 'restore.objects', 'fidelity.row_counts', 'restore.roles',
    'teardown.confirmed', 'production.identity', 'production.catalog_fingerprint', 'production.audit_read_only',
  ] as const) {
    assert.equal(byName.get(name)?.status, 'pass', `${name}: ${byName.get(name)?.detail}`);
  }
  assert.match(byName.get('content.grants[cutter_ro]')!.detail, /13 grant\(s\) to cutter_ro, 0 write/);
  assert.notEqual(report.restore!.system_identifier, report.source.system_identifier);
  assert.equal(report.teardown.confirmed, true);
  assert.equal(report.production_untouched, true);
  // Exact counts: 500 users, 5000 articles, governance tables 25..300 rows.
  const rows = new Map(report.tables.map((t) => [`${t.schema}.${t.name}`, t]));
  assert.equal(rows.get('public.articles')!.source_rows, 5000);
  assert.equal(rows.get('public.articles')!.restored_rows, 5000);
  assert.equal(rows.get('cutter_governance.verify_result')!.restored_rows, 300);
  assert.ok(report.tables.every((t) => t.match));
  // The files of the record: dump, globals, SHA256SUMS, reports, run.log; no sandbox left.
  const files = await readdir(report.run.dir);
  for (const f of ['SHA256SUMS', 'report.json', 'report.md', 'report.html', 'run.log']) assert.ok(files.includes(f), f);
  assert.ok(files.some((f) => f.endsWith('.sql') && !f.includes('globals')));
  assert.ok(!files.some((f) => f.startsWith('sandbox-') || f.endsWith('.partial')), files.join(' '));
  assert.equal(await exists(report.restore!.socket_dir!), false);
  assert.deepEqual(await processesMentioning(d.path), []);
  // The demo source is gone too.
  assert.ok(!(await readdir(d.path)).some((f) => f.startsWith('demo-source-')));
  const md = await readFile(join(report.run.dir, 'report.md'), 'utf8');
  assert.match(md, /^---\nstatus: PASS/);
  assert.match(md, /§6 — Production-Untouched Confirmation/);
  assert.match(md, /phase: demo/);
});

test('pgdrill demo --json | head -c 100: exit 0 (a reader that goes away is no failure), the report complete', async () => {
  await using d = await scratchDir();
  // bash reports pgdrill's own exit status (PIPESTATUS[0]); head closes the pipe after 100 bytes of report.json.
  const r = await runProcess({
    bin: '/bin/bash', args: ['-c', `"${process.execPath}" "${CLI}" demo --out "$OUT" --json | head -c 100 >/dev/null; exit \${PIPESTATUS[0]}`],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', OUT: d.path }, allowFailure: true, stdout: 'capture',
  });
  assert.equal(r.exitCode, 0);
  const run = (await readdir(d.path)).find((f) => f.startsWith('directus-'))!;
  const report = ReportSchema.parse(JSON.parse(await readFile(join(d.path, run, 'report.json'), 'utf8')));
  assert.equal(report.status, 'PASS');
  assert.equal(report.teardown.confirmed, true);
  assert.deepEqual(await processesMentioning(d.path), []);
});
