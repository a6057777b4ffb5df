/** CopyDataCounter: psql's end-of-data rule (`\.` alone on a line, LF or CRLF, or end of input) on raw bytes. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CopyDataCounter } from '../../src/scan/copy-data.js';

/** Runs the counter over `data` split at `cuts`; returns rows, terminated and where SQL resumes (offset in data). */
function count(data: string, cuts: number[] = [], eof = true) {
  const buf = Buffer.from(data);
  const c = new CopyDataCounter();
  const bounds = [0, ...cuts, buf.length];
  let resume = -1;
  for (let k = 0; k + 1 < bounds.length && resume === -1; k++) {
    const chunk = buf.subarray(bounds[k], bounds[k + 1]);
    const r = c.scan(chunk, 0);
    if (r !== -1) resume = bounds[k]! + r; // k + 1 < bounds.length
  }
  if (resume === -1 && eof) c.finishAtEndOfInput();
  return { rows: c.rows, terminated: c.terminated, resume };
}

describe('CopyDataCounter', () => {
  test('rows before the terminator; SQL resumes right after it', () => {
    const data = 'a\tb\nc\td\n\\.\nSELECT 1;\n';
    assert.deepEqual(count(data), { rows: 2, terminated: true, resume: data.indexOf('SELECT') });
  });
  test('the terminator split at every possible chunk boundary', () => {
    const data = 'row1\nrow2\n\\.\nSQL\n';
    for (let cut = 1; cut < data.length; cut++) {
      assert.deepEqual(count(data, [cut]), { rows: 2, terminated: true, resume: data.indexOf('SQL') }, `cut at ${cut}`);
    }
    for (let a = 1; a < data.length - 1; a++) {
      for (let b = a + 1; b < data.length; b++) assert.equal(count(data, [a, b]).resume, data.indexOf('SQL'), `cuts ${a},${b}`);
    }
  });
  test('CRLF terminator; \\. followed by anything else is data', () => {
    assert.deepEqual(count('r\r\n\\.\r\nX'), { rows: 1, terminated: true, resume: 7 });
    const odd = 'r\n\\.x\n\\. \n\\.\\.\n\\.\r\r\n\\.\n';
    assert.deepEqual(count(odd), { rows: 5, terminated: true, resume: odd.length });
  });
  test('\\. must start a line: a data value ending in \\. does not end the block', () => {
    assert.deepEqual(count('abc\\.\n\\\\.\n\\.\n'), { rows: 2, terminated: true, resume: 13 });
  });
  test('empty lines and lone backslashes are rows', () => {
    assert.deepEqual(count('\n\n\\\n\\.\n'), { rows: 3, terminated: true, resume: 7 });
  });
  test('end of input: unterminated, a partial last row counts, a final \\. without newline terminates', () => {
    assert.deepEqual(count('a\nb\n'), { rows: 2, terminated: false, resume: -1 });
    assert.deepEqual(count('a\nparti'), { rows: 2, terminated: false, resume: -1 });
    assert.deepEqual(count('a\n\\.'), { rows: 1, terminated: true, resume: -1 });
    assert.deepEqual(count('a\n\\'), { rows: 2, terminated: false, resume: -1 });
    assert.deepEqual(count(''), { rows: 0, terminated: false, resume: -1 });
  });
  test('newlines are counted for line numbers, including the terminator line', () => {
    const c = new CopyDataCounter();
    c.scan(Buffer.from('a\nb\n\\.\nrest'), 0);
    assert.equal(c.newlines, 3);
  });
});
