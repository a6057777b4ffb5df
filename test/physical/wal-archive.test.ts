/**
 * WAL archive continuity on a real archive: a PG cluster archiving with `cp`, a base backup, WAL switched a few
 * times, then the backup restored (through pgdrill's own restore_command, a segment of it gzipped) and promoted to
 * timeline 2, which archives into the same directory. The whole archive PASSes; a segment or the history file
 * deleted from a copy of it FAILs, naming what is missing.
 */
import { strict as assert } from 'node:assert';
import { cp, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runProcess } from '../../src/exec/run-process.js';
import { walRestoreCommand } from '../../src/physical/restore-command.js';
import { checkWalContinuity, type WalPosition } from '../../src/physical/wal-archive.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import type { scratchDir } from '../helpers/clusters.js';
import { baseBackup, ownedDir, restoreAndPromote, sqlOn, startArchivingSource, switchWal, waitForFile } from './archive-fixture.js';

describe('WAL archive continuity on a real archive with two timelines', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster | undefined;
  let archive: string;
  let start: WalPosition;
  let tl1: string[];
  let tl2: string[];

  before(async () => {
    const started = await startArchivingSource('pgdrill-wal-');
    ({ scratch, archive, source } = started);
    const user = started.user;
    const s = sqlOn(started.source);
    await s.sql('CREATE TABLE t (id int, v text)');
    await switchWal(s, archive, 1);
    const backup = await baseBackup(source, join(await ownedDir(join(scratch.path, 'b'), user), 'base'));
    start = { timeline: backup.timeline, lsn: backup.startLsn };
    tl1 = await switchWal(s, archive, 3);
    await source.stop();
    source = undefined;
    // One segment the recovery needs, gzipped: the restore_command decompresses it, the check reads its header.
    await runProcess({ bin: '/bin/gzip', args: [join(archive, tl1[1]!)], uid: user?.uid, gid: user?.gid });
    await using copy = await restoreAndPromote(backup.dir, await ownedDir(join(scratch.path, 'copy'), user), user, {
      restoreCommand: walRestoreCommand(archive).command, archiveCommand: `cp %p ${archive}/%f`, port: 5499,
    });
    await waitForFile(archive, '00000002.history');
    tl2 = await switchWal(copy, archive, 2);
  });
  after(async () => {
    await source?.stop();
    await scratch?.[Symbol.asyncDispose]();
  });

  it('PASS: latest follows timelines 1 → 2 through the gzipped segment, to the last segment of timeline 2', async () => {
    const r = await checkWalContinuity({ walDir: archive, start });
    assert.equal(r.ok, true, r.detail);
    assert.deepEqual(r.timelinePath, [1, 2]);
    assert.equal(r.segmentSize, 16 * 1024 * 1024);
    assert.equal(r.lastSegment, tl2[tl2.length - 1]);
    assert.ok(r.segments >= tl1.length + tl2.length, r.detail);
    assert.match(r.systemIdentifier ?? '', /^\d+$/);
  });

  it('FAIL: a segment of timeline 1 deleted is named; recovery would stop after the one before', async () => {
    const copy = join(scratch.path, 'archive-gap');
    await cp(archive, copy, { recursive: true });
    await unlink(join(copy, tl1[2]!));
    const r = await checkWalContinuity({ walDir: copy, start });
    assert.equal(r.ok, false);
    assert.equal(r.firstMissing, tl1[2]);
    assert.equal(r.lastSegment, tl1[1]);
    assert.match(r.detail, new RegExp(`${tl1[2]} is missing`));
  });

  it('FAIL: 00000002.history deleted is named as the missing history file', async () => {
    const copy = join(scratch.path, 'archive-history');
    await cp(archive, copy, { recursive: true });
    await unlink(join(copy, '00000002.history'));
    const r = await checkWalContinuity({ walDir: copy, start });
    assert.equal(r.ok, false);
    assert.equal(r.missingHistory, '00000002.history');
    assert.match(r.detail, /00000002\.history is missing/);
  });
});
