import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { generatedSchemas } from '../../scripts/gen-schema.js';
import { configReference } from '../../scripts/gen-config-reference.js';
import { commandsReference } from '../../scripts/gen-commands-reference.js';

test('schema/*.json are up to date with the zod schemas (run `npm run schema`)', async () => {
  for (const [file, text] of Object.entries(generatedSchemas())) {
    assert.equal(await readFile(resolve(import.meta.dirname, '../../schema', file), 'utf8'), text, file);
  }
});

test('docs/reference/config.md is up to date with the config schema (run `npm run schema`)', async () => {
  const text = configReference();
  assert.equal(await readFile(resolve(import.meta.dirname, '../../docs/reference/config.md'), 'utf8'), text);
  // Every top-level section and a nested key are there: the page is generated from the schema, not written by hand.
  for (const key of ['`source.system_identifier`', '`backup.format`', '`expect.objects[].type`']) assert.ok(text.includes(key), key);
});

test('docs/reference/commands.md is up to date with the command definitions (run `npm run schema`)', async () => {
  const text = commandsReference();
  assert.equal(await readFile(resolve(import.meta.dirname, '../../docs/reference/commands.md'), 'utf8'), text);
  // Every command, and flags of several: the page is generated from commander's definitions, not written by hand.
  for (const cmd of ['cleanup', 'demo', 'history', 'init', 'inspect', 'run', 'status', 'verify']) assert.ok(text.includes(`## pgdrill ${cmd}\n`), cmd);
  for (const flag of ['`--no-globals`', '`--max-age <duration>`', '`--sums <file>`', '`--dry-run`', 'Exit codes:']) assert.ok(text.includes(flag), flag);
});
