/**
 * `verify` of a file that is not a dump at all is a usage error (exit 2) naming what was looked for: no run
 * directory, no history entry, so `status` is not turned red by a file that never was a backup.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { scratchDir } from '../helpers/clusters.js';

test('verify of random bytes, a text file, an empty file, a zip: exit 2, no run recorded, status not red', async () => {
  await using d = await scratchDir();
  const out = join(d.path, 'drills');
  const files: [string, Buffer | string][] = [
    ['random.dump', randomBytes(8192)],
    ['notes.sql', 'these are my notes, not a dump\n'],
    ['empty.sql', ''],
    ['backup.zip', Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), randomBytes(200)])],
  ];
  for (const [name, bytes] of files) {
    const p = join(d.path, name);
    await writeFile(p, bytes);
    const r = await runCli(['verify', p, '--out', out, '--json']);
    assert.equal(r.code, 2, `${name}: ${r.stderr}`);
    assert.match(r.stderr, /^pgdrill: usage\/config error: .* is not a pg_dump output: no header — looked for pg_dump's line "-- PostgreSQL database dump"/m, name);
    assert.equal(r.stdout, '', `${name}: no report`);
  }
  assert.deepEqual(await readdir(out).catch(() => []), [], 'no run directory, no lock, nothing in --out');
  const s = await runCli(['status', '--out', out, '--json']);
  assert.deepEqual(JSON.parse(s.stdout).databases, [], 'no drill recorded for status to judge');
});
