import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkSums, parseSums, sha256File, writeSums } from '../../src/backup/sha256sums.js';
import { HashingStream } from '../../src/backup/hashing-stream.js';
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

for (const offThread of [true, false]) test(`the streaming sha256 (${offThread ? 'worker thread, ring of shared slots' : 'inline'}) equals a plain sha256, in order, for any chunking`, async () => {
  // 3 MiB + a bit in chunks from 1 byte to 2.5 MiB (a chunk larger than a slot is split): ~25 MiB, the ring wraps.
  const chunks = [1, 1000, 65536, 1 << 20, (5 << 20) / 2, 7, 3 << 20].flatMap((n) => [randomBytes(n), randomBytes(n)]);
  for (let i = 0; i < 30; i++) chunks.push(randomBytes(300_000));
  const expected = createHash('sha256');
  for (const c of chunks) expected.update(c);
  const h = new HashingStream([], undefined, offThread);
  let passed = 0;
  await pipeline(Readable.from(chunks), h, new Writable({ write: (c: Buffer, _e, cb) => ((passed += c.length), cb()) }));
  assert.equal(await h.digest(), expected.digest('hex'));
  assert.equal(h.bytes, passed);

  const empty = new HashingStream([], undefined, offThread);
  await pipeline(Readable.from([]), empty, new Writable({ write: (_c, _e, cb) => cb() }));
  assert.equal(await empty.digest(), createHash('sha256').digest('hex'));

  // A stream that fails mid-way stops its worker (else this test file would never exit).
  const broken = new HashingStream([], undefined, offThread);
  const failing = new Readable({ read() { this.push(randomBytes(1000)); this.destroy(new Error('boom')); } });
  await assert.rejects(pipeline(failing, broken, new Writable({ write: (_c, _e, cb) => cb() })), /boom/);
  await assert.rejects(broken.digest(), /before the end of the stream/);
});
