import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig, validateConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { parseDuration } from '../../src/config/duration.js';
import { scratchDir } from '../helpers/clusters.js';
import { runProcess } from '../../src/exec/run-process.js';

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

/** The message of loading `text` as a config, which must be a ConfigError. */
async function yamlError(dir: string, text: string): Promise<string> {
  const p = join(dir, 'c.yaml');
  await writeFile(p, text);
  try {
    await loadConfig(p);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.ok(err.message.includes(`${p} is not valid YAML`), err.message);
    return err.message;
  }
  assert.fail('loaded');
}

test('a YAML error names the line to fix, its column and its text — not where the parser noticed it', async () => {
  await using d = await scratchDir();
  // One space too deep: the parser blames line 2, whose value line 3 seems to continue.
  const deep = await yamlError(d.path, 'source:\n  database: app\n   url: postgresql://ro:s3cret@db/app\nout: /var/lib/drills\n');
  assert.match(deep, /line 3, column 4: indented deeper than line 2 above it.*indent it like the key above it\n\s+3 \|    url: postgresql:\/\/\*\*\*\n\s+\|    \^/);
  assert.doesNotMatch(deep, /s3cret|line 2, column/);
  // A webhook's token lives in its path: nothing after the scheme is shown.
  const hook = await yamlError(d.path, 'notify:\n  webhook:\n    on: fail\n     url: https://hooks.example.com/T0/B0/tok3n\n');
  assert.match(hook, /line 4, column 6: .*\n\s+4 \|      url: https:\/\/\*\*\*\n/);
  assert.doesNotMatch(hook, /tok3n|hooks\.example/);
  // The same file with CRLF line ends (edited on Windows).
  assert.match(await yamlError(d.path, 'source:\r\n  database: app\r\n   url: x\r\n'), /line 3, column 4: indented deeper/);
  // An unclosed quote or bracket: the parser notices at the end of the file; the line is where it was opened.
  assert.match(await yamlError(d.path, 'source:\n  database: "app\nbackup:\n  format: custom\nout: x\n'), /line 2, column 13: Missing closing "quote — opened here and never closed\n\s+2 \|   database: "app/);
  assert.match(await yamlError(d.path, 'expect:\n  roles: [app_ro, app_rw\nout: x\n'), /line 2, column 10: .*— opened here and never closed\n\s+2 \|   roles: \[app_ro, app_rw/);
  // A missing colon: that very line.
  assert.match(await yamlError(d.path, 'source:\n  database app\n  url: x\n'), /line 2, column 3: a key that runs onto the next line — a key and its value need ": "/);
  // A tab, a duplicate key: the parser's own line is right.
  assert.match(await yamlError(d.path, 'source:\n  database: app\n\turl: x\n'), /line 3, column 1: Tabs are not allowed/);
  assert.match(await yamlError(d.path, 'out: a\nsource: {}\nout: b\n'), /line 3, column 1: Map keys must be unique\n\s+3 \| out: b/);
});

test('control: odd but valid YAML loads (quotes inside quotes, a flow list over lines, comments, CRLF, a BOM)', async () => {
  await using d = await scratchDir();
  const p = join(d.path, 'ok.yaml');
  await writeFile(p, '\ufeff# pgdrill\r\nsource:\r\n  database: \'it"s\'  # a "comment\r\nexpect:\r\n  roles: [app_ro,\r\n    app_rw]\r\n');
  const c = await loadConfig(p);
  assert.equal(c.source.database, 'it"s');
  assert.deepEqual(c.expect?.roles, ['app_ro', 'app_rw']);
});

test('durations', () => {
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('26h'), 26 * 3_600_000);
  assert.equal(parseDuration(5), 5000);
  assert.equal(parseDuration('soon'), null);
});

// Config files are bounded: a 2-million-key file parsed for minutes at gigabytes, and a YAML alias bomb expands
// exponentially; both are refused before parsing/expansion with exit 2 and the file and limit named (issue 20 §6).
test('a config file larger than 1 MiB is refused (exit 2), naming the file and the limit', async () => {
  await using d = await scratchDir();
  const p = join(d.path, 'huge.yaml');
  // Valid YAML all the way: only its size is wrong.
  await writeFile(p, 'metadata:\n' + Array.from({ length: 60_000 }, (_, i) => `  key_${i}: value_${i}`).join('\n') + '\n');
  await assert.rejects(loadConfig(p), (e: unknown) => e instanceof ConfigError && e.exitCode === 2 && e.message.includes(p) && /larger than 1 MiB/.test(e.message));
});

test('a YAML alias bomb is refused (exit 2), naming the file and the limit', async () => {
  await using d = await scratchDir();
  const p = join(d.path, 'bomb.yaml');
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 10; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
  await writeFile(p, lines.join('\n') + '\n');
  const started = Date.now();
  await assert.rejects(loadConfig(p), (e: unknown) => e instanceof ConfigError && e.exitCode === 2 && e.message.includes(p) && /aliases more than 100 times/.test(e.message));
  assert.ok(Date.now() - started < 10_000, 'refused, not expanded');
});

test('control: a config that shares values through a few YAML aliases loads', async () => {
  await using d = await scratchDir();
  const p = join(d.path, 'aliases.yaml');
  await writeFile(p, [
    'source:', '  database: &db shop',
    'expect:', '  roles: [&ro shop_ro, shop_rw]', '  grants:', '    - { role: *ro, no_write: true }',
    'metadata:', '  database: *db', '  reader: *ro', '  phase: &p v1', '  release: *p', '',
  ].join('\n'));
  const c = await loadConfig(p);
  assert.equal(c.source.database, 'shop');
  assert.equal(c.metadata.database, 'shop');
  assert.equal(c.metadata.release, 'v1');
  assert.equal(c.expect!.grants[0]!.role, 'shop_ro');
});

test('a config that is a FIFO, a directory or /dev/stdin is refused at once (exit 2), never opened', async () => {
  await using d = await scratchDir();
  const fifo = join(d.path, 'config.fifo');
  await runProcess({ bin: 'mkfifo', args: [fifo] });
  for (const [p, kind] of [[fifo, /is a FIFO/], [d.path, /is a directory/], ['/dev/stdin', /not a regular file|cannot read/], ['/dev/null', /character device/]] as const) {
    const started = Date.now();
    await assert.rejects(loadConfig(p), (e: unknown) => e instanceof ConfigError && e.exitCode === 2 && kind.test(e.message), p);
    assert.ok(Date.now() - started < 2000, `${p} refused at once`);
  }
});
