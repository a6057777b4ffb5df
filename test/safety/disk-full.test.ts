/**
 * A full disk is an environment problem (exit 4), told in one line naming the path, the file system and the space
 * left — not an internal error with a stack — and it leaves no empty drill lock behind (which would look like a
 * drill being written). The out directory is a small tmpfs, filled before the drill starts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { createAppDatabase } from '../helpers/safety.js';
import { runProcess } from '../../src/exec/run-process.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';

describe('a full disk at start', { skip: process.getuid?.() !== 0 ? 'mounting a tmpfs needs root' : false }, () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  let mnt: string;
  before(async () => {
    dir = await scratchDir();
    source = await startSource({ parentDir: dir.path });
    await createAppDatabase(source, 'shop');
    mnt = join(dir.path, 'small');
    await mkdir(mnt);
    await runProcess({ bin: '/bin/mount', args: ['-t', 'tmpfs', '-o', 'size=256k,mode=0755', 'tmpfs', mnt] });
    await mkdir(join(mnt, 'drills'));
    // Fill it: writes until ENOSPC.
    await writeFile(join(mnt, 'filler'), Buffer.alloc(1024 * 1024)).catch((e: NodeJS.ErrnoException) => assert.equal(e.code, 'ENOSPC'));
  });
  after(async () => {
    if (mnt) await runProcess({ bin: '/bin/umount', args: ['-l', mnt], allowFailure: true });
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  test('exit 4 with the path, the file system and its free space; no stack; no empty lock left', async () => {
    const out = join(mnt, 'drills');
    for (const args of [['run', '--source', urlOf(source, 'shop')], ['run', '--source', urlOf(source, 'shop'), '--json']]) {
      const r = await runCli([...args, '--out', out]);
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, new RegExp(`pgdrill: no space left writing .*${out.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/\\S+ \\(file system ${mnt.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(tmpfs\\): \\d+(\\.\\d)? \\w*B free of 256\\.0 KiB\\)`));
      assert.doesNotMatch(r.stderr, /^\s+at |internal error/m, 'no stack trace, not an internal error');
      assert.deepEqual((await readdir(out)).filter((f) => f.endsWith('.lock') || f.includes('.lock.')), [], 'no lock file left');
    }
  });
});
