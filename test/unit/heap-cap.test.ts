import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { capHeapGrowth } from '../../src/cli/heap-cap.js';

const MB = 1024 * 1024;
const SCENARIO = resolve(import.meta.dirname, '../helpers/heap-cap-scenario.ts');
const scenario = async (nodeFlags: string[], arg: 'cap' | 'none') => {
  const r = await promisify(execFile)(process.execPath, [...nodeFlags, '--import', 'tsx', SCENARIO, arg]);
  return JSON.parse(r.stdout) as { collections: number; grewBytes: number; active: boolean };
};

test('the heap cap keeps garbage near its slack above what is live, when node runs with --expose-gc', async () => {
  const capped = await scenario(['--expose-gc'], 'cap');
  assert.equal(capped.active, true);
  assert.ok(capped.collections > 0, 'the cap collected');
  assert.ok(capped.grewBytes < 80 * MB, `heap grew by ${(capped.grewBytes / MB).toFixed(0)} MB (${capped.collections} full collections)`);
});

test('without --expose-gc the cap does nothing: no V8 flag is changed at run time', () => {
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'this test process runs without --expose-gc');
  const cap = capHeapGrowth();
  cap.stop();
  assert.equal(cap.active, false);
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'still not exposed');
});
