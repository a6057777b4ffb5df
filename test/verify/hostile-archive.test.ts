import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, cp, mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { CLI, runCli, type CliRun } from '../helpers/cli.js';
import { spawnOutput } from '../helpers/spawn-output.js';
import { psql, scratchDir, startSource } from '../helpers/clusters.js';
import { pgDump } from '../helpers/dumps.js';
import { runProcess } from '../../src/exec/run-process.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { ReportSchema, type Report } from '../../src/report/model.js';
import { archiveFilesCheck } from '../../src/verify/archive-files.js';

/**
 * Hostile archives given to `verify` (issue 20 §2): pg_restore runs as root and opens every data file of a
 * directory archive by the name toc.dat records, following links. A data file that is a symlink to a root-only
 * file, a toc.dat naming `../x` (with a decoy `NNNN.dat` keeping the per-entry check green), a FIFO data file, a
 * FIFO/device/directory given where a file is expected: each is refused before any tool reads the archive, and the
 * canary's content is in no output. Controls: ordinary directory, tar and custom archives and a plain dump PASS.
 */

const check = (r: Report, name: string) => r.checks.find((c) => c.name === name);

/** Run the CLI, killed if it has not exited after `ms` (a FIFO used to block verify forever). */
async function runCliBounded(args: string[], ms: number): Promise<CliRun & { killed: boolean; ms: number }> {
  const started = Date.now();
  let killed = false;
  let timer: NodeJS.Timeout | undefined;
  const r = await spawnOutput(process.execPath, [CLI, ...args], {
    onSpawn: (child) => (timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, ms)),
  });
  clearTimeout(timer);
  return { ...r, killed, ms: Date.now() - started };
}

/** Every file of a run directory (reports, run.log) as text. */
async function runDirText(dir: string): Promise<string> {
  let out = '';
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out += await readFile(join(e.parentPath ?? e.path, e.name), 'utf8').catch(() => '');
  }
  return out;
}

/** Replace the length-prefixed string `from` in toc.dat (4-byte ints, as pg_dump writes on this machine) by `to`. */
function renameInToc(toc: Buffer, from: string, to: string): Buffer {
  const enc = (s: string): Buffer => {
    const len = Buffer.alloc(5);
    len.writeUInt32LE(Buffer.byteLength(s), 1);
    return Buffer.concat([len, Buffer.from(s)]);
  };
  const at = toc.indexOf(enc(from));
  assert.ok(at > 0, `${from} is recorded in toc.dat`);
  return Buffer.concat([toc.subarray(0, at), enc(to), toc.subarray(at + 5 + Buffer.byteLength(from))]);
}

describe('verify: hostile archives are refused before any tool reads them', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  const dumps = {} as Record<'plain' | 'custom' | 'directory' | 'tar', string>;
  let canaryDir: string;
  let canary: string;
  let secret: string;
  let itemFile: string; // the data file of public.item in the directory archive, e.g. 3345.dat
  before(async () => {
    dir = await scratchDir();
    source = await startSource({ parentDir: dir.path });
    await psql(source, 'postgres', { sql: 'CREATE DATABASE shop' });
    await psql(source, 'shop', { sql: "CREATE TABLE item (id int PRIMARY KEY, name text); INSERT INTO item SELECT g, 'item ' || g FROM generate_series(1, 50) g; SELECT lo_from_bytea(0, 'large object'::bytea);" });
    await mkdir(join(dir.path, 'dumps'));
    for (const [f, name] of [['plain', 'shop.sql'], ['custom', 'shop.dump'], ['directory', 'shop.dir'], ['tar', 'shop.tar']] as const) {
      dumps[f] = await pgDump(source, 'shop', f, join(dir.path, 'dumps', name));
    }
    await source.stop();
    // A root-only canary: a line that would even parse as COPY data of item.
    secret = `CANARY-${randomBytes(8).toString('hex')}`;
    canaryDir = join(dir.path, 'root-only');
    await mkdir(canaryDir, { mode: 0o700 });
    canary = join(canaryDir, 'secret');
    await writeFile(canary, `999\t${secret}\n`, { mode: 0o600 });
    const toc = await readFile(join(dumps.directory, 'toc.dat'));
    itemFile = (await readdir(dumps.directory)).filter((n) => /^\d+\.dat(\.gz)?$/.test(n)).map((n) => n.replace(/\.gz$/, '')).find((n) => toc.includes(Buffer.from(n)))!;
    assert.ok(itemFile, 'the directory archive has a data file');
  });
  after(async () => {
    await source?.stop().catch(() => {});
    await dir?.[Symbol.asyncDispose]();
  });

  /** A copy of the directory archive to tamper with. */
  async function copyOf(name: string): Promise<string> {
    const p = join(dir.path, name);
    await cp(dumps.directory, p, { recursive: true });
    return p;
  }

  /** Where the item data file of a copy is (uncompressed or .gz, as pg_dump wrote it). */
  async function dataFileOf(copy: string): Promise<string> {
    const names = await readdir(copy);
    return join(copy, names.includes(itemFile) ? itemFile : `${itemFile}.gz`);
  }

  /** verify must FAIL (exit 1) on backup.archive_files, without pg_restore having read anything and without the canary anywhere. */
  async function assertRefused(archive: string, out: string, problem: RegExp): Promise<Report> {
    const r = await runCliBounded(['verify', archive, '--out', out, '--json'], 120_000);
    assert.equal(r.killed, false, 'verify ended on its own');
    assert.equal(r.code, 1, r.stderr + r.stdout.slice(0, 3000));
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    assert.equal(report.status, 'FAIL');
    const c = check(report, 'backup.archive_files')!;
    assert.equal(c?.status, 'fail', JSON.stringify(report.checks.map((x) => [x.name, x.status])));
    assert.match(c.detail, problem);
    assert.equal(check(report, 'backup.full_read'), undefined, 'pg_restore never read the archive');
    assert.equal(report.restore?.system_identifier ?? null, null, 'no sandbox was started');
    const everything = r.stdout + r.stderr + (await runDirText(report.run.dir));
    assert.ok(!everything.includes(secret), 'the canary is in no output, report or log');
    return report;
  }

  test('a data file that is a symlink to a root-only file: refused, the canary never opened (strace) nor in any output', async () => {
    const archive = await copyOf('symlinked.dir');
    const data = await dataFileOf(archive);
    await rm(data);
    await symlink(canary, data);
    const out = join(dir.path, 'out-symlink');
    // strace proves that nothing opened the link (or the canary): lstat and getdents only.
    const trace = join(dir.path, 'symlink.strace');
    const r = await runProcess({
      bin: 'strace', args: ['-f', '-qq', '-e', 'trace=open,openat,openat2', '-o', trace, process.execPath, CLI, 'verify', archive, '--out', out, '--json'],
      stdout: 'capture', allowFailure: true,
    });
    assert.equal(r.exitCode, 1, r.stderrTail);
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    assert.match(check(report, 'backup.archive_files')!.detail, new RegExp(`${data.split('/').pop()!.replace(/\./g, '\\.')} is a symbolic link`));
    const opens = (await readFile(trace, 'utf8')).split('\n').filter((l) => l.includes(data.split('/').pop()!) || l.includes('root-only'));
    assert.deepEqual(opens, [], 'no process opened the link or the canary');
    assert.ok(!(r.stdout + r.stderrTail + (await runDirText(report.run.dir))).includes(secret));
    // And through the plain CLI path too (no strace): same verdict.
    await assertRefused(archive, join(dir.path, 'out-symlink-2'), /is a symbolic link/);
  });

  test('a toc.dat data file name climbing out with ../ and a decoy data file: refused, the canary in no output', async () => {
    const archive = await copyOf('climbing.dir');
    const tocPath = join(archive, 'toc.dat');
    // ../root-only/secret from inside the archive is the canary; the real data file stays as a decoy.
    await writeFile(tocPath, renameInToc(await readFile(tocPath), itemFile, '../root-only/secret'));
    const out = join(dir.path, 'out-climbing');
    const trace = join(dir.path, 'climbing.strace');
    const r = await runProcess({
      bin: 'strace', args: ['-f', '-qq', '-e', 'trace=open,openat,openat2', '-o', trace, process.execPath, CLI, 'verify', archive, '--out', out, '--json'],
      stdout: 'capture', allowFailure: true,
    });
    assert.equal(r.exitCode, 1, r.stderrTail);
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    assert.match(check(report, 'backup.archive_files')!.detail, /names the data file "\.\.\/root-only\/secret", which is not a plain file name/);
    const opens = (await readFile(trace, 'utf8')).split('\n').filter((l) => l.includes('root-only'));
    assert.deepEqual(opens, [], 'no process opened the canary');
    await assertRefused(archive, join(dir.path, 'out-climbing-2'), /not a plain file name inside the archive/);
  });

  test('a FIFO as a data file: refused at once (it used to block pg_restore forever)', async () => {
    const archive = await copyOf('fifo-data.dir');
    const data = await dataFileOf(archive);
    await rm(data);
    await runProcess({ bin: 'mkfifo', args: [data] });
    await assertRefused(archive, join(dir.path, 'out-fifo-data'), /is a FIFO/);
  });

  test('unit: absolute and nested toc names, a directory where a data file is expected, a socket, a climbing blobs.toc line', async () => {
    const abs = await copyOf('absolute.dir');
    await writeFile(join(abs, 'toc.dat'), renameInToc(await readFile(join(abs, 'toc.dat')), itemFile, '/etc/passwd'));
    assert.match((await archiveFilesCheck(abs, 'directory')).detail, /"\/etc\/passwd", which is not a plain file name/);

    const nested = await copyOf('nested.dir');
    await writeFile(join(nested, 'toc.dat'), renameInToc(await readFile(join(nested, 'toc.dat')), itemFile, 'a/b'));
    assert.match((await archiveFilesCheck(nested, 'directory')).detail, /"a\/b", which is not a plain file name/);

    const subdir = await copyOf('subdir.dir');
    const data = await dataFileOf(subdir);
    await rm(data);
    await mkdir(data);
    assert.match((await archiveFilesCheck(subdir, 'directory')).detail, /is a directory/);

    const sock = await copyOf('socket.dir');
    const server = createServer();
    await new Promise<void>((res) => server.listen(join(sock, 'extra.sock'), res));
    try {
      assert.match((await archiveFilesCheck(sock, 'directory')).detail, /extra\.sock is a socket/);
    } finally {
      server.close();
    }

    const blobs = await copyOf('blobs.dir');
    const blobsToc = join(blobs, 'blobs.toc');
    const oid = /^(\d+) /.exec(await readFile(blobsToc, 'utf8'))![1];
    await writeFile(blobsToc, `${oid} ../root-only/secret\n`);
    const c = await archiveFilesCheck(blobs, 'directory');
    assert.equal(c.status, 'fail');
    assert.match(c.detail, /blobs\.toc line 1 names the large-object file "\.\.\/root-only\/secret"/);

    // Legit but odd: an unrelated subdirectory (lost+found on a dedicated file system) and extra regular files.
    const odd = await copyOf('odd.dir');
    await mkdir(join(odd, 'lost+found'), { mode: 0o700 });
    await writeFile(join(odd, 'README'), 'nightly dump\n');
    const ok = await archiveFilesCheck(odd, 'directory');
    assert.equal(ok.status, 'pass', ok.detail);
    assert.match(ok.detail, /large-object file name/);
  });

  test('unit: tar members that are links, devices, absolute or climbing names are refused', async () => {
    const work = join(dir.path, 'tars');
    await mkdir(work);
    await writeFile(join(work, 'toc.dat'), 'x');
    await symlink(canary, join(work, 'link.dat'));
    const linkTar = join(dir.path, 'link.tar');
    await runProcess({ bin: 'tar', args: ['-cf', linkTar, '-C', work, 'toc.dat', 'link.dat'] });
    assert.match((await archiveFilesCheck(linkTar, 'tar')).detail, /tar member "link\.dat" is a symbolic link/);
    const climbTar = join(dir.path, 'climb.tar');
    await runProcess({ bin: 'tar', args: ['-cPf', climbTar, '-C', work, 'toc.dat', '../root-only/secret'] });
    assert.match((await archiveFilesCheck(climbTar, 'tar')).detail, /tar member "\.\.\/root-only\/secret" is not a plain file name/);
    const absTar = join(dir.path, 'abs.tar');
    await runProcess({ bin: 'tar', args: ['-cPf', absTar, '/dev/null', canary] });
    const d = (await archiveFilesCheck(absTar, 'tar')).detail;
    assert.match(d, /tar member "\/dev\/null" is a character device/);
    assert.match(d, /tar member "\/.*\/secret" is not a plain file name/);
    assert.equal((await archiveFilesCheck(dumps.tar, 'tar')).status, 'pass', 'control: pg_dump\'s own tar');
  });

  test('a FIFO, device, /dev/stdin or directory where a file is expected, an oversized or alias-bomb config: exit 2 at once', async () => {
    const fifo = join(dir.path, 'dump.fifo');
    await runProcess({ bin: 'mkfifo', args: [fifo] });
    const emptyDir = join(dir.path, 'empty');
    await mkdir(emptyDir);
    const out = join(dir.path, 'out-usage');
    const huge = join(dir.path, 'huge.yaml');
    await writeFile(huge, 'metadata:\n' + Array.from({ length: 60_000 }, (_, i) => `  key_${i}: value_${i}`).join('\n') + '\n');
    const bomb = join(dir.path, 'bomb.yaml');
    const letters = 'abcdefghij';
    await writeFile(bomb, [`a: &a [${Array(9).fill('"lol"').join(',')}]`, ...[...letters.slice(1)].map((l, i) => `${l}: &${l} [${Array(9).fill(`*${letters[i]}`).join(',')}]`)].join('\n') + '\n');
    const cases: [string, string[], RegExp][] = [
      ['config over 1 MiB', ['verify', dumps.custom, '--config', huge], /config file .*huge\.yaml is larger than 1 MiB/],
      ['config alias bomb', ['verify', dumps.custom, '--config', bomb], /config file .*bomb\.yaml expands YAML aliases more than 100 times/],
      ['FIFO artefact', ['verify', fifo], /the artefact .*dump\.fifo is a FIFO/],
      ['/dev/stdin artefact', ['verify', '/dev/stdin'], /the artefact \/dev\/stdin/],
      ['device artefact', ['verify', '/dev/zero'], /the artefact \/dev\/zero is a character device/],
      ['FIFO --sums', ['verify', dumps.custom, '--sums', fifo], /--sums .*dump\.fifo is a FIFO/],
      ['directory --sums', ['verify', dumps.custom, '--sums', emptyDir], /--sums .*empty is a directory/],
      ['FIFO --globals', ['verify', dumps.custom, '--globals', fifo], /--globals .*dump\.fifo is a FIFO/],
      ['device --globals', ['verify', dumps.custom, '--globals', '/dev/zero'], /--globals \/dev\/zero is a character device/],
      ['FIFO --config', ['verify', dumps.custom, '--config', fifo], /config file .*dump\.fifo is a FIFO/],
      ['directory --config', ['verify', dumps.custom, '--config', emptyDir], /config file .*empty is a directory/],
    ];
    for (const [what, args, message] of cases) {
      const r = await runCliBounded([...args, '--out', out], 10_000);
      assert.equal(r.killed, false, `${what}: refused before the 10 s kill timer (took ${r.ms} ms)`);
      assert.equal(r.code, 2, `${what}: ${r.stderr}`);
      assert.match(r.stderr, message, what);
      assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, `${what}: no stack trace`);
    }
  });

  test('a symlink placed by another user leading to a file it does not own: exit 2; the owner\'s own link is followed', async () => {
    const shared = join(dir.path, 'shared');
    await mkdir(shared);
    await chmod(shared, 0o1777);
    const link = join(shared, 'latest.sql');
    await symlink(canary, link);
    await runProcess({ bin: 'chown', args: ['-h', 'nobody', link] });
    const r = await runCliBounded(['verify', link, '--out', join(dir.path, 'out-link')], 10_000);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /symbolic link .*latest\.sql is owned by uid \d+, but the file it leads to .* is owned by uid 0/);
    assert.ok(!(r.stdout + r.stderr).includes(secret));
  });

  test('inspect refuses the same: a symlinked data file (exit 1, before pg_restore) and a FIFO dump (exit 2)', async () => {
    const archive = await copyOf('inspect-symlinked.dir');
    const data = await dataFileOf(archive);
    await rm(data);
    await symlink(canary, data);
    const r = await runCliBounded(['inspect', archive, '--json'], 60_000);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /is a symbolic link/);
    assert.ok(!(r.stdout + r.stderr).includes(secret));
    const fifo = join(dir.path, 'inspect.fifo');
    await runProcess({ bin: 'mkfifo', args: [fifo] });
    const f = await runCliBounded(['inspect', fifo], 10_000);
    assert.equal(f.killed, false, 'refused before the 10 s kill timer');
    assert.equal(f.code, 2, f.stderr);
    assert.match(f.stderr, /is a FIFO/);
    const ok = await runCliBounded(['inspect', dumps.directory, '--json'], 60_000);
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok((JSON.parse(ok.stdout) as { copyBlocks: unknown[] }).copyBlocks.length > 0, 'control: an ordinary archive is inspected');
  });

  for (const format of ['directory', 'tar', 'plain'] as const) {
    test(`control: an ordinary ${format} dump still verifies PASS`, async () => {
      const r = await runCli(['verify', dumps[format], '--out', join(dir.path, `out-ok-${format}`), '--json']);
      assert.equal(r.code, 0, r.stderr + r.stdout.slice(0, 3000));
      const report = ReportSchema.parse(JSON.parse(r.stdout));
      assert.equal(report.status, 'PASS');
      if (format !== 'plain') assert.equal(check(report, 'backup.archive_files')?.status, 'pass');
      assert.equal(report.tables.find((t) => t.name === 'item')?.restored_rows, 50);
    });
  }

  test('control: a custom archive given through a root-owned "latest" symlink verifies PASS', async () => {
    const link = join(dir.path, 'dumps', 'latest.dump');
    await symlink(dumps.custom, link);
    const r = await runCli(['verify', link, '--out', join(dir.path, 'out-ok-custom'), '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout.slice(0, 3000));
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    assert.equal(report.status, 'PASS');
    assert.equal(report.backup.path, dumps.custom, 'the report names the file the link leads to');
  });
});
