import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { escapeLabel, parseMetrics, renderMetrics, writeMetrics } from '../../src/outputs/metrics.js';
import { passReport } from '../helpers/sample-report.js';

test('metrics: label values escaped, and read back as written', () => {
  const db = 'we"ird\\db\nname';
  assert.equal(escapeLabel(db), 'we\\"ird\\\\db\\nname');
  const text = renderMetrics([{ name: 'pgdrill_last_run_success', labels: { database: db }, value: 1 }]);
  assert.match(text, /^# HELP pgdrill_last_run_success .+\n# TYPE pgdrill_last_run_success gauge\npgdrill_last_run_success\{database="we\\"ird\\\\db\\nname"\} 1\n$/);
  assert.deepEqual(parseMetrics(text), [{ name: 'pgdrill_last_run_success', labels: { database: db }, value: 1 }]);
  assert.equal(parseMetrics('this is not a metric\n'), null);
});

test('metrics: a file that is not in the text format is replaced, and nothing else is left in the directory', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pgdrill-prom-'));
  try {
    const path = join(dir, 'pgdrill.prom');
    await writeFile(path, 'garbage {{{\n');
    const r = await writeMetrics(path, { database: 'pagila', report: passReport() });
    assert.equal(r.replacedUnparseable, true);
    const samples = parseMetrics(await readFile(path, 'utf8'))!;
    assert.ok(samples.some((s) => s.name === 'pgdrill_last_run_success' && s.labels.database === 'pagila' && s.value === 1));
    assert.deepEqual(await readdir(dir), ['pgdrill.prom']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('metrics: a lock held by a live writer is waited for; one left by a crash is broken', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pgdrill-prom-'));
  try {
    const path = join(dir, 'pgdrill.prom');
    // Two drills of different databases finishing at the same moment: both series end up in the file.
    await Promise.all([
      writeMetrics(path, { database: 'a', report: passReport({ database: 'a' }) }),
      writeMetrics(path, { database: 'b', report: passReport({ database: 'b' }) }),
    ]);
    const dbs = new Set(parseMetrics(await readFile(path, 'utf8'))!.map((s) => s.labels.database));
    assert.deepEqual([...dbs].sort(), ['a', 'b']);
    // A stale lock file (its writer crashed a while ago) does not block forever.
    await writeFile(`${path}.lock`, '999999\n');
    const old = new Date(Date.now() - 3_600_000);
    await utimes(`${path}.lock`, old, old);
    await writeMetrics(path, { database: 'c', report: passReport({ database: 'c' }) });
    assert.deepEqual(await readdir(dir), ['pgdrill.prom']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
