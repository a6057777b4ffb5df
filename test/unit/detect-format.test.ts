/**
 * detectFormat: what pg_dump wrote is told by its first bytes; anything else is "not a pg_dump output" (exit 2)
 * with what was looked for and what was found — and odd but real dumps (BOM, CRLF, comments before the header,
 * cut inside the header, a damaged gzip) are let through to the full read, which reports them as FAIL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ConfigError } from '../../src/errors.js';
import { detectFormat } from '../../src/inventory/detect-format.js';
import { scratchDir } from '../helpers/clusters.js';

const DUMP = '--\n-- PostgreSQL database dump\n--\n\n\\restrict abc\n\nSET statement_timeout = 0;\n';

/** A 512-byte ustar header naming `name`, then one block of content. */
function tarWith(name: string): Buffer {
  const h = Buffer.alloc(1024);
  h.write(name, 0, 'utf8');
  h.write('ustar\x0000', 257, 'latin1');
  return h;
}

async function refused(dir: string, name: string, bytes: Buffer | string, found: RegExp): Promise<void> {
  const p = join(dir, name);
  await writeFile(p, bytes);
  await assert.rejects(detectFormat(p), (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.exitCode, 2);
    assert.match(e.message, /is not a pg_dump output: no header — looked for pg_dump's line "-- PostgreSQL database dump" in the first 64 KiB/);
    assert.match(e.message, found);
    assert.ok(e.message.includes(p), 'names the file');
    return true;
  });
}

test('not a dump: empty, random bytes, a text file, a zip, zstd, gzip of a text, a tar of something else', async () => {
  await using d = await scratchDir();
  await refused(d.path, 'empty.sql', '', /it is empty \(0 bytes\)/);
  await refused(d.path, 'random.dump', Buffer.concat([Buffer.from([0x00, 0x9f, 0x01]), randomBytes(4096)]), /it is binary data \(4099 bytes, starting 00 9f 01/);
  await refused(d.path, 'notes.sql', 'SELECT 1;\nmy notes about the backup\n', /it is text whose first line is "SELECT 1;"/);
  await refused(d.path, 'backup.zip', Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), randomBytes(100)]), /it is a zip archive \(unzip it/);
  await refused(d.path, 'db.sql.zst', Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), randomBytes(100)]), /zstd-compressed data \(pgdrill reads gzip only: zstd -d it first\)/);
  await refused(d.path, 'text.sql.gz', gzipSync('hello\x1b[2J world\n'), /\(after gunzip\).*gunzipped, it is text whose first line is "hello\\x1b\[2J world"/);
  await refused(d.path, 'other.tar', tarWith('etc/passwd'), /a tar archive whose first member is "etc\/passwd", not toc\.dat/);
});

test('odd but real dumps are dumps: BOM and CRLF, comments first, cut inside the header, a damaged gzip, pg_dumpall', async () => {
  await using d = await scratchDir();
  const cases: [string, Buffer | string, string][] = [
    ['plain.sql', DUMP, 'plain'],
    ['bom-crlf.sql', `\ufeff${DUMP.replace(/\n/g, '\r\n')}`, 'plain'],
    ['wrapped.sql', `-- nightly backup of app, taken by backup.sh\n-- host db1\n${DUMP}`, 'plain'],
    ['cut-in-header.sql', '--\n-- Postgr', 'plain'],
    ['cluster.sql', '--\n-- PostgreSQL database cluster dump\n--\n\nSET default_transaction_read_only = off;\n', 'plain'],
    ['dump.sql.gz', gzipSync(DUMP), 'plain-gzip'],
    ['cut.sql.gz', gzipSync(DUMP + 'x'.repeat(100_000)).subarray(0, 40), 'plain-gzip'],
    ['damaged.sql.gz', Buffer.concat([gzipSync(DUMP).subarray(0, 10), randomBytes(200)]), 'plain-gzip'],
    ['custom.dump', Buffer.concat([Buffer.from('PGDMP', 'latin1'), randomBytes(100)]), 'custom'],
    ['dump.tar', tarWith('toc.dat'), 'tar'],
  ];
  for (const [name, bytes, format] of cases) {
    const p = join(d.path, name);
    await writeFile(p, bytes);
    assert.equal(await detectFormat(p), format, name);
  }
});
