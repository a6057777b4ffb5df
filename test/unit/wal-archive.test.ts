/**
 * WAL archive continuity over synthetic archive directories: segments are sparse files of 1 MiB (a segment size
 * initdb accepts) whose first 40 bytes are a long page header, so every case costs a few kilobytes of disk.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, readdir, rm, stat, symlink, truncate, unlink, writeFile, chmod, chown, link, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { checkWalContinuity } from '../../src/physical/wal-archive.js';
import { parseTimelineHistory } from '../../src/physical/wal-history.js';
import { formatLsn, parseLsn, parseWalFileName, segmentFileName } from '../../src/physical/wal-names.js';
import { confQuote, walRestoreCommand } from '../../src/physical/restore-command.js';
import { copyWalFile, MAX_HISTORY_BYTES, stageWal } from '../../src/physical/wal-stage.js';
import { copyPlainBackup, scanBackupTree } from '../../src/physical/backup-files.js';
import { openTarStream } from '../../src/physical/tar-stream.js';

const MIB = 1 << 20;
const SYSID = 7300000000000000001n;

function header(segno: number, opts: { size?: number; sysid?: bigint; addr?: bigint } = {}): Buffer {
  const b = Buffer.alloc(40);
  b.writeUInt16LE(0xd110, 0);
  b.writeUInt16LE(0x0002 | 0x0004, 2); // XLP_LONG_HEADER | XLP_BKP_REMOVABLE
  b.writeUInt32LE(1, 4);
  b.writeBigUInt64LE(opts.addr ?? BigInt(segno) * BigInt(opts.size ?? MIB), 8);
  b.writeBigUInt64LE(opts.sysid ?? SYSID, 24);
  b.writeUInt32LE(opts.size ?? MIB, 32);
  b.writeUInt32LE(8192, 36);
  return b;
}

let root: string;
let n = 0;
async function archive(): Promise<string> {
  const d = join(root, `a${n++}`);
  await mkdir(d);
  return d;
}
async function seg(dir: string, tli: number, segno: number, opts: { size?: number; sysid?: bigint; addr?: bigint; fileSize?: number } = {}): Promise<string> {
  const name = segmentFileName(tli, BigInt(segno), opts.size ?? MIB);
  await writeFile(join(dir, name), header(segno, opts));
  await truncate(join(dir, name), opts.fileSize ?? opts.size ?? MIB);
  return name;
}
async function segs(dir: string, tli: number, from: number, to: number): Promise<void> {
  for (let s = from; s <= to; s++) await seg(dir, tli, s);
}
/** Segment n starts at n MiB: an LSN inside segment n. */
const lsnIn = (segno: number, off = 0x28) => formatLsn(BigInt(segno) * BigInt(MIB) + BigInt(off));

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'pgdrill-wal-unit-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('WAL names and history files', () => {
  it('parses the names PostgreSQL writes and nothing else', () => {
    assert.deepEqual(parseWalFileName('000000010000000000000005'), { kind: 'segment', timeline: 1, log: 0, seg: 5, compression: null });
    assert.equal(parseWalFileName('00000002000000000000000A.partial.gz')?.kind, 'partial');
    assert.equal(parseWalFileName('00000002.history')?.kind, 'history');
    assert.equal(parseWalFileName('000000010000000000000002.00000028.backup')?.kind, 'backup');
    for (const bad of ['00000001000000000000000a', '000000000000000000000001', '0000000100000000000000050', '../000000010000000000000005', '00000002.history.tmp', 'archive_status']) {
      assert.equal(parseWalFileName(bad), null, bad);
    }
    assert.equal(formatLsn(parseLsn('16/B374D848')), '16/B374D848');
    assert.equal(segmentFileName(3, 0x1ffn, 16 * MIB), '0000000300000001000000FF');
  });

  it('parses a history file as timeline.c does, and refuses a malformed one', () => {
    const h = parseTimelineHistory('1\t0/5000100\tno recovery target specified\n\n2\t0/9000000\tat restore point "x"\n');
    assert.ok('switches' in h);
    assert.deepEqual(h.switches, [{ timeline: 1, switchpoint: 0x5000100n }, { timeline: 2, switchpoint: 0x9000000n }]);
    assert.ok('problem' in parseTimelineHistory('2\t0/5000000\tx\n1\t0/6000000\ty\n'));
    assert.ok('problem' in parseTimelineHistory('one\t0/5000000\n'));
  });
});

describe('checkWalContinuity on one timeline', () => {
  it('PASS: every segment from the start to the last one, size inferred from the first header', async () => {
    const d = await archive();
    await segs(d, 1, 1, 6);
    await writeFile(join(d, '000000010000000000000002.00000028.backup'), 'START WAL LOCATION: 0/200028\n');
    await writeFile(join(d, 'README'), 'not WAL');
    const r = await checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(2) } });
    assert.equal(r.ok, true, r.detail);
    assert.equal(r.segmentSize, MIB);
    assert.equal(r.segments, 5);
    assert.equal(r.bytes, 5 * MIB);
    assert.equal(r.lastSegment, segmentFileName(1, 6n, MIB));
    assert.deepEqual(r.timelinePath, [1]);
    assert.equal(r.systemIdentifier, SYSID.toString());
  });

  it('FAIL: a deleted segment is named, and recovery would stop after the one before', async () => {
    const d = await archive();
    await segs(d, 1, 2, 8);
    await unlink(join(d, segmentFileName(1, 5n, MIB)));
    const r = await checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(2) } });
    assert.equal(r.ok, false);
    assert.equal(r.firstMissing, segmentFileName(1, 5n, MIB));
    assert.equal(r.lastSegment, segmentFileName(1, 4n, MIB));
    assert.match(r.detail, /000000010000000000000005 is missing/);
  });

  it('FAIL: the start segment itself missing; a target beyond the archive names the next segment', async () => {
    const d = await archive();
    await segs(d, 1, 3, 4);
    const r = await checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(2) } });
    assert.equal(r.firstMissing, segmentFileName(1, 2n, MIB));
    const beyond = await checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(3) }, untilLsn: 'FF/0' });
    assert.equal(beyond.ok, false);
    assert.equal(beyond.firstMissing, segmentFileName(1, 5n, MIB));
    const within = await checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(3) }, untilLsn: formatLsn(5n * BigInt(MIB)) });
    assert.equal(within.ok, true, within.detail); // ends exactly where segment 5 begins: segment 5 is not needed
  });

  it('FAIL: a truncated, a renamed, and a foreign segment are unreadable, each with its reason', async () => {
    const cases: [{ size?: number; sysid?: bigint; addr?: bigint; fileSize?: number }, RegExp][] = [
      [{ fileSize: MIB / 2 }, /524288 bytes, not 1048576/],
      [{ addr: 9n * BigInt(MIB) }, /another segment renamed/],
      [{ sysid: 42n }, /system identifier 42/],
      [{ size: 2 * MIB, fileSize: MIB }, /segment size of 2097152/],
    ];
    for (const [opts, reason] of cases) {
      const d = await archive();
      await segs(d, 1, 1, 4);
      await unlink(join(d, segmentFileName(1, 3n, MIB)));
      const name = segmentFileName(1, 3n, MIB);
      await writeFile(join(d, name), header(3, opts));
      await truncate(join(d, name), opts.fileSize ?? MIB);
      const r = await checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(1) }, segmentSize: MIB });
      assert.equal(r.ok, false);
      assert.equal(r.firstUnreadable?.segment, name);
      assert.match(r.firstUnreadable.problem, reason);
      assert.equal(r.lastSegment, segmentFileName(1, 2n, MIB));
    }
  });

  it('FAIL: a symbolic link in place of a segment is not followed; a FIFO is not opened', async () => {
    const d = await archive();
    await segs(d, 1, 1, 4);
    const name = segmentFileName(1, 2n, MIB);
    await rm(join(d, name));
    await symlink('/etc/shadow', join(d, name));
    const fifo = segmentFileName(1, 3n, MIB);
    await rm(join(d, fifo));
    execFileSync('mkfifo', [join(d, fifo)]);
    const r = await checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(1) }, segmentSize: MIB });
    assert.equal(r.ok, false);
    assert.equal(r.firstUnreadable?.segment, name);
    assert.match(r.firstUnreadable.problem, /symbolic link: not followed/);
    assert.equal(r.unreadableCount, 2);
  });

  it('PASS on compressed segments (gzip, zstd); FAIL on a cut gzip file', async () => {
    const d = await archive();
    await segs(d, 1, 1, 4);
    const gz = segmentFileName(1, 2n, MIB);
    const full = Buffer.concat([header(2), Buffer.alloc(MIB - 40)]);
    await rm(join(d, gz));
    await writeFile(join(d, `${gz}.gz`), gzipSync(full));
    const zs = segmentFileName(1, 3n, MIB);
    await rm(join(d, zs));
    await writeFile(join(d, `${zs}.raw`), Buffer.concat([header(3), Buffer.alloc(MIB - 40)]));
    execFileSync('zstd', ['-q', '-o', join(d, `${zs}.zst`), join(d, `${zs}.raw`)]);
    await rm(join(d, `${zs}.raw`));
    const r = await checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(1) } });
    assert.equal(r.ok, true, r.detail);
    assert.equal(r.segments, 4);
    const cut = gzipSync(full);
    await writeFile(join(d, `${gz}.gz`), cut.subarray(0, cut.length - 3));
    const bad = await checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(1) } });
    assert.equal(bad.firstUnreadable?.segment, `${gz}.gz`);
  });

  it('refuses an archive path that is a file, and a malformed LSN (exit 2)', async () => {
    const d = await archive();
    await writeFile(join(d, 'f'), 'x');
    await assert.rejects(checkWalContinuity({ walDir: join(d, 'f'), start: { timeline: 1, lsn: '0/1' } }), (e: Error & { exitCode?: number }) => e.exitCode === 2 && /not a directory/.test(e.message));
    await assert.rejects(checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: '0/1; rm' } }), (e: Error & { exitCode?: number }) => e.exitCode === 2);
  });

  it('warns about an archive directory every user can write', async () => {
    const d = await archive();
    await segs(d, 1, 1, 1);
    await chmod(d, 0o777);
    const r = await checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(1) } });
    assert.equal(r.ok, true);
    assert.match(r.warnings.join(), /writable by every user/);
  });
});

describe('checkWalContinuity across timelines', () => {
  /** TL1 segments 1..5, switch to TL2 inside segment 5 (TL1's tail archived as .partial), TL2 segments 5..8. */
  async function twoTimelines(): Promise<string> {
    const d = await archive();
    await segs(d, 1, 1, 4);
    await writeFile(join(d, `${segmentFileName(1, 5n, MIB)}.partial`), header(5));
    await writeFile(join(d, '00000002.history'), `1\t${lsnIn(5, 0x100)}\tno recovery target specified\n`);
    await segs(d, 2, 5, 8);
    return d;
  }

  it('PASS: latest follows 1 → 2; the switch segment is read on the new timeline; .partial is not needed', async () => {
    const d = await twoTimelines();
    const r = await checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(2) } });
    assert.equal(r.ok, true, r.detail);
    assert.deepEqual(r.timelinePath, [1, 2]);
    assert.equal(r.targetTimeline, 2);
    assert.equal(r.segments, 3 + 4);
    assert.equal(r.lastSegment, segmentFileName(2, 8n, MIB));
  });

  it('FAIL: the history file of the switch deleted is named; the segment at the switch missing on timeline 2 is named', async () => {
    const d = await twoTimelines();
    await unlink(join(d, '00000002.history'));
    const r = await checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(2) } });
    assert.equal(r.ok, false);
    assert.equal(r.missingHistory, '00000002.history');
    const d2 = await twoTimelines();
    await unlink(join(d2, segmentFileName(2, 5n, MIB)));
    const r2 = await checkWalContinuity({ walDir: d2, start: { timeline: 1, lsn: lsnIn(2) } });
    assert.equal(r2.firstMissing, segmentFileName(2, 5n, MIB));
    assert.match(r2.detail, /only 000000010000000000000005\.partial is there/);
  });

  it('FAIL: latest needs every history file in between (PostgreSQL probes them in order)', async () => {
    const d = await twoTimelines();
    await writeFile(join(d, '00000003.history'), `1\t${lsnIn(6)}\tbranch of 1\n`);
    await segs(d, 3, 6, 7);
    await checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(2) } }).then((r) => assert.equal(r.ok, false, 'timeline 3 branched from 1 at segment 6: TL1 lacks segment 5'));
    await unlink(join(d, '00000002.history'));
    const r = await checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(2) } });
    assert.equal(r.missingHistory, '00000002.history');
    assert.equal(r.targetTimeline, 3);
  });

  it('explicit target timelines: the start timeline itself PASSes; one that branched before the backup FAILs', async () => {
    const d = await twoTimelines();
    await segs(d, 1, 5, 6); // the old primary went on writing timeline 1 (split brain): legitimate to recover
    const one = await checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(2) }, targetTimeline: 1 });
    assert.equal(one.ok, true, one.detail);
    assert.equal(one.lastSegment, segmentFileName(1, 6n, MIB));
    const late = await checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(6) }, targetTimeline: 2 });
    assert.equal(late.ok, false);
    assert.match(late.detail, /branched off timeline 1 at 0\/500100, before the backup's start/);
    const onTwo = await checkWalContinuity({ walDir: d, start: { timeline: 2, lsn: lsnIn(6) }, targetTimeline: 2 });
    assert.equal(onTwo.ok, true, onTwo.detail);
    assert.deepEqual(onTwo.timelinePath, [2]);
  });
});

describe('walRestoreCommand', () => {
  /** Run the command as PostgreSQL would (%f, %p, %% substituted; /bin/sh -c) and return its exit code. */
  function restore(cmd: string, f: string, p: string): number {
    const line = cmd.replace(/%[fp%]/g, (m) => (m === '%f' ? f : m === '%p' ? p : '%'));
    try {
      execFileSync('/bin/sh', ['-c', line], { stdio: 'ignore' });
      return 0;
    } catch (e) {
      return (e as { status: number }).status;
    }
  }

  it('copies, decompresses, says 1 for absent, and aborts (126) on a link or a corrupt file', async () => {
    const d = join(await archive(), 'dir with space and 100%');
    await mkdir(d);
    const out = join(root, 'restored');
    await writeFile(join(d, '000000010000000000000001'), 'plain');
    await writeFile(join(d, '000000010000000000000002.gz'), gzipSync('gzipped'));
    await writeFile(join(d, '000000010000000000000003.gz'), 'not gzip');
    await symlink('/etc/hostname', join(d, '000000010000000000000004'));
    const { command } = walRestoreCommand(d);
    assert.doesNotMatch(command, /\n/);
    assert.equal(restore(command, '000000010000000000000001', out), 0);
    assert.equal(execFileSync('cat', [out], { encoding: 'utf8' }), 'plain');
    assert.equal(restore(command, '000000010000000000000002', out), 0);
    assert.equal(execFileSync('cat', [out], { encoding: 'utf8' }), 'gzipped');
    assert.equal(restore(command, '00000002.history', out), 1);
    assert.equal(restore(command, '000000010000000000000003', out), 126);
    assert.equal(restore(command, '000000010000000000000004', out), 126);
    assert.equal(restore(command, '../x', out), 126);
    assert.throws(() => walRestoreCommand("/tmp/it's"), /quote, backslash/);
    assert.equal(confQuote("a'b"), "'a''b'");
  });
});

describe('checkWalContinuity with stage: one pass, the checked copy left for recovery', () => {
  const listing = async (d: string) => (await readdir(d)).sort();

  it('PASS: the path\'s segments (gz and zst decompressed) and every history file copied; an abandoned timeline\'s segments left out', async () => {
    const d = await archive();
    await segs(d, 1, 1, 4);
    await writeFile(join(d, `${segmentFileName(1, 5n, MIB)}.partial`), header(5));
    await seg(d, 1, 6); // timeline 1 went on after the switch: recovery to timeline 2 never asks for it
    await writeFile(join(d, '00000002.history'), `1\t${lsnIn(5, 0x100)}\tno recovery target specified\n`);
    await segs(d, 2, 5, 7);
    const gz = segmentFileName(1, 2n, MIB);
    await writeFile(join(d, `${gz}.gz`), gzipSync(Buffer.concat([header(2), Buffer.alloc(MIB - 40)])));
    await rm(join(d, gz));
    const zs = segmentFileName(2, 6n, MIB);
    execFileSync('zstd', ['-q', '--rm', '-o', join(d, `${zs}.zst`), join(d, zs)]);
    const before = await listing(d);
    const into = join(d, '..', `copy${n++}`);
    const r = await checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(1) }, stage: { into } });
    assert.equal(r.ok, true, r.detail);
    assert.deepEqual(await listing(d), before, 'the archive is only read');
    const want = ['00000002.history', ...[1, 2, 3, 4].map((s) => segmentFileName(1, BigInt(s), MIB)), ...[5, 6, 7].map((s) => segmentFileName(2, BigInt(s), MIB))];
    assert.deepEqual(await listing(into), want.sort());
    assert.deepEqual({ ...r.staged, ms: 0 }, { dir: into, segments: 7, histories: 1, bytes: 7 * MIB + (await stat(join(into, '00000002.history'))).size, ms: 0 });
    for (const name of [gz, zs]) assert.equal((await stat(join(into, name))).size, MIB, `${name} decompressed`);
  });

  it('PASS to an LSN: the rest of the target timeline is copied too (the record at the target may start past it)', async () => {
    const d = await archive();
    await segs(d, 1, 1, 6);
    const into = join(d, '..', `copy${n++}`);
    const r = await checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(1) }, untilLsn: lsnIn(3), stage: { into } });
    assert.equal(r.ok, true, r.detail);
    assert.equal(r.segments, 3);
    assert.equal(r.staged?.segments, 6);
    assert.equal((await listing(into)).length, 6);
  });

  it('FAIL: a gap is named before anything is restored, and the copy is removed', async () => {
    const d = await archive();
    await segs(d, 1, 1, 6);
    await unlink(join(d, segmentFileName(1, 4n, MIB)));
    const into = join(d, '..', `copy${n++}`);
    const r = await checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(1) }, stage: { into } });
    assert.equal(r.ok, false);
    assert.equal(r.firstMissing, segmentFileName(1, 4n, MIB));
    assert.equal(r.staged, null);
    await assert.rejects(stat(into), /ENOENT/);
  });

  it('FAIL: a zstd segment whose content is cut (its header intact) — caught only by the copy, which decompresses it all', async () => {
    const d = await archive();
    await segs(d, 1, 1, 3);
    const zs = segmentFileName(1, 2n, MIB);
    await truncate(join(d, zs), MIB / 2);
    execFileSync('zstd', ['-q', '--rm', '-o', join(d, `${zs}.zst`), join(d, zs)]);
    const headerOnly = await checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(1) } });
    assert.equal(headerOnly.ok, true, 'the header alone looks right');
    const into = join(d, '..', `copy${n++}`);
    const r = await checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(1) }, stage: { into } });
    assert.equal(r.ok, false);
    assert.equal(r.firstUnreadable?.segment, `${zs}.zst`);
    assert.match(r.firstUnreadable?.problem ?? '', /decompresses to 524288 bytes, not 1048576/);
    await assert.rejects(stat(into), /ENOENT/);
  });

  it('FAIL, bounded: a segment that decompresses (gzip, zstd) or is far past its size is never copied past it — whoever writes the archive cannot fill the drill\'s disk', async () => {
    // 64 MiB of zeros behind a valid header: a 64 KiB gzip, a few KiB of zstd; and a sparse 1 GiB plain file.
    const big = Buffer.concat([header(2), Buffer.alloc(64 * MIB - 40)]);
    const cases: [string, (d: string) => Promise<string>, RegExp][] = [
      ['gz', async (d) => { const f = `${segmentFileName(1, 2n, MIB)}.gz`; await writeFile(join(d, f), gzipSync(big)); return f; }, /decompresses to more than 1048576 bytes \(a segment's size\): not copied further/],
      ['zst', async (d) => { const raw = join(d, '..', `raw${n++}`); await writeFile(raw, big); const f = `${segmentFileName(1, 2n, MIB)}.zst`; execFileSync('zstd', ['-q', '--rm', '-o', join(d, f), raw]); return f; }, /decompresses to more than 1048576 bytes/],
      ['plain', async (d) => { const f = segmentFileName(1, 2n, MIB); await writeFile(join(d, f), header(2)); await truncate(join(d, f), 1024 * MIB); return f; }, /is more than 1048576 bytes \(a segment's size\): not copied further/],
    ];
    for (const [what, plant, problem] of cases) {
      const d = await archive();
      await seg(d, 1, 1);
      await seg(d, 1, 3);
      const name = await plant(d);
      const into = join(d, '..', `copy${n++}`);
      const t0 = performance.now();
      const r = await checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(1) }, stage: { into } });
      assert.equal(r.ok, false, what);
      assert.equal(r.firstUnreadable?.segment, name, what);
      assert.match(r.firstUnreadable?.problem ?? '', problem, what);
      await assert.rejects(stat(into), /ENOENT/, 'the copy is removed');
      assert.ok(performance.now() - t0 < 5000, `${what}: stopped at the bound, not after the whole file`);
    }
    // A history file: bounded at 1 MiB, the most the check reads of one.
    const h = await archive();
    await writeFile(join(h, '00000005.history.gz'), gzipSync(Buffer.alloc(8 * MIB, '1\t0/1000000\tx\n')));
    const copied = await copyWalFile(join(h, '00000005.history.gz'), 'gz', join(h, 'copy'), { osUser: null, headBytes: 0, maxBytes: MAX_HISTORY_BYTES });
    assert.match('problem' in copied ? copied.problem : 'copied', /decompresses to more than 1048576 bytes \(the most a history file is read to\)/);
    await assert.rejects(stat(join(h, 'copy')), /ENOENT/);
    // Legitimate: a segment of exactly its size is copied whole.
    const exact = await seg(h, 1, 1);
    await writeFile(join(h, `${exact}.gz`), gzipSync(Buffer.concat([header(1), Buffer.alloc(MIB - 40)])));
    for (const [f, c] of [[exact, null], [`${exact}.gz`, 'gz']] as const) {
      const whole = await copyWalFile(join(h, f), c, join(h, `whole-${c}`), { osUser: null, headBytes: 40, maxBytes: MIB });
      assert.equal('problem' in whole ? whole.problem : whole.size, MIB);
    }
  });

  it('a hard link in the archive to a file of another owner (a root-only file): never read nor copied toward the sandbox; the archive owner\'s own hard links are', { skip: process.geteuid?.() !== 0 && 'needs root (files of another owner)' }, async () => {
    // The archive belongs to its writer (nobody here, as postgres would); root's own secret is linked in under a WAL name.
    const d = await archive();
    await segs(d, 1, 1, 2);
    const secret = join(root, `secret${n++}`);
    await writeFile(secret, '1\t0/3000000\tROOT-ONLY\n', { mode: 0o600 });
    await link(secret, join(d, '00000002.history'));
    for (const f of await readdir(d)) if (f !== '00000002.history') await chown(join(d, f), 65534, 65534);
    await chown(d, 65534, 65534);
    const into = join(d, '..', `copy${n++}`);
    await assert.rejects(stageWal(d, segmentFileName(1, 1n, MIB), into, null), /00000002\.history: it has 2 hard links and is owned by uid 0, not by .*'s owner \(uid 65534\): not read/);
    const copied = await readdir(into).catch(() => [] as string[]);
    for (const f of copied) assert.ok(!(await readFile(join(into, f), 'utf8')).includes('ROOT-ONLY'), f);
    const r = await checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(1) }, stage: { into: join(d, '..', `copy${n++}`) } });
    assert.ok(!JSON.stringify(r).includes('ROOT-ONLY'), JSON.stringify(r));
    // Legitimate: `archive_command = 'ln %p …'` leaves the owner's own files with two links.
    const ln = await archive();
    const pgwal = await archive();
    await segs(pgwal, 1, 1, 2);
    for (const f of await readdir(pgwal)) {
      await chown(join(pgwal, f), 65534, 65534);
      await link(join(pgwal, f), join(ln, f));
    }
    await chown(ln, 65534, 65534);
    const ok = await checkWalContinuity({ walDir: ln, start: { timeline: 1, lsn: lsnIn(1) }, stage: { into: join(d, '..', `copy${n++}`) } });
    assert.equal(ok.ok, true, ok.detail);
    assert.equal(ok.staged?.segments, 2);
  });

  it('a plain backup holding a hard link to a root-only file: refused by the tree\'s scan and never copied; the owner\'s own hard links are fine', { skip: process.geteuid?.() !== 0 && 'needs root' }, async () => {
    const b = await archive();
    await mkdir(join(b, 'global'));
    await writeFile(join(b, 'PG_VERSION'), '16\n');
    await writeFile(join(b, 'global', 'own'), 'x');
    await link(join(b, 'global', 'own'), join(b, 'global', 'own-too')); // rsync --link-dest style: the owner's own
    const secret = join(root, `secret${n++}`);
    await writeFile(secret, 'ROOT-ONLY', { mode: 0o600 });
    await link(secret, join(b, 'global', 'pg_control'));
    for (const p of [b, join(b, 'global'), join(b, 'PG_VERSION'), join(b, 'global', 'own')]) await chown(p, 65534, 65534);
    const tree = await scanBackupTree(b);
    assert.deepEqual(tree.refused, ['global/pg_control (a hard link to a file of uid 0, not the owner of its directory)']);
    const data = join(root, `data${n++}`);
    await copyPlainBackup(b, data, null);
    assert.deepEqual((await readdir(join(data, 'global'))).sort(), ['own', 'own-too']);
  });

  it('in place: a private directory is checked where it is, nothing copied', async () => {
    const d = await archive();
    await segs(d, 1, 1, 3);
    const r = await checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(1) }, stage: { inPlace: true } });
    assert.equal(r.ok, true, r.detail);
    assert.equal(r.staged?.dir, d);
    assert.equal(r.staged?.segments, 3);
  });
});

describe('a compressed WAL file whose program is not installed: the machine\'s problem, not the archive\'s', () => {
  /** Run `fn` with PATH set to `path`. */
  async function withPath<T>(path: string, fn: () => Promise<T>): Promise<T> {
    const saved = process.env.PATH;
    process.env.PATH = path;
    try {
      return await fn();
    } finally {
      process.env.PATH = saved;
    }
  }
  /** An archive of segments 1-3, segment 2 compressed with zstd. */
  async function zstArchive(): Promise<{ d: string; zs: string }> {
    const d = await archive();
    await segs(d, 1, 1, 3);
    const zs = segmentFileName(1, 2n, MIB);
    execFileSync('zstd', ['-q', '--rm', '-o', join(d, `${zs}.zst`), join(d, zs)]);
    return { d, zs: `${zs}.zst` };
  }
  const environment = (file: string) => (e: Error & { exitCode?: number }) =>
    e.exitCode === 4 && e.message.startsWith(`${file} is compressed with zstd, and the zstd program is not installed (not found in PATH: /nonexistent)`) && /Install zstd \(e\.g\. apt-get install zstd\)/.test(e.message);

  it('exit 4 naming the program, the segment and the package — when checking headers and when copying; the copy is removed', async () => {
    const { d, zs } = await zstArchive();
    await withPath('/nonexistent', async () => {
      await assert.rejects(checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(1) } }), environment(join(d, zs)));
      const into = join(d, '..', `copy${n++}`);
      await assert.rejects(checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(1) }, stage: { into } }), environment(join(d, zs)));
      await assert.rejects(stat(into), /ENOENT/);
    });
  });

  it('a zstd installed outside the usual directories (first in PATH) is found and used', async () => {
    const { d } = await zstArchive();
    const bin = join(root, `opt-bin${n++}`);
    await mkdir(bin);
    await symlink('/usr/bin/zstd', join(bin, 'zstd'));
    const into = join(d, '..', `copy${n++}`);
    const r = await withPath(bin, () => checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(1) }, stage: { into } }));
    assert.equal(r.ok, true, r.detail);
    assert.equal(r.staged?.segments, 3);
  });

  it('a .tar.zst base backup: exit 4 naming the tar, before anything is read', async () => {
    const d = await archive();
    const tar = join(d, 'base.tar.zst');
    await writeFile(tar, 'not read');
    await withPath('/nonexistent', () => assert.rejects(openTarStream(tar), (e: Error & { exitCode?: number }) => e.exitCode === 4 && e.message.startsWith(`${tar} is compressed with zstd`)));
  });
});

describe('where the archive ends, and whether anything in it says it went further', () => {
  /** A backup history file as pg_backup_stop writes it. */
  const backupFile = (d: string, tli: number, startSeg: number, stop: string, stopTli = tli) =>
    writeFile(join(d, `${segmentFileName(tli, BigInt(startSeg), MIB)}.00000028.backup`),
      `START WAL LOCATION: ${lsnIn(startSeg)} (file ${segmentFileName(tli, BigInt(startSeg), MIB)})\nSTOP WAL LOCATION: ${stop} (file x)\nCHECKPOINT LOCATION: ${lsnIn(startSeg, 0x60)}\nBACKUP METHOD: streamed\nBACKUP FROM: primary\nSTART TIME: 2026-12-06 10:00:00 UTC\nLABEL: b\nSTART TIMELINE: ${tli}\nSTOP TIME: 2026-12-06 10:00:01 UTC\nSTOP TIMELINE: ${stopTli}\n`);

  it('WARN evidence: a later backup stopped past the last segment — the segments after it are named missing', async () => {
    const d = await archive();
    await segs(d, 1, 1, 4);
    await backupFile(d, 1, 3, lsnIn(6, 0x138)); // a backup that ended in segment 6: 5 and 6 were written
    const r = await checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(1) } });
    assert.equal(r.ok, true, r.detail);
    assert.equal(r.end?.short, true);
    assert.equal(r.end?.lsn, formatLsn(5n * BigInt(MIB)));
    assert.equal(r.end?.evidence?.lsn, lsnIn(6, 0x138));
    assert.match(r.detail, new RegExp(`but ${segmentFileName(1, 3n, MIB)}\\.00000028\\.backup, a backup history file \\(a base backup stopped there\\), names ${lsnIn(6, 0x138).replace('/', '\\/')}, past the archive's end at 0/500000: segments after ${segmentFileName(1, 4n, MIB)} are missing`));
  });

  it('WARN evidence: a later timeline switched from the target timeline past its last segment', async () => {
    const d = await archive();
    await segs(d, 1, 1, 4);
    await writeFile(join(d, '00000002.history'), `1\t${lsnIn(7, 0x100)}\tno recovery target specified\n`);
    const r = await checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(1) }, targetTimeline: 1 });
    assert.equal(r.ok, true, r.detail);
    assert.equal(r.end?.short, true);
    assert.equal(r.end?.evidence?.file, '00000002.history');
  });

  it('no evidence of more: the end is named and said to be unprovable; backups within it, or of other timelines, change nothing', async () => {
    const d = await archive();
    await segs(d, 1, 1, 4);
    await backupFile(d, 1, 2, lsnIn(4, 0x138)); // stopped inside the last segment
    await backupFile(d, 1, 1, lsnIn(9), 2); // stopped on another timeline (recorded by its STOP TIMELINE)
    await writeFile(join(d, `${segmentFileName(1, 3n, MIB)}.00000028.backup`), 'not a backup history file');
    const r = await checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(1) } });
    assert.equal(r.ok, true, r.detail);
    assert.equal(r.end?.short, false);
    assert.match(r.detail, /; the archive ends at 0\/500000, and nothing in it shows more was expected \(the furthest LSN its backup and timeline history files name on that timeline is 0\/400138, in .*\.backup\) — segments deleted from the end would not show$/);
    const bare = await archive();
    await segs(bare, 1, 1, 2);
    const plain = await checkWalContinuity({ walDir: bare, start: { timeline: 1, lsn: lsnIn(1) } });
    assert.equal(plain.end?.evidence, null);
    assert.match(plain.detail, /the archive ends at 0\/300000, and nothing in it shows more was expected \(no backup or timeline history file names a later LSN on that timeline\)/);
  });

  it('to an LSN, or with a gap: no end is described', async () => {
    const d = await archive();
    await segs(d, 1, 1, 4);
    await backupFile(d, 1, 3, lsnIn(6));
    const r = await checkWalContinuity({ walDir: d, start: { timeline: 1, lsn: lsnIn(1) }, untilLsn: lsnIn(3) });
    assert.equal(r.ok, true, r.detail);
    assert.equal(r.end, null);
  });
});
