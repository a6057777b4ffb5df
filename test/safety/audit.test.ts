/**
 * Production safety proven against the source's own server log: everything sent under application_name pgdrill
 * (pgdrill, and the pg_dump/pg_dumpall it runs) is read-only; the report's audit is exactly what the log shows for
 * pgdrill's own sessions; no transaction on the source was assigned a transaction id (nothing wrote); data and
 * catalog are identical afterwards. And least privilege: a role that cannot write drills just as well.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { bins, psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { createAppDatabase, openSession } from '../helpers/safety.js';
import { normalizeSql, readStatements, STATEMENT_LOG_SETTINGS, whyNotReadOnlyLogged, type LoggedStatement } from '../helpers/server-log.js';
import { runDrill } from '../../src/drill/run-drill.js';
import { validateConfig } from '../../src/config/load.js';
import { FINGERPRINT_SQL } from '../../src/catalog/fingerprint.js';
import { measureWriteCapability } from '../../src/source/can-write.js';
import { DbSession } from '../../src/pg/client.js';
import { runProcess } from '../../src/exec/run-process.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import type { Report } from '../../src/report/model.js';

/** Everything that identifies the source's state: data of every table, the catalog, and the next transaction id. */
async function sourceState(source: SandboxCluster): Promise<Record<string, string>> {
  await using db = await openSession(source, 'app');
  const state: Record<string, string> = {};
  for (const t of ['customers', 'orders']) {
    state[`data ${t}`] = await db.value<string>(`SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) || ' ' || count(*) FROM ${t} x`);
  }
  state.seq = String(await db.value('SELECT last_value FROM orders_id_seq'));
  state.catalog = JSON.stringify(await db.query(FINGERPRINT_SQL));
  // xmax of a snapshot is the next transaction id to be assigned: any write by anyone would have moved it.
  state.next_xid = String(await db.value('SELECT txid_snapshot_xmax(txid_current_snapshot())'));
  return state;
}

describe('what reaches production, from its own server log', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  let initial: Record<string, string>;
  before(async () => {
    dir = await scratchDir();
    source = await startSource({ parentDir: dir.path, settings: STATEMENT_LOG_SETTINGS });
    await createAppDatabase(source, 'app');
    // The least-privilege role of the README: no superuser, no write privilege, member of pg_read_all_data.
    await psql(source, 'postgres', { sql: 'CREATE ROLE drill_ro LOGIN; GRANT pg_read_all_data TO drill_ro;' });
    await psql(source, 'app', { sql: 'CHECKPOINT' });
    initial = await sourceState(source);
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  /** Drill as `user`, and return the report with the log statements sent during it. */
  async function drillLogged(user: string, out: string): Promise<{ report: Report; logged: LoggedStatement[] }> {
    const offset = (await readStatements(source.logFile)).length;
    const r = await runDrill({ source: urlOf(source, 'app').replace(`${source.superuser}@`, `${user}@`), config: validateConfig({ source: { witness: 'counts' } }), outDir: join(dir.path, out) });
    assert.equal(r.exitCode, 0, JSON.stringify(r.report.checks.filter((c) => c.status === 'fail'), null, 1));
    return { report: r.report, logged: (await readStatements(source.logFile)).slice(offset) };
  }

  function assertLogReadOnly(logged: readonly LoggedStatement[]): void {
    const mine = logged.filter((l) => l.app === 'pgdrill');
    assert.ok(mine.length > 50, `the log shows pgdrill's statements (${mine.length})`);
    const bad = mine.map((l) => ({ l, why: whyNotReadOnlyLogged(l.sql) })).filter((x) => x.why);
    assert.deepEqual(bad.map((x) => `[${x.l.pid}] ${x.why}`), []);
  }

  /** The report's audit, per backend pid, is exactly the log's statements of that pid — nothing more, nothing less. */
  function assertAuditMatchesLog(report: Report, logged: readonly LoggedStatement[]): void {
    const own = report.production.audit.filter((a) => a.by === 'pgdrill');
    assert.ok(own.length > 5);
    assert.ok(own.every((a) => typeof a.pid === 'number'), 'every audit entry of pgdrill names its backend pid');
    const pids = new Set(own.map((a) => a.pid!));
    for (const pid of pids) {
      const audited = own.filter((a) => a.pid === pid).map((a) => normalizeSql(a.sql));
      const inLog = logged.filter((l) => l.pid === pid).map((l) => normalizeSql(l.sql));
      assert.deepEqual(inLog, audited, `backend ${pid}: server log = report audit`);
      assert.ok(logged.filter((l) => l.pid === pid).every((l) => l.app === 'pgdrill'));
    }
    // Every other pgdrill session in the log is one of its tools (pg_dump, pg_dumpall), and the audit names them.
    const tools = new Set(logged.filter((l) => l.app === 'pgdrill' && !pids.has(l.pid)).map((l) => l.pid));
    const dumpPid = [...tools].find((p) => logged.some((l) => l.pid === p && /^COPY public\.orders .* TO stdout/.test(l.sql)));
    const dumpallPid = [...tools].find((p) => logged.some((l) => l.pid === p && /FROM (pg_catalog\.)?pg_(roles|authid)\b/.test(l.sql)) && p !== dumpPid);
    assert.ok(dumpPid, 'pg_dump ran as application pgdrill');
    assert.ok(dumpallPid, 'pg_dumpall ran as application pgdrill');
    assert.ok(report.production.audit.some((a) => a.by === 'pg_dump' && /--snapshot=/.test(a.sql)));
    assert.ok(report.production.audit.some((a) => a.by === 'pg_dumpall'));
  }

  test('as a superuser: PASS; everything sent is read-only; the audit is what the log shows; the role could write', async () => {
    const { report, logged } = await drillLogged(source.superuser, 'out-su');
    assertLogReadOnly(logged);
    assertAuditMatchesLog(report, logged);
    assert.equal(report.production_untouched, true);
    assert.equal(report.source.user, source.superuser);
    assert.equal(report.source.is_superuser, true);
    assert.equal(report.source.can_write, true);
    assert.match(report.source.can_write_detail!, /superuser/);
    // pg_dump's sessions are read-only transactions in the exported snapshot, with ACCESS SHARE locks only.
    assert.ok(logged.some((l) => /^SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY$/.test(l.sql)));
    assert.ok(logged.some((l) => /^SET TRANSACTION SNAPSHOT '[0-9A-F-]+'$/.test(l.sql)));
    assert.ok(logged.some((l) => /^LOCK TABLE public\.orders IN ACCESS SHARE MODE$/.test(l.sql)));
    // The counts take no parallel workers from production: the snapshot session turns them off before its first count.
    const firstCount = logged.findIndex((l) => /^SELECT count\(\*\) FROM ONLY/.test(l.sql));
    assert.ok(firstCount >= 0, 'the counts are in the log');
    const noWorkers = logged.findIndex((l) => l.pid === logged[firstCount]!.pid && /^SET max_parallel_workers_per_gather = 0$/.test(l.sql));
    assert.ok(noWorkers >= 0 && noWorkers < firstCount, 'SET max_parallel_workers_per_gather = 0 precedes the counts on their session');
    // Nor does it compile them: JIT is off on that session (the counts never earn the compilation back).
    const noJit = logged.findIndex((l) => l.pid === logged[firstCount]!.pid && /^SET jit = off$/.test(l.sql));
    assert.ok(noJit >= 0 && noJit < firstCount, 'SET jit = off precedes the counts on their session');
  });

  test('least privilege: a pg_read_all_data role without superuser drills to PASS and is reported unable to write', async () => {
    const { report, logged } = await drillLogged('drill_ro', 'out-ro');
    assertLogReadOnly(logged);
    assertAuditMatchesLog(report, logged);
    assert.equal(report.source.user, 'drill_ro');
    assert.equal(report.source.is_superuser, false);
    assert.equal(report.source.can_write, false);
    assert.equal(report.source.can_write_detail, 'the role holds no write privilege on any table or schema');
    assert.equal(report.backup.globals?.mode, 'globals-only', 'PostgreSQL 15 lets it read the globals without passwords');
    assert.equal(report.checks.find((c) => c.name === 'restore.roles')?.status, 'pass');
    assert.ok(report.tables.length === 2 && report.tables.every((t) => t.match));
  });

  test('the source is identical afterwards: data, sequence, catalog, and no transaction id was assigned', async () => {
    assert.deepEqual(await sourceState(source), initial);
  });

  test('can_write is true as soon as the role holds one write privilege', async () => {
    await psql(source, 'app', { sql: 'CREATE ROLE drill_rw LOGIN; GRANT pg_read_all_data TO drill_rw; GRANT INSERT ON orders TO drill_rw;' });
    for (const [user, canWrite] of [['drill_ro', false], ['drill_rw', true]] as const) {
      // eslint-disable-next-line no-restricted-syntax -- an error here ends the test: no later iteration runs after it
      await using db = await DbSession.open({ ...source.connection('app'), user });
      const c = await measureWriteCapability(db);
      assert.equal(c.canWrite, canWrite, `${user}: ${c.detail}`);
    }
  });

  test('the log judge is not vacuous: a write sent under application_name pgdrill is caught', async () => {
    const offset = (await readStatements(source.logFile)).length;
    const b = await bins();
    await runProcess({ bin: b.path('psql'), args: ['-X', '-q', '-c', "INSERT INTO customers VALUES (9999, 'x', NULL)", '-c', 'SET default_transaction_read_only = off', '-c', "SELECT set_config('transaction_read_only', 'off', false)", '-c', 'COPY customers FROM stdin'], env: { ...source.env('app'), PGUSER: source.superuser, PGAPPNAME: 'pgdrill' }, stdin: (await import('node:stream')).Readable.from(['\\.\n']) });
    const logged = (await readStatements(source.logFile)).slice(offset).filter((l) => l.app === 'pgdrill');
    const reasons = logged.map((l) => whyNotReadOnlyLogged(l.sql));
    assert.equal(logged.length, 4);
    assert.ok(reasons.every((r) => r !== null), JSON.stringify(reasons));
    assert.notDeepEqual(await sourceState(source), initial, 'and the state comparison sees the write');
  });
});
