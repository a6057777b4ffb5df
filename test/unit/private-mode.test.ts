/**
 * A library caller keeps its own umask (often 022): pgdrill still creates its run directory 0700 and its files
 * 0600, because it passes those modes itself (src/exec/private-mode.ts), not only through the CLI's umask 077.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRunDir } from '../../src/out-dir/run-dir.js';
import { writeReports } from '../../src/report/write.js';
import { fileLogger } from '../../src/logger.js';
import { writeFileAtomic } from '../../src/outputs/atomic-file.js';
import { makeTreePrivate } from '../../src/exec/private-mode.js';
import { emptyReport } from '../../src/pipeline/report/empty-report.js';
import { scratchDir } from '../helpers/clusters.js';

const modeOf = async (p: string) => (await stat(p)).mode & 0o777;

test('under a library caller\'s umask 022, run directories are 0700 and pgdrill\'s files 0600', async () => {
  await using dir = await scratchDir();
  const old = process.umask(0o022);
  try {
    const out = join(dir.path, 'new', 'out');
    const run = await createRunDir(out, 'shop');
    assert.equal(await modeOf(run), 0o700);
    assert.equal(await modeOf(out), 0o700, '--out created by pgdrill');
    await writeReports(emptyReport('run', run, new Date(), [], (s) => s, {}), run);
    for (const f of ['report.json', 'report.md', 'report.html']) assert.equal(await modeOf(join(run, f)), 0o600, f);
    fileLogger(join(run, 'run.log')).info('x');
    assert.equal(await modeOf(join(run, 'run.log')), 0o600);
    await writeFileAtomic(join(dir.path, 'junit.xml'), '<x/>');
    assert.equal(await modeOf(join(dir.path, 'junit.xml')), 0o600);
    // Control: the same umask gives a plain file 0644 — the modes above are pgdrill's doing.
    await writeFile(join(dir.path, 'plain'), 'x');
    assert.equal(await modeOf(join(dir.path, 'plain')), 0o644);
  } finally {
    process.umask(old);
  }
});

test('makeTreePrivate: a tree another program wrote becomes 0700/0600; links are left alone', async () => {
  await using dir = await scratchDir();
  const tree = join(dir.path, 'archive');
  await mkdir(join(tree, 'sub'), { recursive: true });
  await chmod(tree, 0o755);
  await writeFile(join(tree, 'toc.dat'), 'x', { mode: 0o644 });
  await writeFile(join(tree, 'sub', 'f'), 'x', { mode: 0o666 });
  await chmod(join(tree, 'sub', 'f'), 0o666);
  const outside = join(dir.path, 'outside');
  await writeFile(outside, 'x', { mode: 0o644 });
  const { symlink } = await import('node:fs/promises');
  await symlink(outside, join(tree, 'link'));
  await makeTreePrivate(tree);
  assert.equal(await modeOf(tree), 0o700);
  assert.equal(await modeOf(join(tree, 'sub')), 0o700);
  assert.equal(await modeOf(join(tree, 'toc.dat')), 0o600);
  assert.equal(await modeOf(join(tree, 'sub', 'f')), 0o600);
  assert.equal(await modeOf(outside), 0o644, 'a link\'s target outside the tree is not touched');
});
