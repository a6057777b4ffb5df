/** The versions an artefact names in its own header, read by pgdrill before any PostgreSQL program touches it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readArtifactHeader, restoreMajorFor } from '../../src/verify/artifact-header.js';
import { archiveVersion } from '../../src/verify/archive-toc.js';
import { scratchDir } from '../helpers/clusters.js';

/** An archive header as pg_dump's WriteHead writes it (4-byte integers). */
function head(vmin: number, from: string | null, by: string | null): Buffer {
  const int = (n: number) => { const b = Buffer.alloc(5); b[0] = n < 0 ? 1 : 0; b.writeUInt32LE(Math.abs(n), 1); return b; };
  const str = (s: string | null) => (s === null ? int(-1) : Buffer.concat([int(Buffer.byteLength(s)), Buffer.from(s)]));
  const parts = [Buffer.from('PGDMP'), Buffer.from([1, vmin, 0, 4, 8, 1])];
  parts.push(vmin >= 15 ? Buffer.from([0]) : int(-1)); // compression
  for (let i = 0; i < 7; i++) parts.push(int(1));
  parts.push(str('app'), str(from), str(by), int(0));
  return Buffer.concat(parts);
}

test('custom, directory and tar archives: format version and "Dumped from/by" from the header', async () => {
  await using dir = await scratchDir();
  const custom = join(dir.path, 'a.dump');
  await writeFile(custom, head(16, '17.2 (Debian 17.2-1)', '17.4'));
  const h = await readArtifactHeader(custom, 'custom');
  assert.deepEqual([h.dumpedFrom?.text, h.dumpedBy?.text, h.archiveVersion, h.minRestoreMajor], ['17.2', '17.4', '1.16.0', 17]);
  const d = join(dir.path, 'a.dir');
  await mkdir(d);
  await writeFile(join(d, 'toc.dat'), head(15, '16.1', '16.1'));
  const hd = await readArtifactHeader(d, 'directory');
  assert.deepEqual([hd.dumpedBy?.major, hd.minRestoreMajor], [16, 16]);
  const tar = join(dir.path, 'a.tar');
  const tarHeader = Buffer.alloc(512);
  tarHeader.write('toc.dat');
  await writeFile(tar, Buffer.concat([tarHeader, head(14, '13.9', '15.8')]));
  const ht = await readArtifactHeader(tar, 'tar');
  assert.deepEqual([ht.dumpedFrom?.major, ht.dumpedBy?.major, ht.minRestoreMajor], [13, 15, null]);
});

test('an archive newer than this pgdrill knows still gives its version, and needs a pg_restore newer than 18', async () => {
  await using dir = await scratchDir();
  const custom = join(dir.path, 'new.dump');
  await writeFile(custom, head(17, '19.0', '19.0'));
  const h = await readArtifactHeader(custom, 'custom');
  assert.equal(h.archiveVersion, '1.17.0');
  assert.equal(h.minRestoreMajor, 19);
  assert.equal(h.dumpedBy, null);
  assert.equal(restoreMajorFor(archiveVersion(1, 14)), 0);
});

test('a damaged or hostile header gives nulls, never an error or a huge allocation', async () => {
  await using dir = await scratchDir();
  const cut = join(dir.path, 'cut.dump');
  await writeFile(cut, head(16, '17.2', '17.4').subarray(0, 30));
  assert.deepEqual(await readArtifactHeader(cut, 'custom'), { dumpedFrom: null, dumpedBy: null, archiveVersion: null, minRestoreMajor: null });
  const huge = join(dir.path, 'huge.dump');
  const b = head(16, 'x', '17.4');
  const at = b.indexOf('x') - 4;
  b.writeUInt32LE(0x7fffffff, at); // "Dumped from" claims 2 GB
  await writeFile(huge, b);
  assert.equal((await readArtifactHeader(huge, 'custom')).dumpedFrom, null);
});

test('plain dumps, gzip too: the version comments at the top', async () => {
  await using dir = await scratchDir();
  const sql = '--\n-- PostgreSQL database dump\n--\n\n\\restrict abc\n\n-- Dumped from database version 16.4 (Debian 16.4-1)\n-- Dumped by pg_dump version 17.6\n\nSET x = 1;\n';
  await writeFile(join(dir.path, 'a.sql'), sql);
  await writeFile(join(dir.path, 'a.sql.gz'), gzipSync(sql + 'SELECT 1;\n'.repeat(100_000)));
  for (const [f, fmt] of [['a.sql', 'plain'], ['a.sql.gz', 'plain-gzip']] as const) {
    const h = await readArtifactHeader(join(dir.path, f), fmt);
    assert.deepEqual([h.dumpedFrom?.text, h.dumpedBy?.text, h.archiveVersion], ['16.4', '17.6', null], f);
  }
  await writeFile(join(dir.path, 'b.sql'), 'CREATE TABLE t ();\n');
  assert.equal((await readArtifactHeader(join(dir.path, 'b.sql'), 'plain')).dumpedBy, null);
});
