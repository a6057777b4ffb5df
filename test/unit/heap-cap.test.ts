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

test("the bin line's node flags are the ones the tests run the CLI with, and they halve the young generation", async () => {
  const { readFile } = await import('node:fs/promises');
  const { CLI_NODE_FLAGS } = await import('../helpers/cli.js');
  const first = (await readFile(resolve(import.meta.dirname, '../../src/cli/main.ts'), 'utf8')).split('\n')[0];
  assert.equal(first, `#!/usr/bin/env -S node ${CLI_NODE_FLAGS.join(' ')}`);
  // V8's new space is two semi-spaces: 2 × 8 MB at most under the bin line's flags, 2 × 16 MB by default on Node 20.
  const young = async (flags: readonly string[]) => {
    const r = await promisify(execFile)(process.execPath, [...flags, '-e', `
      const v8 = require('node:v8'); let keep = [];
      for (let i = 0; i < 4e6; i++) { keep.push({ i }); if (keep.length > 3e5) keep = []; }
      console.log(v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size)`]);
    return Number(r.stdout);
  };
  const [plain, capped] = [await young([]), await young(CLI_NODE_FLAGS)];
  assert.ok(plain > 16 * MB, `without the flags this churn grows the new space past 16 MB (${(plain / MB).toFixed(1)} MB)`);
  assert.ok(capped <= 16 * MB, `new space ${(capped / MB).toFixed(1)} MB under ${CLI_NODE_FLAGS.join(' ')}`);
});
