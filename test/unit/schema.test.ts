import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { generatedSchemas } from '../../scripts/gen-schema.js';

test('schema/*.json are up to date with the zod schemas (run `npm run schema`)', async () => {
  for (const [file, text] of Object.entries(generatedSchemas())) {
    assert.equal(await readFile(resolve(import.meta.dirname, '../../schema', file), 'utf8'), text, file);
  }
});
