/**
 * A physical copy never reaches production's publisher or foreign servers (docs/physical.md › Isolation,
 * docs/jail.md › Egress). The victim is a "publisher" cluster (wal_level=logical, log_connections=on) whose Unix
 * socket the sandbox's OS user can reach; the archived source subscribes to its publication (the subscription's
 * slot lives on the victim) and has a postgres_fdw foreign table pointing at it. A base backup of the source, with
 * its WAL archive, carries both — the subscription enabled. Each drill runs with the jail forced weaker than the
 * machine's ('none': no namespace at all; 'root': `unshare --net` on the host's file system, where the victim's
 * socket is reachable), in process, as the CLI's `verify BASEBACKUP --wal DIR` runs it, and once through the CLI in
 * the machine's default jail. The proof is the victim's
 * own state: the connections its log recorded during the drill, its slot's confirmed_flush_lsn, pg_stat_replication.
 * The control switches the egress settings off (disableEgressSettingsForTests) and sees the copy's apply worker
 * connect: the victim is reachable and the subscription live, so the clean cases prove something.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { resolveSandboxUser } from '../../src/exec/os-user.js';
import { verifyPhysical } from '../../src/physical/verify-physical.js';
import type { Report } from '../../src/report/model.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { disableEgressSettingsForTests } from '../../src/sandbox/egress-settings.js';
import { forceJailModeForTests } from '../../src/sandbox/jail.js';
import { runCli } from '../helpers/cli.js';
import { psql, scratchDir, startSource } from '../helpers/clusters.js';
import { baseBackup, ownedDir, sqlOn, switchWal } from './archive-fixture.js';
import { connectionsDuring } from '../helpers/server-log.js';

const failures = (r: Report) => r.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`).join('\n');
const check = (r: Report, name: string) => r.checks.find((c) => c.name === name);

describe('a physical copy does not reach production\'s publisher or foreign servers, in every jail mode', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let victim: SandboxCluster;
  let source: SandboxCluster | undefined;
  let archive: string;
  let backup: string;

  before(async () => {
    scratch = await scratchDir('pgdrill-physegress-');
    await chmod(scratch.path, 0o755); // the source's OS user must reach the archive below it
    const user = await resolveSandboxUser();
    archive = await ownedDir(join(scratch.path, 'archive'), user);
    victim = await startSource({ parentDir: scratch.path, label: 'publisher', settings: { log_connections: 'on', wal_level: 'logical' } });
    await psql(victim, 'postgres', { sql: 'CREATE DATABASE prod' });
    await psql(victim, 'prod', { sql: "CREATE TABLE public.accounts (id int PRIMARY KEY, v text); INSERT INTO public.accounts VALUES (1, 'prod-row'); CREATE PUBLICATION pub FOR TABLE public.accounts" });
    // The source's own jail shows it the archive and the victim's socket directory (a test cluster runs in bwrap too).
    source = await startSource({
      parentDir: scratch.path, shared: [archive, victim.socketDir],
      settings: { archive_mode: 'on', archive_command: `'cp %p ${archive}/%f'`, wal_level: 'replica', full_page_writes: 'on' },
    });
    await psql(source, 'postgres', { sql: 'CREATE TABLE t (id int, v text)' });
    await psql(source, 'postgres', { sql: 'CREATE DATABASE app' });
    const conninfo = `host=${victim.socketDir} port=${victim.port} dbname=prod user=${victim.superuser}`;
    await psql(source, 'app', { sql: `CREATE TABLE public.accounts (id int PRIMARY KEY, v text);
      CREATE EXTENSION postgres_fdw;
      CREATE SERVER prod FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '${victim.socketDir}', port '${victim.port}', dbname 'prod');
      CREATE USER MAPPING FOR PUBLIC SERVER prod OPTIONS (user '${victim.superuser}');
      CREATE FOREIGN TABLE public.remote_accounts (id int, v text) SERVER prod OPTIONS (table_name 'accounts');
      CREATE VIEW public.remote_view AS SELECT * FROM public.remote_accounts;
      CREATE TABLE public.local (id int PRIMARY KEY, v text); INSERT INTO public.local SELECT g, 'r' || g FROM generate_series(1, 50) g;` });
    await psql(source, 'app', { sql: `CREATE SUBSCRIPTION sub CONNECTION '${conninfo}' PUBLICATION pub` });
    // The initial copy done and the subscription streaming: the backup carries it enabled, in state ready.
    for (let i = 0; (await psql(source, 'app', { sql: "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate = 'r'" })).trim() !== '1'; i++) {
      if (i === 600) throw new Error('the subscription never finished its initial copy');
      await sleep(100);
    }
    assert.equal((await psql(source, 'app', { sql: 'SELECT count(*) FROM public.accounts' })).trim(), '1');
    const s = sqlOn(source);
    await switchWal(s, archive, 1);
    backup = (await baseBackup(source, join(await ownedDir(join(scratch.path, 'b'), user), 'base'))).dir;
    await switchWal(s, archive, 2);
    // The source stops (as if production's subscriber were elsewhere): the slot is free for whoever connects.
    await source.stop();
    source = undefined;
    // Something for an apply worker to receive, and to confirm: its slot's confirmed_flush_lsn would move.
    await psql(victim, 'prod', { sql: "INSERT INTO public.accounts VALUES (2, 'after the backup'); SELECT pg_switch_wal()" });
  });
  after(async () => {
    forceJailModeForTests(null);
    disableEgressSettingsForTests(false);
    await source?.stop();
    await victim?.stop();
    await scratch?.[Symbol.asyncDispose]();
  });

  /** The publisher's slot and walsenders. */
  async function slotState(): Promise<string> {
    return (await psql(victim, 'prod', { sql: "SELECT coalesce(confirmed_flush_lsn::text, '-') || ' ' || active FROM pg_replication_slots WHERE slot_name = 'sub'" })).trim();
  }
  async function walsenders(): Promise<number> {
    return Number((await psql(victim, 'postgres', { sql: 'SELECT count(*) FROM pg_stat_replication' })).trim());
  }

  /** The connections the victim logged while `f` ran, and its slot before and after. */
  async function watched<T>(f: () => Promise<T>): Promise<{ result: T; connections: string[]; slotBefore: string; slotAfter: string }> {
    const slotBefore = await slotState();
    const { result, connections } = await connectionsDuring(victim.logFile, f);
    return { result, connections, slotBefore, slotAfter: await slotState() };
  }

  let n = 0;
  const drill = () => verifyPhysical({ artifact: backup, wal: archive, outDir: join(scratch.path, `out-${++n}`) });

  for (const mode of ['none', 'root'] as const) {
    test(`jail ${mode}: verify to latest PASSes; the publisher sees no connection, its slot does not move; both settings in report.json`, async () => {
      forceJailModeForTests(mode);
      const w = await watched(drill).finally(() => forceJailModeForTests(null));
      const { report, runDir, exitCode } = w.result;
      assert.equal(exitCode, 0, failures(report));
      assert.deepEqual(w.connections, [], 'the victim logged a connection during the drill');
      assert.equal(w.slotAfter, w.slotBefore, 'the publisher\'s slot moved');
      assert.match(w.slotAfter, / false$/, 'the slot is not in use');
      assert.equal(await walsenders(), 0);
      // The copy holds the subscription's table as the backup had it, and the local one; the foreign table is not counted.
      const rows = (name: string) => report.tables.find((t) => t.schema === 'app/public' && t.name === name)?.restored_rows;
      assert.equal(rows('accounts'), 1);
      assert.equal(rows('local'), 50);
      assert.equal(rows('remote_accounts'), undefined, 'a foreign table is not counted');
      for (const name of ['restore.physical_isolation', 'fidelity.databases', 'fidelity.amcheck', 'teardown.confirmed']) {
        assert.equal(check(report, name)?.status, 'pass', `${name}: ${check(report, name)?.detail}`);
      }
      const onDisk = JSON.parse(await readFile(join(runDir, 'report.json'), 'utf8')) as Report;
      const settings = (check(onDisk, 'restore.physical_isolation')?.evidence as { settings: Record<string, string> }).settings;
      assert.equal(settings.max_logical_replication_workers, '0');
      assert.equal(settings.restrict_nonsystem_relation_kind, 'foreign-table');
      assert.equal(onDisk.physical?.isolation.settings.max_logical_replication_workers, '0');
    });
  }

  test('CLI, default jail: `pgdrill verify BASEBACKUP --wal DIR` PASSes, the publisher sees no connection, both settings reported', async () => {
    const w = await watched(() => runCli(['verify', backup, '--wal', archive, '--out', join(scratch.path, `out-${++n}`), '--json']));
    assert.ok(w.result.stdout.trim().startsWith('{'), `no JSON report (exit ${w.result.code}): ${w.result.stderr.slice(-2000)}`);
    const report = JSON.parse(w.result.stdout) as Report;
    assert.equal(w.result.code, 0, failures(report));
    assert.deepEqual(w.connections, []);
    assert.equal(w.slotAfter, w.slotBefore);
    assert.equal(report.physical?.isolation.settings.max_logical_replication_workers, '0');
    assert.equal(report.physical?.isolation.settings.restrict_nonsystem_relation_kind, 'foreign-table');
  });

  test('control: with the egress settings switched off (jail none), the copy\'s apply worker connects to the publisher', async () => {
    forceJailModeForTests('none');
    disableEgressSettingsForTests(true);
    const w = await watched(drill).finally(() => {
      forceJailModeForTests(null);
      disableEgressSettingsForTests(false);
    });
    const { report } = w.result;
    assert.equal(check(report, 'restore.physical_isolation')?.status, 'pass', failures(report));
    assert.notEqual(report.physical?.isolation.settings.max_logical_replication_workers, '0');
    assert.ok(w.connections.some((l) => /replication connection authorized: user=\S+ application_name=sub\b/.test(l)),
      `the publisher logged no apply worker's connection:\n${w.connections.join('\n')}`);
    // Only the subscription's walsender: pgdrill's own counts and amcheck never read the foreign table, even unrestricted.
    assert.deepEqual(w.connections.filter((l) => / connection authorized: /.test(l) && !/replication connection authorized/.test(l)), []);
  });
});
