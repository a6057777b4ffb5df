/**
 * Root reads files the sandbox's OS user writes — the server's log, postmaster.pid — and files of a backup someone
 * else wrote (backup_label, PG_VERSION, backup_manifest, postgresql.conf). That user (or whoever runs as it: a dump's
 * COPY … TO PROGRAM, a concurrent sandbox without bwrap) can swap them for a link to a root-only file, a FIFO, a
 * device, or a hard link: pgdrill must never show a root-only file's text, never block, never read without bound.
 * The attacker here is the sandbox's real OS user (pgdrill-sandbox as root), planting with its own rights.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, link, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forEachForeignLine, readForeignText } from '../../src/exec/input-file.js';
import { resolveSandboxUser, type OsUser } from '../../src/exec/os-user.js';
import { runProcess } from '../../src/exec/run-process.js';
import { handOver } from '../../src/exec/hand-over.js';
import { readManifestWalRanges, readSmallFile } from '../../src/physical/backup-layout.js';
import { readRecoveryLog } from '../../src/physical/recovery-log.js';
import { readLoggedErrors } from '../../src/restore/server-log-errors.js';
import { SandboxCluster, serverFileOwners, setAfterStartForTests } from '../../src/sandbox/cluster.js';
import { openTarStream, readTarMembers } from '../../src/physical/tar-stream.js';
import { EnvironmentError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { bins } from '../helpers/clusters.js';

const SECRET = 'ROOT-ONLY-SECRET-7f3a';
const asRoot = process.geteuid?.() === 0;

let root: string;
let secret: string;
let user: OsUser | null;
/** A directory the sandbox user owns, as a sandbox's root directory is. */
let theirs: string;

/** Run a shell command as the sandbox user (the attacker), in `theirs`. */
async function asSandboxUser(cmd: string): Promise<void> {
  await runProcess({ bin: 'sh', args: ['-c', cmd], uid: user?.uid, gid: user?.gid, cwd: theirs });
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'pgdrill-sandbox-files-'));
  await chmod(root, 0o755);
  secret = join(root, 'secret');
  // A root-only file with lines every parser here would pick up: a FATAL line, a START WAL LOCATION, WAL-Ranges.
  await writeFile(secret, `2026-01-01 00:00:00 UTC [1] FATAL:  ${SECRET}\nSTART WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n"WAL-Ranges": [{ "Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "0/2000100" }]\n`, { mode: 0o600 });
  user = await resolveSandboxUser();
  theirs = join(root, 'sandbox');
  await mkdir(theirs, { mode: 0o700 });
  if (user) await chown(theirs, user.uid, user.gid);
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('files of the sandbox user and of a backup: read without following, blocking or trusting them', { skip: !asRoot && 'needs root (the sandbox runs as another OS user)' }, () => {
  it('a link to a root-only file planted by the sandbox user: no line of it is read', async () => {
    await asSandboxUser(`ln -s ${secret} postgres.log && ln -s ${secret} backup_label && ln -s ${secret} backup_manifest`);
    const log = await readRecoveryLog(join(theirs, 'postgres.log'), serverFileOwners(user));
    assert.equal(log.fatal, null, 'the secret FATAL line was read through the link');
    assert.equal(await readForeignText(join(theirs, 'postgres.log'), { maxBytes: 1 << 16, part: 'tail', owners: serverFileOwners(user) }), null);
    assert.equal(await readSmallFile(join(theirs, 'backup_label')), null);
    assert.equal(await readManifestWalRanges(join(theirs, 'backup_manifest')), null);
  });

  it('a FIFO planted in place of the log, postmaster.pid or a backup file: refused at once, never waited on', async () => {
    await asSandboxUser('mkfifo fifo.log postmaster.pid PG_VERSION');
    const t0 = performance.now();
    const log = await readRecoveryLog(join(theirs, 'fifo.log'), serverFileOwners(user));
    assert.equal(log.restoredSegments, 0);
    assert.equal(await readForeignText(join(theirs, 'postmaster.pid'), { maxBytes: 8192, owners: serverFileOwners(user) }), null);
    assert.equal(await readSmallFile(join(theirs, 'PG_VERSION')), null);
    assert.equal(await forEachForeignLine(join(theirs, 'fifo.log'), undefined, () => {}), false);
    assert.ok(performance.now() - t0 < 2000, 'no read waited for a writer');
  });

  it('a hard link to a root-only file (where protected_hardlinks allows it): not the server user\'s file, not read', async () => {
    // Made by root here: the kernel's fs.protected_hardlinks usually stops the sandbox user, but not everywhere.
    await link(secret, join(theirs, 'hard.log'));
    const log = await readRecoveryLog(join(theirs, 'hard.log'), serverFileOwners(user));
    assert.equal(log.fatal, null);
    assert.deepEqual(await readLoggedErrors(join(theirs, 'hard.log'), 0, serverFileOwners(user)), [], 'the restore\'s error reader too');
    assert.equal((await readLoggedErrors(join(theirs, 'hard.log'), 0)).length, 1, 'the same file read without the owner check: the secret line');
  });

  it('a device: /dev/zero linked in is not read forever (a link); the log\'s tail is bounded', async () => {
    await asSandboxUser('ln -s /dev/zero zero.log');
    assert.equal(await readForeignText(join(theirs, 'zero.log'), { maxBytes: 1 << 16, part: 'tail', owners: serverFileOwners(user) }), null);
    // Legitimate: the server's own log, larger than the bound: its last bytes, whole lines from the end.
    await asSandboxUser(`i=0; while [ $i -lt 3000 ]; do echo "2026-01-01 00:00:00 UTC [9] LOG:  restored log file \\"0000000100000000000000$(printf %02X $((i % 256)))\\" from archive"; i=$((i+1)); done > own.log`);
    const tail = await readForeignText(join(theirs, 'own.log'), { maxBytes: 4096, part: 'tail', owners: serverFileOwners(user) });
    assert.equal(tail?.length, 4096);
    const all = await readRecoveryLog(join(theirs, 'own.log'), serverFileOwners(user));
    assert.equal(all.restoredSegments, 3000, 'the whole log is parsed, streamed');
  });

  it('a sandbox whose log its user swapped for a link to a root-only file before a failed start: the error shows none of it', async () => {
    // The server starts; then, as its user, the log becomes a link to the secret and the server dies (kill -9 of
    // its own postmaster: any process of that user may): pgdrill reports the start as failed, with the log's tail.
    setAfterStartForTests(async (dataDir) => {
      await runProcess({ bin: 'sh', args: ['-c', `ln -sf ${secret} ../postgres.log && kill -9 $(head -1 postmaster.pid)`], uid: user?.uid, gid: user?.gid, cwd: dataDir });
      await new Promise((r) => setTimeout(r, 300));
    });
    try {
      const err = await SandboxCluster.start({ bins: await bins(), parentDir: root, osUser: user, logger: silentLogger, label: 'swapped-log' }).then(async (c) => {
        await c.stop();
        return null;
      }, (e: unknown) => e);
      assert.ok(err instanceof EnvironmentError, String(err));
      assert.match(err.message, /stopped right after it started/);
      assert.ok(!err.message.includes(SECRET), err.message);
    } finally {
      setAfterStartForTests(null);
    }
  });

  it("a backup's base.tar.zst is decompressed as the sandbox's OS user, never as root, as its WAL is", async () => {
    // A zstd on PATH that notes who runs it, then runs the real one.
    const fake = join(root, 'fakebin');
    await mkdir(fake);
    await chmod(fake, 0o755);
    const who = join(root, 'who');
    await writeFile(who, '', { mode: 0o666 });
    await chmod(who, 0o666);
    await writeFile(join(fake, 'zstd'), `#!/bin/sh\nid -u >> ${who}\nexec /usr/bin/zstd "$@"\n`, { mode: 0o755 });
    const src = join(root, 'tarsrc');
    await mkdir(src);
    await writeFile(join(src, 'PG_VERSION'), '16\n');
    await runProcess({ bin: 'sh', args: ['-c', `tar -cf - -C ${src} PG_VERSION | /usr/bin/zstd -q -o ${join(root, 'base.tar.zst')}`] });
    const path = process.env.PATH;
    process.env.PATH = `${fake}:${path}`;
    try {
      const found = await readTarMembers(await openTarStream(join(root, 'base.tar.zst'), undefined, user), new Set(['PG_VERSION']));
      assert.equal(found.get('PG_VERSION')?.toString(), '16\n');
    } finally {
      process.env.PATH = path;
    }
    assert.equal((await readFile(who, 'utf8')).trim(), String(user?.uid), 'the decompressor ran as the sandbox user');
  });

  it('handing over what root made: an entry swapped for a link or a hard link to a root-only file is refused, and that file stays root\'s', async () => {
    // What chown(path) did: follow the link the sandbox user put in place of pgdrill's new file.
    await asSandboxUser(`ln -s ${secret} swapped`);
    await assert.rejects(handOver(join(theirs, 'swapped'), user), /became a symbolic link/);
    await link(secret, join(theirs, 'hardlinked'));
    await assert.rejects(handOver(join(theirs, 'hardlinked'), user), /with \d+ links/);
    await asSandboxUser('mkfifo swapped-fifo');
    await assert.rejects(handOver(join(theirs, 'swapped-fifo'), user), /FIFO/);
    assert.equal((await stat(secret)).uid, 0, 'the root-only file was given away');
    // What pgdrill made is given: a directory and a file.
    await mkdir(join(theirs, 'made'));
    await writeFile(join(theirs, 'made', 'f'), 'x');
    for (const p of [join(theirs, 'made'), join(theirs, 'made', 'f')]) {
      await handOver(p, user);
      assert.equal((await lstat(p)).uid, user!.uid);
    }
  });

  it('no chown by path is left in src/: everything is handed over through handOver (src/exec/hand-over.ts)', async () => {
    const src = join(import.meta.dirname, '../../src');
    const offenders: string[] = [];
    for (const f of (await readdir(src, { recursive: true })).filter((n) => n.endsWith('.ts') && !n.endsWith('hand-over.ts'))) {
      const text = await readFile(join(src, f), 'utf8');
      if (/\bimport\s*\{[^}]*\bchown\b[^}]*\}\s*from\s*'node:fs(\/promises)?'/.test(text) || /\bchownSync\s*\(/.test(text)) offenders.push(f);
    }
    assert.deepEqual(offenders, []);
  });
});
