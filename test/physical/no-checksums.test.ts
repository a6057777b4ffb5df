/**
 * A physical backup of a cluster without data checksums, with a damaged page: pg_checksums has nothing to check
 * (fidelity.pg_checksums skips), so reading the pages is what finds it — fidelity.databases (count(*) hits the
 * page) and fidelity.amcheck FAIL. No WAL archive: recovery to the end of the backup (immediate).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveSandboxUser } from '../../src/exec/os-user.js';
import { runProcess } from '../../src/exec/run-process.js';
import type { Report } from '../../src/report/model.js';
import { SandboxCluster } from '../../src/sandbox/cluster.js';
import { runCli } from '../helpers/cli.js';
import { bins, psql, scratchDir, silentLogger } from '../helpers/clusters.js';

describe('verify of a pg_basebackup without data checksums', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let backup: string;
  let relFile: string;
  before(async () => {
    scratch = await scratchDir('pgdrill-phys-nock-');
    await chmod(scratch.path, 0o711);
    const b = await bins();
    const user = await resolveSandboxUser();
    const backups = join(scratch.path, 'backups');
    await mkdir(backups);
    if (user) await chown(backups, user.uid, user.gid);
    await using source = await SandboxCluster.start({
      bins: b, parentDir: scratch.path, osUser: user, logger: silentLogger, superuser: 'postgres', label: 'phys-nock-source', shared: [backups],
      populate: async (dataDir, jailed) => {
        await runProcess({ ...jailed(b.path('initdb'), ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '--no-sync', '--no-instructions']) });
        return {};
      },
      settings: { wal_level: 'replica', max_wal_senders: '2' },
    });
    await psql(source, 'postgres', { sql: "CREATE TABLE steady AS SELECT g, repeat('x', 50) AS pad FROM generate_series(1, 2000) g" });
    await psql(source, 'postgres', { sql: 'VACUUM FREEZE steady' });
    relFile = (await psql(source, 'postgres', { sql: "SELECT pg_relation_filepath('steady')" })).trim();
    backup = join(backups, 'plain');
    await runProcess({ bin: join(b.server.bindir, 'pg_basebackup'), args: ['-h', source.socketDir, '-p', String(source.port), '-U', 'postgres', '--checkpoint=fast', '--no-sync', '-D', backup, '-Fp', '--no-manifest'], uid: user?.uid, gid: user?.gid });
  });
  after(async () => {
    await scratch?.[Symbol.asyncDispose]();
  });

  it('a page header damaged: pg_checksums skips, the counts and pg_amcheck FAIL naming the table', async () => {
    const fh = await open(join(backup, relFile), 'r+');
    await fh.write(Buffer.from([0xff, 0xff, 0x01, 0x00]), 0, 4, 12); // pd_lower > pd_upper: no page is like that
    await fh.close();
    const r = await runCli(['verify', backup, '--out', join(scratch.path, 'out'), '--json']);
    assert.equal(r.code, 1, r.stderr.slice(-2000));
    const report = JSON.parse(r.stdout) as Report;
    const check = (name: string) => report.checks.find((c) => c.name === name);
    assert.equal(check('restore.recovery_target')?.status, 'pass', check('restore.recovery_target')?.detail);
    assert.equal(check('fidelity.pg_checksums')?.status, 'skip');
    assert.equal(report.physical?.data_checksums, false);
    assert.equal(check('fidelity.databases')?.status, 'fail');
    assert.match(check('fidelity.databases')!.detail, /invalid page/);
    assert.equal(check('fidelity.amcheck')?.status, 'fail', check('fidelity.amcheck')?.detail);
    await rm(backup, { recursive: true, force: true });
  });
});
