/**
 * A worker's job lines (src/cli/worker-log.ts) and how a drill's run directory is found from its drill lock
 * (src/fleet/drill-footprint.ts): another drill's lock and older run directories of the same database are not it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jobEventJson, jobEventText, workerLog } from '../../src/cli/worker-log.js';
import { allocatedBytes, drillRunDir } from '../../src/fleet/drill-footprint.js';
import type { WorkerJobEvent } from '../../src/fleet/worker.js';
import { silentLogger } from '../../src/logger.js';
import { scratchDir } from '../helpers/clusters.js';

const AT = new Date('2026-12-06T18:00:00.000Z');
const start: WorkerJobEvent = { event: 'start', database: 'billing', jobId: 'j-1', kind: 'run', worker: 'h:1' };

test('job lines: text by default, one JSON object each with --log-format json', () => {
  assert.equal(jobEventText(start, AT), '2026-12-06T18:00:00.000Z billing: run started (job j-1)');
  const end: WorkerJobEvent = { ...start, event: 'end', verdict: 'stopped', exitCode: 143, durationMs: 7_200_500, cause: 'exceeded max_duration 2 h 0 min\nmore', runDir: '/out/billing-1' };
  assert.equal(jobEventText(end, AT), '2026-12-06T18:00:00.000Z billing: stopped after 2 h 0 min (job j-1, exit 143): exceeded max_duration 2 h 0 min; report in /out/billing-1');
  assert.equal(jobEventText({ ...start, event: 'end', verdict: 'handed_back', durationMs: 1500, cause: 'worker stopping' }, AT), '2026-12-06T18:00:00.000Z billing: handed_back after 1.5 s (job j-1): worker stopping');
  assert.deepEqual(JSON.parse(jobEventJson(end, AT)), { time: AT.toISOString(), level: 'info', event: 'job_end', database: 'billing', jobId: 'j-1', kind: 'run', worker: 'h:1', verdict: 'stopped', exitCode: 143, durationMs: 7_200_500, cause: end.cause, runDir: '/out/billing-1' });
  const lines: string[] = [];
  const json = workerLog('json', silentLogger, (l) => lines.push(l));
  json.logger.warn('queue: connection lost');
  json.onJob(start);
  assert.deepEqual(lines.map((l) => (JSON.parse(l) as { level: string }).level), ['warn', 'info']);
});

test("a drill's run directory is the newest of the key whose lock its pid holds", async () => {
  await using d = await scratchDir('fleet-footprint-');
  const lock = (key: string, pid: number) => writeFile(join(d.path, `.pgdrill-${key}.lock`), JSON.stringify({ pid, host: 'h', start_ticks: 1, started_at: AT.toISOString(), token: 't' }));
  await lock('app', 4242);
  await lock('app.b', 5151);
  for (const n of ['app-20261205T000000Z', 'app-20261206T180000Z', 'app-20261206T180000Z-2', 'app.b-20261206T190000Z']) await mkdir(join(d.path, n));
  await writeFile(join(d.path, 'app-20261206T180000Z-2', 'dump.sql'), 'x'.repeat(10_000));
  assert.equal(await drillRunDir(d.path, 4242), join(d.path, 'app-20261206T180000Z-2'));
  assert.equal(await drillRunDir(d.path, 5151), join(d.path, 'app.b-20261206T190000Z'));
  assert.equal(await drillRunDir(d.path, 6161), null, 'a pid that holds no lock has none');
  assert.ok(await allocatedBytes(join(d.path, 'app-20261206T180000Z-2')) >= 10_000);
  assert.equal(await allocatedBytes(join(d.path, 'gone')), 0);
});
