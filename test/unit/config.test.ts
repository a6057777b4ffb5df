import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig, validateConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { parseDuration } from '../../src/config/duration.js';
import { scratchDir } from '../helpers/clusters.js';

test('a full config validates, with defaults filled in', () => {
  const c = validateConfig({
    source: { system_identifier: 7611578671664259111n.toString(), database: 'directus' },
    backup: { format: 'custom' },
    expect: { objects: [{ type: 'view', schema: 'governance', name: 'v_*_observe', count: 12 }], roles: ['cutter_ro'], grants: [{ role: 'cutter_ro', count: 13, no_write: true }] },
    metadata: { phase: 'v0.3', author: 'ops' },
  });
  assert.equal(c.backup.format, 'custom');
  assert.equal(c.backup.lock_wait_timeout, '30s');
  assert.equal(c.backup.globals, true);
  assert.equal(c.expect!.objects[0]!.count, 12);
  assert.equal(c.source.system_identifier, '7611578671664259111');
});

test('an empty config is valid: no pins, the source catalog is the expectation', () => {
  const c = validateConfig({});
  assert.equal(c.expect, undefined);
  assert.equal(c.backup.format, 'plain');
});

test('unknown keys are rejected and every problem is reported at once with its path', () => {
  try {
    validateConfig({ sourse: {}, backup: { format: 'zip', lock_wait_timeout: 'soon' }, expect: { objects: [{ type: 'tabel' }] } });
    assert.fail('expected ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.exitCode, 2);
    const text = err.problems.join('\n');
    assert.match(text, /sourse/);
    assert.match(text, /backup\.format/);
    assert.match(text, /backup\.lock_wait_timeout/);
    assert.match(text, /expect\.objects\.0\.type/);
    assert.ok(err.problems.length >= 4);
  }
});

test('YAML errors name the file', async () => {
  await using d = await scratchDir();
  const p = join(d.path, 'bad.yaml');
  await writeFile(p, 'source:\n  database: [unclosed\n');
  await assert.rejects(loadConfig(p), (e: unknown) => e instanceof ConfigError && e.message.includes(p));
  await assert.rejects(loadConfig(join(d.path, 'missing.yaml')), /cannot read config file/);
});

test('durations', () => {
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('26h'), 26 * 3_600_000);
  assert.equal(parseDuration(5), 5000);
  assert.equal(parseDuration('soon'), null);
});
