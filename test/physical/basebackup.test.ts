/**
 * Physical drills of a pg_basebackup (plain and tar) with its WAL archive, against a real PostgreSQL source with
 * data checksums, archive_mode on and pgbench traffic (fixture.ts): PASS to latest, to a time between two known
 * commits, to an LSN, to a named restore point — each proven by the rows of `marks` present in the recovered copy;
 * FAIL for a file deleted from the backup (backup.pg_verifybackup), a byte flipped in a relation file
 * (fidelity.pg_checksums), a target before the backup's end and a target beyond the archive
 * (restore.recovery_target). One source, one pair of backups, shared by every case.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, open, readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Report } from '../../src/report/model.js';
import { runCli } from '../helpers/cli.js';
import { runProcess } from '../../src/exec/run-process.js';
import { scratchDir, urlOf } from '../helpers/clusters.js';
import { buildPhysicalFixture, type PhysicalFixture } from './fixture.js';

describe('verify of a pg_basebackup with its WAL archive', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let fx: PhysicalFixture;
  before(async () => {
    scratch = await scratchDir('pgdrill-phys-');
    fx = await buildPhysicalFixture(scratch.path);
  });
  after(async () => {
    await fx?.[Symbol.asyncDispose]();
    await scratch?.[Symbol.asyncDispose]();
  });

  let n = 0;
  async function verify(backup: string, ...args: string[]): Promise<{ code: number | null; report: Report; stderr: string }> {
    const r = await runCli(['verify', backup, '--out', join(scratch.path, `out-${++n}`), '--json', ...args]);
    assert.ok(r.stdout.trim().startsWith('{'), `no JSON report (exit ${r.code}): ${r.stderr.slice(-2000)}`);
    return { code: r.code, report: JSON.parse(r.stdout) as Report, stderr: r.stderr };
  }
  const check = (r: Report, name: string) => r.checks.find((c) => c.name === name);
  const marks = (r: Report) => r.tables.find((t) => t.schema === 'bench/public' && t.name === 'marks')?.restored_rows;
  const failures = (r: Report) => r.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`).join('\n');

  /** Every file of a directory and its sha256, to prove a drill never wrote to the archive or the backup. */
  async function digest(dir: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const name of (await readdir(dir, { recursive: true })).sort()) {
      const path = join(dir, name);
      if ((await stat(path)).isFile()) out[name] = createHash('sha256').update(await readFile(path)).digest('hex');
    }
    return out;
  }

  it('latest with --source: every archived segment replayed, PASS, isolation proven, checksums and amcheck clean, counts equal the source\'s now, torn down; archive and backup unchanged', async () => {
    const before = { wal: await digest(fx.walDir), backup: await digest(fx.plain) };
    const { code, report } = await verify(fx.plain, '--wal', fx.walDir, '--source', urlOf(fx.source, 'bench'));
    assert.deepEqual({ wal: await digest(fx.walDir), backup: await digest(fx.plain) }, before, 'the drill wrote to the WAL archive or the backup');
    assert.equal(code, 0, failures(report));
    assert.equal(report.backup.format, 'basebackup-plain');
    assert.equal(marks(report), fx.lastMark);
    for (const name of ['backup.pg_verifybackup', 'backup.wal_continuity', 'restore.physical_isolation', 'restore.recovery_target', 'fidelity.databases', 'fidelity.amcheck', 'fidelity.pg_checksums', 'teardown.confirmed']) {
      assert.equal(check(report, name)?.status, 'pass', `${name}: ${check(report, name)?.detail}`);
    }
    const p = report.physical!;
    assert.equal(p.isolation.settings.archive_mode, 'off');
    assert.equal(p.isolation.settings.listen_addresses, '');
    assert.equal(p.isolation.tcp_sockets, 0);
    assert.equal(p.reached.new_timeline, 2);
    assert.ok((p.wal.replayed_bytes ?? 0) > 0 && (p.timings.rto_ms ?? 0) > 0);
    assert.equal(report.teardown.confirmed, true);
    // --source: the copy at latest holds what the idle source holds now; the source was only read.
    assert.equal(check(report, 'fidelity.source_rows_now')?.status, 'pass', check(report, 'fidelity.source_rows_now')?.detail);
    assert.equal(report.production_untouched, true);
    assert.match(report.notes.find((x) => x.id === 'physical-source-identity')?.text ?? '', /is the recovered copy's/);
  });

  it('a base.tar.zst, its decompressor run as the sandbox user (test/safety/sandbox-files): recovered, PASS', async () => {
    const dir = join(scratch.path, 'tar-zst');
    await cp(fx.tar, dir, { recursive: true });
    await runProcess({ bin: 'zstd', args: ['-q', '--rm', join(dir, 'base.tar')] });
    const { code, report } = await verify(dir, '--wal', fx.walDir);
    assert.equal(code, 0, failures(report));
    assert.equal(report.backup.format, 'basebackup-tar');
    assert.equal(marks(report), fx.lastMark);
  });

  it('a time between two commits: the earlier commit present, the later absent (tar format)', async () => {
    const { code, report } = await verify(fx.tar, '--wal', fx.walDir, '--target', fx.between);
    assert.equal(code, 0, failures(report));
    assert.equal(report.backup.format, 'basebackup-tar');
    assert.equal(marks(report), 1);
    assert.match(report.physical!.reached.stop_line ?? '', /^recovery stopping before commit/);
  });

  it('an LSN and a named restore point: the rows up to each, and no more', async () => {
    const lsn = await verify(fx.plain, '--wal', fx.walDir, '--target', `lsn:${fx.lsnAfter2}`);
    assert.equal(lsn.code, 0, failures(lsn.report));
    assert.equal(marks(lsn.report), 2);
    const named = await verify(fx.plain, '--wal', fx.walDir, '--target', `name:${fx.restorePoint}`);
    assert.equal(named.code, 0, failures(named.report));
    assert.equal(marks(named.report), 3);
    assert.match(check(named.report, 'restore.recovery_target')!.detail, /restore point "before_mark_4"/);
  });

  it('a target before the backup\'s end and one beyond the archive FAIL, naming both points', async () => {
    const early = await verify(fx.plain, '--wal', fx.walDir, '--target', 'lsn:0/2000000');
    assert.equal(early.code, 1);
    const c = check(early.report, 'restore.recovery_target')!;
    assert.equal(c.status, 'fail');
    assert.match(c.detail, /before the backup's consistency point 0\/[0-9A-F]+/);
    assert.match(c.detail, /lsn:0\/2000000/);
    const beyond = await verify(fx.plain, '--wal', fx.walDir, '--target', '2099-01-01 00:00:00+00');
    assert.equal(beyond.code, 1);
    const b = check(beyond.report, 'restore.recovery_target')!;
    assert.equal(b.status, 'fail');
    assert.match(b.detail, /recovery ended before the target time 2099-01-01 00:00:00\+00 was reached: the archive's WAL ran out at 0\/[0-9A-F]+/);
    assert.equal(check(beyond.report, 'teardown.confirmed')?.status, 'pass');
  });

  it('a file deleted from the backup fails pg_verifybackup, naming it; nothing is restored', async () => {
    const copy = join(scratch.path, 'deleted');
    await cp(fx.plain, copy, { recursive: true });
    await rm(join(copy, fx.steadyFile));
    const { code, report } = await verify(copy, '--wal', fx.walDir);
    assert.equal(code, 1);
    const c = check(report, 'backup.pg_verifybackup')!;
    assert.equal(c.status, 'fail');
    assert.ok(c.detail.includes(fx.steadyFile), c.detail);
    assert.equal(check(report, 'restore.recovery_target'), undefined);
  });

  it('backup_label deleted fails backup.physical_files; a WAL segment deleted fails backup.wal_continuity naming it — before any restore', async () => {
    const copy = join(scratch.path, 'nolabel');
    await cp(fx.plain, copy, { recursive: true });
    await rm(join(copy, 'backup_label'));
    const nolabel = await verify(copy, '--wal', fx.walDir);
    assert.equal(nolabel.code, 1);
    assert.match(check(nolabel.report, 'backup.physical_files')!.detail, /backup_label is missing/);
    const wal = join(scratch.path, 'wal-gap');
    await cp(fx.walDir, wal, { recursive: true });
    await rm(join(wal, '000000010000000000000004'));
    const gap = await verify(fx.plain, '--wal', wal);
    assert.equal(gap.code, 1);
    const c = check(gap.report, 'backup.wal_continuity')!;
    assert.equal(c.status, 'fail');
    assert.match(c.detail, /000000010000000000000004/);
    assert.equal(check(gap.report, 'restore.recovery_target'), undefined);
    assert.equal(gap.report.stages.find((s) => s.name === 'restore')?.status, 'skip');
  });

  it('a byte flipped in a relation file (no manifest to catch it): pg_checksums FAILs naming the file', async () => {
    const copy = join(scratch.path, 'flipped');
    await cp(fx.plain, copy, { recursive: true });
    await rm(join(copy, 'backup_manifest'));
    const fh = await open(join(copy, fx.steadyFile), 'r+');
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, 8000);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, 8000);
    await fh.close();
    const { code, report } = await verify(copy, '--wal', fx.walDir);
    assert.equal(code, 1);
    assert.equal(check(report, 'backup.pg_verifybackup')?.status, 'skip');
    const c = check(report, 'fidelity.pg_checksums')!;
    assert.equal(c.status, 'fail', c.detail);
    assert.ok(c.detail.includes(fx.steadyFile.split('/').pop()!), c.detail);
    // Counting the table reads the damaged page: fidelity.databases names the error too.
    assert.equal(check(report, 'fidelity.databases')?.status, 'fail');
    assert.deepEqual(await readdir(join(scratch.path, 'flipped')).then((f) => f.includes('backup_label')), true);
  });
});
