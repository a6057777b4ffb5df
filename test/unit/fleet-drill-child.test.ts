/**
 * A fleet drill's child process, with a stand-in for pgdrill (no cluster): a drill over its max duration is stopped
 * with SIGTERM and recorded as stopped (duration); a worker that stops interrupts it; the report printed is the verdict; the
 * job's config file is gone afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runDrillChild } from '../../src/fleet/drill-child.js';
import type { DrillJobData } from '../../src/fleet/queue.js';
import { scratchDir } from '../helpers/clusters.js';

const job: DrillJobData = { database: 'db1', kind: 'run', source: 'postgresql://h/db1', deep: false, maxDurationMs: 60_000, leaseSeconds: 30, due: '2026-01-01T00:00:00Z', config: {} };

/** A fake pgdrill: prints a report after `ms` (or never), and exits 143 on SIGTERM as pgdrill does after teardown. */
const FAKE = `
process.on('SIGTERM', () => { process.stderr.write('interrupted by SIGTERM; sandbox torn down\\n'); process.exit(143); });
const ms = Number(process.env.PGDRILL_FAKE_MS ?? 0);
setTimeout(() => { process.stdout.write(JSON.stringify({ status: 'FAIL', run: { dir: '/out/db1/r1', duration_ms: 5 }, checks: [{ name: 'restore.errors', status: 'fail' }] })); process.exit(1); }, ms);
`;

test('a drill: its report is the verdict; over its max duration it is stopped (reason duration); a stopping worker interrupts it', async () => {
  await using d = await scratchDir('fleet-child-');
  const bin = join(d.path, 'fake-pgdrill.mjs');
  await writeFile(bin, FAKE);
  // The delay reaches the child as a worker's PGDRILL_* variables do (drill-child.ts passes only those, PG* and HOME).
  const opts = (ms: number, signal = new AbortController().signal) => ({ pgdrillBin: bin, outDir: d.path, stateDir: d.path, env: { PGDRILL_FAKE_MS: String(ms) }, signal, killGraceMs: 5000 });
  const done = await runDrillChild(job, join(d.path, 'fleet-job-1.json'), opts(0));
  assert.equal(done.verdict, 'FAIL');
  assert.equal(done.exitCode, 1);
  assert.equal(done.stopReason, null);
  const slow = await runDrillChild({ ...job, maxDurationMs: 2000 }, join(d.path, 'fleet-job-2.json'), opts(60_000));
  assert.equal(slow.verdict, 'stopped');
  assert.equal(slow.stopReason, 'duration');
  assert.equal(slow.exitCode, 143, 'stopped with SIGTERM: its teardown ran');
  const stop = new AbortController();
  setTimeout(() => stop.abort(), 2000);
  const stopped = await runDrillChild(job, join(d.path, 'fleet-job-3.json'), opts(60_000, stop.signal));
  assert.equal(stopped.verdict, 'interrupted');
  assert.deepEqual((await readdir(d.path)).filter((f) => f.startsWith('fleet-job-')), [], 'the job config files are removed');
});
