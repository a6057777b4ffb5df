import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkSums, parseSums, sha256File, writeSums } from '../../src/backup/sha256sums.js';
import { scratchDir } from '../helpers/clusters.js';

test('SHA256SUMS is sha256sum -c compatible, and the self-check catches a flipped byte', async () => {
  await using d = await scratchDir();
  const a = join(d.path, 'db-20260101T000000Z.sql');
  const b = join(d.path, 'globals.sql');
  await writeFile(a, 'CREATE TABLE t (a int);\n'.repeat(1000));
  await writeFile(b, 'CREATE ROLE r;\n');
  const sums = join(d.path, 'SHA256SUMS');
  await writeSums(sums, [{ path: a, sha256: await sha256File(a) }, { path: b, sha256: await sha256File(b) }]);
  assert.equal(await sha256File(a), createHash('sha256').update(await readFile(a)).digest('hex'));
  // The real tool agrees.
  const out = execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: d.path, encoding: 'utf8' });
  assert.match(out, /db-20260101T000000Z\.sql: OK/);
  assert.deepEqual(await checkSums(sums), { ok: true, checked: 2, failures: [] });
  const buf = await readFile(a);
  buf[100] = buf[100]! ^ 0x01;
  await writeFile(a, buf);
  const r = await checkSums(sums);
  assert.equal(r.ok, false);
  assert.equal(r.failures.length, 1);
  assert.equal(r.failures[0]!.path, 'db-20260101T000000Z.sql');
});

test('parseSums reads binary-mode lines and rejects garbage', () => {
  const h = 'a'.repeat(64);
  assert.deepEqual(parseSums(`${h} *file.dump\n`), [{ sha256: h, path: 'file.dump' }]);
  assert.throws(() => parseSums('not a line\n'), /not a sha256sum line/);
});
