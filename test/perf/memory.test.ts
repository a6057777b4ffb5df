/**
 * Flat memory: a ~300 MB plain dump streams through the drill's one pass — pg_dump's pipe, the hashing stream, the
 * scanner, the scan gate into a slow consumer standing for psql, and the file — and pgdrill's peak RSS grows by
 * far less than the dump (a memory bound, not a timing). The slow consumer also shows the backpressure: what waits
 * for it stays a few chunks, because pg_dump is paused instead of buffered. The consumer hashes each write only when it
 * takes it, as psql reads its pipe: the read buffers used again (src/backup/chunk-pool.ts) must not change bytes
 * that still wait for it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { takeDump } from '../../src/backup/pg-dump.js';
import { currentRssBytes, peakRssBytes } from '../../src/pipeline/report/peak-rss.js';
import { resetPeakRss } from '../helpers/peak-rss.js';
import { silentLogger } from '../../src/logger.js';
import { ScanGatedFeed } from '../../src/restore/stream-restore.js';
import { PlainDumpScanner } from '../../src/scan/plain-dump-scanner.js';
import { sha256File } from '../../src/backup/sha256sums.js';
import { bins, scratchDir } from '../helpers/clusters.js';
import { fakeBindir } from '../helpers/fake-bindir.js';

const ROWS = 5_000_000;
const ROW = '42\tsome row text payload abcdefghijklmnopqrstuvwxyz 0123456789';
const MB = 1024 * 1024;

test('a ~300 MB plain dump streams through hash, scan, gate and file with bounded memory', async () => {
  await using dir = await scratchDir();
  // A "pg_dump" that writes a plain dump of one ~300 MB COPY block.
  await using fake = await fakeBindir([
    `printf '%s\\n' '--' '-- PostgreSQL database dump' '--' '' 'SET statement_timeout = 0;' 'CREATE TABLE public.t (id integer, v text);' '' 'COPY public.t (id, v) FROM stdin;'`,
    `yes '${ROW}' | head -n ${ROWS}`,
    `printf '%s\\n' '\\.' '' '--' '-- PostgreSQL database dump complete' '--' ''`,
  ].join('\n'));
  const real = await bins();
  const b = { ...real, path: (t: Parameters<typeof real.path>[0]) => (t === 'pg_dump' ? join(fake.path, 'pg_dump') : real.path(t)) };

  // A consumer slower than the producer, like psql: it takes each write on the next macrotask.
  let waiting = 0;
  let maxWaiting = 0;
  let consumed = 0;
  const got = createHash('sha256');
  const slow = new Writable({
    highWaterMark: 1 << 16,
    write(c: Buffer, _e, cb) {
      waiting += c.length;
      maxWaiting = Math.max(maxWaiting, waiting);
      setTimeout(() => ((waiting -= c.length), (consumed += c.length), got.update(c), cb()), 0);
    },
  });
  let slowExit!: () => void;
  const exited = new Promise<void>((r) => (slowExit = r));
  slow.on('finish', () => slowExit());
  const scanner = new PlainDumpScanner();
  const gate = new ScanGatedFeed({ scanner, target: Promise.resolve({ stdin: slow, kill: () => slow.destroy(), exited }) });

  resetPeakRss();
  const before = currentRssBytes()!;
  const dump = await takeDump({ bins: b, env: {}, format: 'plain', path: join(dir.path, 'big.sql'), through: gate, logger: silentLogger });
  assert.equal(gate.release(), true);
  await exited;
  const sumAgain = await sha256File(dump.path); // the self-check's re-read, in the same measurement
  const growth = peakRssBytes()! - before;

  const scan = scanner.finish();
  assert.ok(dump.sizeBytes > 300 * 1e6, `dump of ${dump.sizeBytes} bytes`);
  assert.equal((await stat(dump.path)).size, dump.sizeBytes);
  assert.equal(sumAgain, dump.sha256);
  assert.equal(scan.copyBlocks[0]!.rows, ROWS);
  assert.equal(scan.trailer.complete, true);
  assert.equal(gate.stopped, null);
  assert.equal(consumed, dump.sizeBytes, 'the consumer got every byte');
  assert.equal(got.digest('hex'), dump.sha256, 'the consumer got the very bytes that were hashed and stored');
  assert.ok(maxWaiting <= 8 * MB, `what waited for the slow consumer stayed small: ${(maxWaiting / MB).toFixed(1)} MB`);
  assert.ok(growth < 100 * MB, `peak RSS grew by ${(growth / MB).toFixed(0)} MB while ${(dump.sizeBytes / MB).toFixed(0)} MB streamed`);
});
