/**
 * The programs that read an artefact (pg_restore --list / -f - / the restore's pg_restore) run as root, and an
 * artefact is not trusted: a directory archive whose data file is a symbolic link to a root-only file would make
 * pg_restore read that file and hand its rows to the restore and the report. Validation before the tools run refuses
 * such entries; these tests call the reading functions directly (no validation in front of them, as when an entry
 * is swapped after the check) to prove the confinement itself: pg_restore sees only the archive, so the link
 * resolves to nothing and the canary's content appears nowhere. A control shows that an unconfined pg_restore does
 * read the canary through the same link, so the setup is real.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { runProcess } from '../../src/exec/run-process.js';
import { resolveSandboxUser } from '../../src/exec/os-user.js';
import { SandboxCluster } from '../../src/sandbox/cluster.js';
import { probeReaderJail, resolveReaderJail } from '../../src/sandbox/reader-jail.js';
import { listArchive, readArchiveFully } from '../../src/verify/read-archive.js';
import { scanArchive } from '../../src/inventory/read-inventory.js';
import { restoreDump, createDatabase } from '../../src/restore/restore-dump.js';
import type { Logger } from '../../src/logger.js';
import { bins, psql, scratchDir, silentLogger, startSource } from '../helpers/clusters.js';
import { pgDump } from '../helpers/dumps.js';

/** A logger that keeps every line, to search them for the canary. */
function keepingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (m: string) => void lines.push(m);
  return { lines, debug: keep, info: keep, warn: keep, error: keep };
}

describe('artefact readers are confined: a link in a directory archive reaches nothing of the host', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  let archive: string;
  let canary: string;
  let canaryText: string;
  let plainArchive: string;
  before(async () => {
    dir = await scratchDir();
    await chmod(dir.path, 0o755);
    source = await startSource({ parentDir: dir.path });
    await psql(source, 'postgres', { sql: 'CREATE DATABASE app' });
    await psql(source, 'app', { sql: "CREATE TABLE t (id int PRIMARY KEY, note text); INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 3) g" });
    plainArchive = await pgDump(source, 'app', 'directory', join(dir.path, 'clean.dir'), ['--compress=0']);
    archive = await pgDump(source, 'app', 'directory', join(dir.path, 'linked.dir'), ['--compress=0']);
    // The canary: a root-only file (0600 in a 0700 directory), random content shaped as a valid COPY row of t.
    const vault = join(dir.path, 'vault');
    await mkdir(vault, { mode: 0o700 });
    canaryText = `CANARY-${randomBytes(12).toString('hex')}`;
    canary = join(vault, 'secret');
    await writeFile(canary, `42\t${canaryText}\n\\.\n`, { mode: 0o600 });
    const data = (await readdir(archive)).find((f) => /^\d+\.dat$/.test(f))!;
    await rm(join(archive, data));
    await symlink(canary, join(archive, data));
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  test('control: an unconfined pg_restore, as root, reads the canary through the link', async () => {
    const r = await runProcess({ bin: (await bins()).path('pg_restore'), args: ['--file=-', archive], stdout: 'capture', allowFailure: true });
    assert.ok(r.stdout.includes(canaryText), 'the setup is real: the link leads to the canary');
  });

  test('bwrap confines the readers on this machine (as root: no user namespace, capabilities dropped)', async () => {
    const j = await resolveReaderJail();
    assert.equal(j.note, null, j.note ?? '');
    assert.ok(j.bwrap);
    assert.equal(j.asRoot, process.getuid?.() === 0);
  });

  test('readArchiveFully (verify\'s full read): the read fails on the link, the canary is nowhere', async () => {
    const log = keepingLogger();
    const r = await readArchiveFully(await bins(), archive, log);
    assert.equal(r.ok, false, 'the data file cannot be opened inside the jail');
    assert.match(r.errors.join('\n'), /could not open input file|No such file/);
    assert.ok(!JSON.stringify(r).includes(canaryText), 'not in the result');
    assert.ok(!log.lines.join('\n').includes(canaryText), 'not in the log');
  });

  test('scanArchive (the inventory): fails on the link, the canary is not in its error', async () => {
    const err = await scanArchive(await bins(), archive).then(() => null, (e: Error & { stderrTail?: string }) => `${e.message}\n${e.stderrTail ?? ''}`);
    assert.ok(err !== null, 'the scan fails');
    assert.ok(!err.includes(canaryText));
  });

  test('the restore\'s pg_restore: the canary row never reaches the restored table nor the errors', async () => {
    await using sandbox = await SandboxCluster.start({ bins: await bins(), parentDir: dir.path, osUser: await resolveSandboxUser(), logger: silentLogger, templateCache: null });
    await createDatabase(sandbox, 'app');
    const r = await restoreDump({ sandbox, bins: await bins(), path: archive, format: 'directory', database: 'app', logger: silentLogger, jobs: 1 });
    assert.equal(r.ok, false);
    assert.ok(!JSON.stringify(r.errors).includes(canaryText), JSON.stringify(r.errors).slice(0, 500));
    await using db = await sandbox.open('app');
    const rows = await db.query<{ note: string }>('SELECT note FROM t');
    assert.ok(!rows.some((x) => x.note.includes(canaryText)), 'the canary was not restored');
  });

  test('legitimate: a clean directory archive reads and restores in full, with --jobs, and by a relative path', async () => {
    const b = await bins();
    const rel = relative(process.cwd(), plainArchive);
    const full = await readArchiveFully(b, rel, silentLogger);
    assert.equal(full.ok, true, full.errors.join('\n'));
    assert.equal(full.scan.copyBlocks.reduce((n, c) => n + c.rows, 0), 3);
    const toc = await listArchive(b, rel);
    assert.ok(!('error' in toc) && toc.entries.some((e) => e.text.startsWith('TABLE DATA public t ')), JSON.stringify(toc));
    await using sandbox = await SandboxCluster.start({ bins: b, parentDir: dir.path, osUser: await resolveSandboxUser(), logger: silentLogger, templateCache: null, superuser: 'postgres' });
    await createDatabase(sandbox, 'app');
    const r = await restoreDump({ sandbox, bins: b, path: plainArchive, format: 'directory', database: 'app', logger: silentLogger, jobs: 2 });
    assert.equal(r.ok, true, JSON.stringify(r.errors));
    await using db = await sandbox.open('app');
    assert.equal(await db.value<string>('SELECT count(*)::text FROM t'), '3');
  });

  test('legitimate: an archive reached through a symlinked directory (the path the user gave) still reads', async () => {
    const link = join(dir.path, 'via-link');
    await symlink(dir.path, link);
    const full = await readArchiveFully(await bins(), join(link, 'clean.dir'), silentLogger);
    assert.equal(full.ok, true, full.errors.join('\n'));
  });

  test('without bwrap the readers run as before, and the jail says why', async () => {
    const j = await probeReaderJail({ bwrap: ['/nonexistent/bwrap'] });
    assert.equal(j.bwrap, null);
    assert.match(j.note ?? '', /not confined: bubblewrap \(bwrap\) is not installed/);
  });
});
