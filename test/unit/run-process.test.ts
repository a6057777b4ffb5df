/**
 * The process wrapper and the streams piped through it: a stream that fails — the globals file removed while the
 * replay starts (a backup that failed discards it), a corrupt gzip, a full disk — ends the child and rejects naming
 * the stream's error. Before, `pipe` left the error unhandled and node crashed (exit 1, no report). Same for the
 * peek at a gzipped dump's first lines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline, Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { startProcess } from '../../src/exec/run-process.js';
import { ToolError } from '../../src/errors.js';
import { globalsForSandbox } from '../../src/restore/tablespaces.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { peekCreatedDatabase } from '../../src/verify/read-plain.js';

test('the globals file gone when its replay reads it: the child is killed, done rejects naming ENOENT', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pgdrill-test-'));
  try {
    // The sandbox is only asked for a directory when a CREATE TABLESPACE line comes: none here.
    const { input } = globalsForSandbox(join(dir, 'gone.globals.sql'), {} as SandboxCluster);
    const p = startProcess({ bin: '/bin/cat', args: [], stdin: input, allowFailure: true });
    await assert.rejects(p.done, (e) => e instanceof ToolError && /reading its input failed: ENOENT/.test(e.message));
    assert.notEqual(p.child.exitCode, 0, 'cat did not end as if its input were whole');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a corrupt .sql.gz piped into a child (as restoreDump does): rejects naming the gzip error', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pgdrill-test-'));
  try {
    const path = join(dir, 'broken.sql.gz');
    await writeFile(path, 'this is not gzip data\n');
    const input = pipeline(createReadStream(path), createGunzip(), () => {});
    const p = startProcess({ bin: '/bin/cat', args: [], stdin: input, allowFailure: true });
    await assert.rejects(p.done, (e) => e instanceof ToolError && /reading its input failed: incorrect header check/.test(e.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an output stream that fails (a full disk): the child is killed, done rejects naming the write error', { timeout: 20_000 }, async () => {
  const full = new Writable({ write: (_c, _e, cb) => cb(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })) });
  const p = startProcess({ bin: '/usr/bin/yes', args: [], stdout: full });
  try {
    await assert.rejects(p.done, (e) => e instanceof ToolError && /writing its output failed: ENOSPC/.test(e.message));
    assert.equal(p.child.signalCode, 'SIGKILL', 'yes would write forever');
  } finally {
    p.child.kill('SIGKILL');
  }
});

test('peeking at a .sql.gz that cannot be read: null, not a crash; a missing one is a ConfigError naming it', async () => {
  const corrupt = join(tmpdir(), `pgdrill-test-corrupt-${process.pid}.sql.gz`);
  await writeFile(corrupt, Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x00]));
  try {
    assert.equal(await peekCreatedDatabase(corrupt, true), null);
  } finally {
    await rm(corrupt, { force: true });
  }
  const missing = join(tmpdir(), `pgdrill-test-missing-${process.pid}.sql.gz`);
  await assert.rejects(peekCreatedDatabase(missing, true), (e: Error) => e.name === 'ConfigError' && e.message.includes(missing));
});
