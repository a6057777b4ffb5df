/** verify --source: the checks against the source now (pure parts; test/verify/source-deep.test.ts drives the CLI). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sourceHashesNowCheck, sourceRowsNowCheck, type SourceNow } from '../../src/verify/source-now.js';
import { validateConfig } from '../../src/config/load.js';
import type { TableRow } from '../../src/report/model.js';

const th = validateConfig({}).thresholds;
const row = (name: string, restored: number) => ({ schema: 'public', name, restored_rows: restored }) as TableRow;

test('source_rows_now: a difference WARNs, or FAILs when the source is unchanged since the dump; an uncounted table is named', () => {
  const now = [{ schema: 'public', name: 'a', rows: 10, ms: 1 }, { schema: 'public', name: 'b', rows: 5, ms: 1 }];
  const tables = [row('a', 10), row('b', 4)];
  assert.equal(sourceRowsNowCheck(tables, now, th, 'T').status, 'warn');
  const strict = sourceRowsNowCheck(tables, now, th, 'T', true);
  assert.equal(strict.status, 'fail');
  assert.match(strict.detail, /although source\.unchanged_since_dump says the source has not changed: public\.b source now 5 vs restored 4/);
  const equal = [row('a', 10), row('b', 5)];
  assert.equal(sourceRowsNowCheck(equal, now, th, 'T', true).status, 'pass');
  const failures = [{ schema: 'public', name: 'c', error: 'relation "other" does not exist (SQLSTATE 42P01)', sqlstate: '42P01' }];
  const c = sourceRowsNowCheck(equal, now, th, 'T', false, failures);
  assert.equal(c.status, 'warn');
  assert.match(c.detail, /1 source table\(s\) could not be counted now, so not compared: public\.c: relation "other" does not exist/);
});

test('source_hashes_now: named differences, missing tables and hash failures; WARN or FAIL', () => {
  const h = (name: string, hash: string, rows = 1) => ({ schema: 'public', name, hash, rows, ms: 1 });
  const now: SourceNow = {
    objects: [], counts: [], countFailures: [], readAt: 'T',
    hashes: [h('a', 'aaaaaaaaaaaaaaaa'), h('b', 'bbbbbbbbbbbbbbbb'), h('gone', 'cccccccccccccccc')],
    hashFailures: [{ schema: 'public', name: 'f', error: 'boom', sqlstate: '42P01' }],
  };
  const restored = new Map([['public.a', h('a', 'aaaaaaaaaaaaaaaa')], ['public.b', h('b', 'dddddddddddddddd')]]);
  const warn = sourceHashesNowCheck(now, restored, false);
  assert.equal(warn.status, 'warn');
  assert.match(warn.detail, /^1 table\(s\) differ in content, 1 missing from the copy, 1 not hashed on the source: public\.b \(source now bbbbbbbbbbbb…, restored dddddddddddd…; rows 1 vs 1\); public\.gone \(not in the restored copy\); public\.f could not be hashed on the source: boom — compared with the source NOW/);
  assert.equal(sourceHashesNowCheck(now, restored, true).status, 'fail');
  const same: SourceNow = { ...now, hashes: [h('a', 'aaaaaaaaaaaaaaaa')], hashFailures: [] };
  assert.equal(sourceHashesNowCheck(same, restored, true).status, 'pass');
});
