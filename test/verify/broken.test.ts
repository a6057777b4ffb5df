import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { usePagila } from '../helpers/clusters.js';
import { digestOf, pgDump } from '../helpers/dumps.js';
import { ReportSchema, type Report } from '../../src/report/model.js';
import { runProcess } from '../../src/exec/run-process.js';
import { bins } from '../helpers/clusters.js';

const check = (r: Report, name: string) => r.checks.find((c) => c.name === name);

/** verify → exit 1, FAIL, nothing restored (no sandbox ever started), and the artefact's bytes unchanged. */
async function verifyFails(path: string, out: string, extra: string[] = []): Promise<Report> {
  const digest = await digestOf(path);
  const r = await runCli(['verify', path, '--out', out, '--json', ...extra]);
  assert.equal(r.code, 1, r.stderr + r.stdout.slice(0, 2000));
  const report = ReportSchema.parse(JSON.parse(r.stdout));
  assert.equal(report.status, 'FAIL');
  assert.equal(report.restore, null, 'refused before any restore: no sandbox was started');
  assert.equal(check(report, 'restore.skipped')?.status, 'skip');
  assert.equal(await digestOf(path), digest, 'the artefact is untouched');
  return report;
}

describe('verify: broken dumps fail before any restore, each with a precise message', () => {
  const fx = usePagila();
  let plain: Buffer;
  let plainPath: string;
  let customPath: string;
  let dirPath: string;
  before(async () => {
    await mkdir(join(fx.dir, 'dumps'));
    plainPath = await pgDump(fx.source, 'pagila', 'plain', join(fx.dir, 'dumps', 'pagila.sql'));
    customPath = await pgDump(fx.source, 'pagila', 'custom', join(fx.dir, 'dumps', 'pagila.dump'));
    dirPath = await pgDump(fx.source, 'pagila', 'directory', join(fx.dir, 'dumps', 'pagila.dir'));
    plain = await readFile(plainPath);
  });

  /** Offset just after the n-th data row of the COPY block of `table`. */
  function afterRows(table: string, n: number): number {
    let p = plain.indexOf(`\nCOPY ${table} `);
    assert.ok(p > 0, `COPY ${table} in the dump`);
    p = plain.indexOf('\n', p + 1) + 1;
    for (let i = 0; i < n; i++) p = plain.indexOf('\n', p) + 1;
    return p;
  }

  test('plain dump cut inside COPY at a row boundary', async () => {
    const f = join(fx.dir, 'cut-row.sql');
    await writeFile(f, plain.subarray(0, afterRows('public.rental', 1000)));
    const r = await verifyFails(f, join(fx.dir, 'out'));
    const c = check(r, 'backup.trailer')!;
    assert.equal(c.status, 'fail');
    assert.match(c.detail, /truncated .* ends inside the COPY data of public\.rental, after 1000 complete rows, at a row boundary/);
  });

  test('plain dump cut mid-row', async () => {
    const f = join(fx.dir, 'cut-midrow.sql');
    await writeFile(f, plain.subarray(0, afterRows('public.rental', 1000) + 20));
    const r = await verifyFails(f, join(fx.dir, 'out'));
    assert.match(check(r, 'backup.trailer')!.detail, /ends inside the COPY data of public\.rental, after 1000 complete rows and part of one more: cut mid-row/);
  });

  test('plain dump cut before the post-data section', async () => {
    const f = join(fx.dir, 'cut-postdata.sql');
    const firstPostData = plain.indexOf('; Type: CONSTRAINT;');
    await writeFile(f, plain.subarray(0, plain.lastIndexOf('\n--\n', firstPostData) + 1));
    const r = await verifyFails(f, join(fx.dir, 'out'));
    assert.match(check(r, 'backup.trailer')!.detail, /in the data section, after SEQUENCE SET .*: all of the post-data section \(constraints, indexes, triggers, grants\) is missing/);
  });

  test('.sql.gz cut short: the gzip stream does not read to its end', async () => {
    const gz = await pgDump(fx.source, 'pagila', 'plain-gzip', join(fx.dir, 'whole.sql.gz'));
    const bytes = await readFile(gz);
    const f = join(fx.dir, 'cut.sql.gz');
    await writeFile(f, bytes.subarray(0, Math.floor(bytes.length * 0.7)));
    const r = await verifyFails(f, join(fx.dir, 'out'));
    assert.equal(r.backup.format, 'plain-gzip');
    assert.match(check(r, 'backup.full_read')!.detail, /gzip stream could not be read to its end: unexpected end of file/);
    assert.equal(check(r, 'backup.trailer')?.status, 'fail');
  });

  test('custom archive truncated: pg_restore --list passes, the full read fails', async () => {
    const bytes = await readFile(customPath);
    const f = join(fx.dir, 'truncated.dump');
    await writeFile(f, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    // The hazard this guards against: the table of contents alone still reads.
    const b = await bins();
    const list = await runProcess({ bin: b.path('pg_restore'), args: ['--list', f], stdout: 'capture', allowFailure: true });
    assert.equal(list.exitCode, 0, 'pg_restore --list accepts the truncated archive');
    const r = await verifyFails(f, join(fx.dir, 'out'));
    const c = check(r, 'backup.full_read')!;
    assert.equal(c.status, 'fail');
    assert.match(c.detail, /pg_restore could not read the archive to its end .*end of file.* the archive is truncated or damaged/);
  });

  test('one byte flipped, SHA256SUMS beside the dump', async () => {
    const d = join(fx.dir, 'flip');
    await mkdir(d);
    const f = join(d, 'pagila.sql');
    const bytes = Buffer.from(plain);
    await writeFile(join(d, 'SHA256SUMS'), `${createHash('sha256').update(bytes).digest('hex')}  pagila.sql\n`);
    // In the middle of COPY data: the dump is still a complete, valid-looking script.
    const at = afterRows('public.rental', 5000) + 3;
    bytes[at] = bytes[at]! ^ 0x01;
    await writeFile(f, bytes);
    const r = await verifyFails(f, join(fx.dir, 'out'));
    const c = check(r, 'backup.sha256sums')!;
    assert.equal(c.status, 'fail');
    assert.match(c.detail, /1 of 1 file\(s\) do not match .*SHA256SUMS: pagila\.sql has sha256 [0-9a-f]{64}, SHA256SUMS says [0-9a-f]{64}/);
    assert.equal(check(r, 'backup.trailer')?.status, 'pass', 'only the checksum can tell');
    assert.equal(r.backup.self_check, false);
  });

  test('--sums that does not list the artefact fails; one kept elsewhere naming it by file name passes', async () => {
    const sums = join(fx.dir, 'other-SHA256SUMS');
    await writeFile(sums, `${'0'.repeat(64)}  something-else.sql\n`);
    const r = await verifyFails(customPath, join(fx.dir, 'out-sums'), ['--sums', sums]);
    assert.match(check(r, 'backup.sha256sums')!.detail, /does not list .*pagila\.dump/);

    // Kept elsewhere, naming the artefact by its file name (as sha256sum run beside it writes it).
    await writeFile(sums, `${await digestOf(customPath)}  pagila.dump\n`);
    const ok = await runCli(['verify', customPath, '--sums', sums, '--out', join(fx.dir, 'out-sums'), '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    const report = ReportSchema.parse(JSON.parse(ok.stdout));
    assert.equal(check(report, 'backup.sha256sums')?.status, 'pass');
    assert.equal(report.backup.self_check, true);
  });

  test('directory archive with a missing data file: named, with its table', async () => {
    const d = join(fx.dir, 'missing.dir');
    await cp(dirPath, d, { recursive: true });
    const b = await bins();
    const list = await runProcess({ bin: b.path('pg_restore'), args: ['--list', d], stdout: 'capture' });
    const id = /^(\d+); \d+ \d+ TABLE DATA public rental /m.exec(list.stdout)![1];
    await rm(join(d, `${id}.dat.gz`));
    const r = await verifyFails(d, join(fx.dir, 'out'));
    const c = check(r, 'backup.directory_files')!;
    assert.equal(c.status, 'fail');
    assert.match(c.detail, new RegExp(`1 data file\\(s\\) missing from the directory archive .*: ${id}\\.dat\\[\\.gz\\] \\(data of public\\.rental\\)`));
    assert.equal(check(r, 'backup.full_read')?.status, 'fail');
  });

  test('a path that does not exist: usage error (exit 2), nothing created', async () => {
    const out = join(fx.dir, 'out-none');
    const r = await runCli(['verify', join(fx.dir, 'nope.sql'), '--out', out]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /no such file or directory/);
  });
});
