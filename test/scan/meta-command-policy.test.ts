/** The backslash commands a plain pg_dump writes are allowed exactly as it writes them, and nothing more. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyMetaCommand } from '../../src/scan/meta-command-policy.js';

const none = new Set<string>();

test('\\connect to a name that needs quoting, then \\encoding: allowed as whole lines only', () => {
  assert.equal(classifyMetaCommand(`\\connect -reuse-previous=on "dbname='a=b'"`, true, none).kind, 'connect');
  assert.equal(classifyMetaCommand(`\\connect -reuse-previous=on "dbname='o""q'"`, true, none).kind, 'connect');
  assert.equal(classifyMetaCommand('\\connect "MixedCase"', true, none).kind, 'connect');
  assert.deepEqual(classifyMetaCommand('\\encoding SQL_ASCII', true, none), { kind: 'allowed', name: 'encoding' });
  assert.deepEqual(classifyMetaCommand('\\encoding UTF8', true, none), { kind: 'allowed', name: 'encoding' });
  for (const text of ['\\encoding UTF8 \\! id', '\\encoding `id`', '\\encoding :x', '\\encoding', '\\encoding UTF8 x']) {
    assert.equal(classifyMetaCommand(text, true, none).kind, 'refused', text);
  }
  assert.equal(classifyMetaCommand('\\encoding UTF8', false, none).kind, 'refused', 'not inside a statement');
});
