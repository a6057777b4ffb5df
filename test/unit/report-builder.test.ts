/**
 * The report builder: a stage that throws fails as `<stage>.error`, a stage not run is `<stage>.skipped`, and every
 * check is recorded with the registry's stage, its detail bounded once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHECK_KEYS } from '../../src/report/checks/index.js';
import { REPORT_DETAIL_MAX } from '../../src/report/bounded-text.js';
import { ReportBuilder, type SkippableStage, type StageThatThrows } from '../../src/report/builder.js';

// Written out, so that each name is found in this file; checked against the registry below.
const ERRORS = ['backup.error', 'source.error', 'content.error', 'restore.error', 'fidelity.error', 'teardown.error', 'production.error', 'baseline.error'] as const;
const SKIPPED = ['restore.skipped', 'fidelity.skipped'] as const;
const stageOf = (name: string) => name.slice(0, name.indexOf('.'));

test('the lists above are every <stage>.error and <stage>.skipped of the registry', () => {
  assert.deepEqual([...ERRORS].sort(), CHECK_KEYS.filter((k) => k.endsWith('.error')).sort());
  assert.deepEqual([...SKIPPED].sort(), CHECK_KEYS.filter((k) => k.endsWith('.skipped')).sort());
});

test('a stage that throws fails as <stage>.error with the message; the stage is timed as failed', async () => {
  for (const name of ERRORS) {
    const b = new ReportBuilder();
    const stage = stageOf(name) as StageThatThrows;
    const r = await b.stage(stage, async () => { throw new Error(`boom in ${stage}`); }, () => false);
    assert.equal(r, undefined);
    assert.deepEqual(b.checks, [{ name, stage, status: 'fail', detail: `boom in ${stage}` }]);
    assert.deepEqual(Object.keys(b.checks[0]!), ['name', 'stage', 'status', 'detail'], 'report.json keeps its key order');
    assert.equal(b.stages[0]?.status, 'fail');
  }
});

test('an error the caller says ends the drill is thrown on, with no <stage>.error; a stage that does not throw adds none', async () => {
  const b = new ReportBuilder();
  await assert.rejects(b.stage('backup', async () => { throw new Error('interrupted'); }, () => true), /interrupted/);
  assert.equal(await b.stage('content', async () => 42, () => false), 42);
  assert.deepEqual(b.checks, []);
  assert.deepEqual(b.stages.map((s) => [s.name, s.status]), [['backup', 'fail'], ['content', 'pass']]);
});

test('a stage not run is <stage>.skipped, with why', () => {
  for (const name of SKIPPED) {
    const b = new ReportBuilder();
    const stage = stageOf(name) as SkippableStage;
    b.skipStage(stage, 'an earlier check failed');
    assert.deepEqual(b.checks, [{ name, stage, status: 'skip', detail: 'an earlier check failed' }]);
  }
});

test('a long detail is cut once and logged whole; checks adopted from another builder keep theirs as recorded', () => {
  const logged: string[] = [];
  const logger = { debug: () => {}, info: (m: string) => void logged.push(m), warn: () => {}, error: () => {} };
  const part = new ReportBuilder(undefined, logger);
  const long = 'x'.repeat(REPORT_DETAIL_MAX + 10);
  const c = part.add({ name: 'fidelity.catalog', stage: 'fidelity', status: 'fail', detail: long });
  assert.equal(c.detail, `${'x'.repeat(REPORT_DETAIL_MAX)}… [10 more characters in run.log]`);
  assert.equal(logged.length, 1);
  const whole = new ReportBuilder(undefined, logger);
  whole.adopt(part.checks);
  assert.deepEqual(whole.checks, part.checks);
  assert.equal(logged.length, 1, 'not logged again');
});
