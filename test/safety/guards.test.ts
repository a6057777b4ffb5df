/**
 * Guards and locks: the sandbox is never the source (nor a clone of it) and listens on no TCP port; two drills at
 * once never collide, and a second drill of the same database is refused; an out directory inside a data directory
 * is refused; a table locked ACCESS EXCLUSIVE on the source fails the drill within the lock wait, naming the table
 * and the blocking pid; a drill whose locks would not fit the source's lock table is refused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { psql, scratchDir, startPhysicalCopy, startSource, urlOf, type PhysicalCopy } from '../helpers/clusters.js';
import { exists } from '../helpers/leftovers.js';
import { createAppDatabase, deadPid, holdLock, openSession, stderrWatcher, waitForNoPgdrillSessions, waitForPgdrillLockWait } from '../helpers/safety.js';
import { runProcess } from '../../src/exec/run-process.js';
import { runDrill } from '../../src/drill/run-drill.js';
import { drillLockPath } from '../../src/out-dir/drill-lock.js';
import { validateConfig } from '../../src/config/load.js';
import { GuardError } from '../../src/errors.js';
import { DbSession } from '../../src/pg/client.js';
import { isolationCheck, isolationProblems, measureIsolation } from '../../src/sandbox/isolation-check.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { ReportSchema } from '../../src/report/model.js';
import { CATALOG_LOCKS } from '../../src/source/lock-table.js';

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('guards', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  let sysid: string;
  before(async () => {
    dir = await scratchDir();
    source = await startSource({ parentDir: dir.path });
    await createAppDatabase(source, 'app');
    await createAppDatabase(source, 'app2');
    sysid = await source.systemIdentifier();
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  describe('the sandbox is never the source', () => {
    let clone: PhysicalCopy;
    let cloneSock: string;
    let clonePort: number;
    before(async () => {
      // A physical copy of the source (pg_basebackup) keeps its system_identifier: a clone or standby of production
      // is exactly what the isolation check must refuse. It also listens on TCP, which a sandbox must not.
      clonePort = await freePort();
      clone = await startPhysicalCopy(source, { port: clonePort, options: '-c listen_addresses=127.0.0.1' });
      cloneSock = clone.socketDir;
    });
    after(async () => {
      await clone?.[Symbol.asyncDispose]();
    });

    test('a clone of the source (same system_identifier) fails restore.isolation; so does a TCP listener', async () => {
      await using clone = await DbSession.open({ host: cloneSock, port: clonePort, user: source.superuser, database: 'postgres' });
      const e = await measureIsolation(clone, sysid);
      assert.equal(e.sandbox_system_identifier, sysid);
      assert.deepEqual(e.tcp_listeners, [`127.0.0.1:${clonePort}`]);
      const check = isolationCheck(e, cloneSock);
      assert.equal(check.status, 'fail');
      assert.match(check.detail, new RegExp(`system_identifier ${sysid} EQUALS the source's`));
      assert.match(check.detail, new RegExp(`listening TCP socket\\(s\\): 127\\.0\\.0\\.1:${clonePort}`));
      // Another source identity: only the TCP listener is wrong.
      const other = isolationProblems(await measureIsolation(clone, '1'));
      assert.equal(other.length, 2, other.join('; '));
      assert.ok(other.every((p) => /TCP/.test(p)));
    });

    test('the source itself fails restore.isolation; a pgdrill cluster (Unix socket only) passes', async () => {
      await using db = await openSession(source, 'postgres');
      const self = isolationCheck(await measureIsolation(db, sysid), source.socketDir);
      assert.equal(self.status, 'fail');
      assert.match(self.detail, /EQUALS the source's/);
      const e = await measureIsolation(db, '1');
      assert.equal(e.listen_addresses, '');
      assert.deepEqual(e.tcp_listeners, [], 'the TCP listeners were actually read');
      assert.equal(isolationCheck(e, source.socketDir).status, 'pass');
    });
  });

  test('an out directory inside a PostgreSQL data directory is refused (exit 3) and nothing is written there', async () => {
    const out = join(source.dataDir, 'drills');
    const r = await runCli(['run', '--source', urlOf(source, 'app'), '--out', out]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /out directory .* is inside the PostgreSQL data directory/);
    assert.equal(await exists(out), false);
  });

  test('a table held ACCESS EXCLUSIVE fails the drill within lock_wait_timeout, naming the table and the blocking pid', { timeout: 60_000 }, async () => {
    const holder = await holdLock(source, 'app', 'public.orders');
    let result: Awaited<ReturnType<typeof runDrill>>;
    try {
      result = await runDrill({ source: urlOf(source, 'app'), config: validateConfig({ backup: { lock_wait_timeout: '2s', globals: false } }), outDir: join(dir.path, 'out-lock') });
    } finally {
      await holder.release();
    }
    const { report } = result;
    assert.equal(result.exitCode, 1);
    const c = report.checks.find((x) => x.name === 'backup.locks');
    assert.equal(c?.status, 'fail', JSON.stringify(report.checks, null, 1));
    assert.match(c.detail, /could not lock table public\.orders within backup\.lock_wait_timeout \(2 s\)/);
    assert.match(c.detail, new RegExp(`pid ${holder.pid} holds ACCESS EXCLUSIVE on public\\.orders \\(application lock-holder`));
    assert.equal(report.backup.path, null);
    assert.equal(report.checks.find((x) => x.name === 'restore.skipped')?.status, 'skip');
    assert.ok(!(await readdir(report.run.dir)).some((f) => f.endsWith('.sql') || f.endsWith('.partial')));
    // The diagnosis itself was read-only and audited; production is untouched.
    assert.ok(report.production.audit.some((a) => /FROM pg_locks/.test(a.sql)));
    assert.equal(report.production_untouched, true);
  });

  // pg_dump bounds only its first lock on each table; a view or a sequence it locks later, when it reads it (with
  // lock_timeout 0), is watched by pgdrill: the drill fails as for a table, and pg_dump leaves the lock queue.
  for (const [kind, relation, hold] of [
    ['view', 'public.big_orders', 'ALTER VIEW public.big_orders OWNER TO postgres'],
    ['sequence', 'public.lonely_seq', 'ALTER SEQUENCE public.lonely_seq OWNER TO postgres'],
  ] as const) {
    test(`a ${kind} held ACCESS EXCLUSIVE (pg_dump locks it without a timeout) fails the drill, naming it and the blocking pid; pg_dump does not stay queued`, { timeout: 60_000 }, async () => {
      await psql(source, 'app', { sql: 'CREATE SEQUENCE IF NOT EXISTS public.lonely_seq' });
      await using holder = await openSession(source, 'app', 'lock-holder');
      await holder.query('BEGIN');
      await holder.query(hold);
      const pid = Number(await holder.value('SELECT pg_backend_pid()'));
      const result = await runDrill({ source: urlOf(source, 'app'), config: validateConfig({ backup: { lock_wait_timeout: '2s', globals: false } }), outDir: join(dir.path, `out-lock-${kind}`) });
      // Still held: pg_dump's backend was cancelled, not granted the lock.
      await waitForNoPgdrillSessions(source);
      await holder.query('ROLLBACK');
      const { report } = result;
      assert.equal(result.exitCode, 1);
      const c = report.checks.find((x) => x.name === 'backup.locks');
      assert.equal(c?.status, 'fail', JSON.stringify(report.checks, null, 1));
      assert.match(c.detail, new RegExp(`could not lock ${kind} ${relation.replace('.', '\\.')} within backup\\.lock_wait_timeout \\(2 s\\)`));
      assert.match(c.detail, new RegExp(`pid ${pid} holds ACCESS EXCLUSIVE on ${relation.replace('.', '\\.')} \\(application lock-holder`));
      assert.equal(report.backup.path, null);
      assert.ok(!(await readdir(report.run.dir)).some((f) => f.endsWith('.sql') || f.endsWith('.partial')));
      assert.ok(report.production.audit.some((a) => /FROM pg_locks l\s+JOIN pg_stat_activity/.test(a.sql)), 'the watch asked, read-only and audited');
      assert.equal(report.production_untouched, true);
    });
  }

  test("pgdrill's own sessions carry statement_timeout, lock_timeout and read-only", async () => {
    const r = await runDrill({ source: urlOf(source, 'app2'), config: validateConfig({ source: { statement_timeout: '45s' }, backup: { lock_wait_timeout: '7s', globals: false } }), outDir: join(dir.path, 'out-settings') });
    assert.equal(r.exitCode, 0, JSON.stringify(r.report.checks.filter((c) => c.status === 'fail')));
    assert.match(r.report.production.session_settings!, /default_transaction_read_only=on -c statement_timeout=45000 -c lock_timeout=7000/);
    // No JIT in pgdrill's catalog reads: the guard's session by a statement after the pins, the later ones at login.
    assert.match(r.report.production.session_settings!, /\(pgdrill's own sessions also -c jit=off\)/);
    const guardPid = r.report.production.audit[0]!.pid;
    const guardSql = r.report.production.audit.filter((a) => a.pid === guardPid).map((a) => a.sql);
    assert.ok(guardSql.indexOf('SET jit = off') > 0 && guardSql.indexOf('SET jit = off') < guardSql.findIndex((q) => q.includes('md5(string_agg')), guardSql.join('\n'));
    // The lock watch asks only when the dump goes silent: not once in a drill that never waited.
    assert.ok(!r.report.production.audit.some((a) => /JOIN pg_stat_activity a ON a\.pid = l\.pid/.test(a.sql)), 'no lock watch query');
  });

  describe('two drills at once', () => {
    test('of different databases into the same --out: both PASS, each with its own run directory, sandbox and socket', async () => {
      const out = join(dir.path, 'out-concurrent');
      const [a, b] = await Promise.all(['app', 'app2'].map((db) => runCli(['run', '--source', urlOf(source, db), '--out', out, '--json'])));
      assert.equal(a!.code, 0, a!.stderr);
      assert.equal(b!.code, 0, b!.stderr);
      const [ra, rb] = [a!, b!].map((r) => ReportSchema.parse(JSON.parse(r.stdout)));
      assert.notEqual(ra!.run.dir, rb!.run.dir);
      assert.notEqual(ra!.restore!.data_dir, rb!.restore!.data_dir);
      assert.notEqual(ra!.restore!.socket_dir, rb!.restore!.socket_dir);
      // Two servers at once (copies of one initdb template share a system_identifier: each differs from the source's).
      assert.notEqual(ra!.teardown.postmaster_pid, rb!.teardown.postmaster_pid);
      for (const r of [ra!, rb!]) {
        assert.equal(r.teardown.confirmed, true);
        assert.equal(r.checks.find((c) => c.name === 'restore.isolation')?.status, 'pass');
      }
      assert.deepEqual((await readdir(out)).filter((f) => f.endsWith('.lock')), [], 'locks released');
    });

    test('of the same database into the same --out: the second is refused (exit 3) naming the first; the first PASSes', { timeout: 120_000 }, async () => {
      const out = join(dir.path, 'out-same');
      const cfg = join(dir.path, 'slow-lock.yaml');
      await writeFile(cfg, 'backup:\n  lock_wait_timeout: 60s\n  globals: false\n');
      // Hold the first drill inside its backup (waiting for a lock) so that the second surely starts meanwhile.
      const holder = await holdLock(source, 'app', 'public.customers');
      const w = stderrWatcher();
      const first = runCli(['run', '--source', urlOf(source, 'app'), '--config', cfg, '--out', out], { onStderr: w.onStderr });
      let second: Awaited<ReturnType<typeof runCli>>;
      try {
        const { pid } = await w.next(/^pgdrill: backup/);
        await waitForPgdrillLockWait(source);
        second = await runCli(['run', '--source', urlOf(source, 'app'), '--out', out]);
        assert.equal(second.code, 3, second.stderr);
        assert.match(second.stderr, new RegExp(`another drill of database "app" is running into .*: pid ${pid} on ${hostname()}`));
      } finally {
        await holder.release();
      }
      const r = await first;
      assert.equal(r.code, 0, r.stderr);
      assert.equal((await readdir(out)).filter((f) => !f.startsWith('.')).length, 1, 'the refused drill created no run directory');
      assert.equal(await exists(drillLockPath(out, 'app')), false, 'lock released');
      await waitForNoPgdrillSessions(source);
    });

    test('a stale lock (its drill is gone) is taken over; a live one is refused by the library too', async () => {
      const out = join(dir.path, 'out-stale');
      const lock = drillLockPath(out, 'app2');
      await runProcess({ bin: '/bin/mkdir', args: ['-p', out] });
      await writeFile(lock, JSON.stringify({ pid: await deadPid(), host: hostname(), start_ticks: null, database: 'app2', started_at: '2026-01-01T00:00:00Z', token: 'x' }));
      const ok = await runDrill({ source: urlOf(source, 'app2'), config: validateConfig({ backup: { globals: false } }), outDir: out });
      assert.equal(ok.exitCode, 0);
      assert.equal(await exists(lock), false);
      // A live owner (this test process) holds it: refused before anything is done.
      await writeFile(lock, JSON.stringify({ pid: process.pid, host: hostname(), start_ticks: null, database: 'app2', started_at: '2026-01-01T00:00:00Z', token: 'y' }));
      const before = await readdir(out);
      await assert.rejects(runDrill({ source: urlOf(source, 'app2'), outDir: out }), (e: unknown) => e instanceof GuardError && e.exitCode === 3 && new RegExp(`pid ${process.pid}`).test(e.message));
      assert.deepEqual(await readdir(out), before);
      assert.equal(JSON.parse(await readFile(lock, 'utf8')).token, 'y', 'a live lock is never removed');
      await rm(lock);
    });
  });

  describe("the source's lock table", () => {
    // A server whose lock table is small: max_locks_per_transaction 30 with 20 connections (1,260 locks documented).
    let small: SandboxCluster;
    let capacity: number;
    const tables = async (db: string, n: number) => {
      await psql(small, 'postgres', { sql: `CREATE DATABASE ${db}` });
      for (let from = 1; from <= n; from += 100) {
        await psql(small, db, { sql: `DO $$ BEGIN FOR i IN ${from}..${Math.min(n, from + 99)} LOOP EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY)', i); END LOOP; END $$;` });
      }
    };
    // Each table: 1 lock (pg_dump's; the round trip takes the source's schema from the dump, no schema-only pg_dump);
    // the snapshot session's one batch of counts: 50 tables with their index, 100 locks; ~450 on the system catalogs.
    const fixed = 100 + CATALOG_LOCKS;
    before(async () => {
      small = await startSource({ parentDir: dir.path, label: 'small-lock-table', settings: { max_locks_per_transaction: '30', max_connections: '20' } });
      const slots = await psql(small, 'postgres', { sql: "SELECT current_setting('max_connections')::int + current_setting('autovacuum_max_workers')::int + 1 + current_setting('max_worker_processes')::int + current_setting('max_wal_senders')::int + current_setting('max_prepared_transactions')::int" });
      capacity = 30 * Number(slots.trim());
      await tables('few', 5);
      await tables('half', capacity - fixed - 10); // more than half of the lock table, less than all of it
      await tables('many', capacity - fixed + 5); // more than all of it
      // Few tables, but views and sequences, which pg_dump reads and so locks until it ends.
      await psql(small, 'postgres', { sql: 'CREATE DATABASE objects' });
      await psql(small, 'objects', { sql: `CREATE TABLE t (id int PRIMARY KEY); DO $$ BEGIN FOR i IN 1..${Math.floor(capacity / 3)} LOOP EXECUTE format('CREATE SEQUENCE s%s; CREATE VIEW v%s AS SELECT * FROM t', i, i); END LOOP; END $$;` });
    });
    after(async () => {
      await small?.stop();
    });

    test('a drill that would fill it is refused (exit 3) before anything is done (at the configured share); above half it warns; below, it passes', async () => {
      const out = join(dir.path, 'out-locks');
      const refused = await runCli(['run', '--source', urlOf(small, 'many'), '--out', out]);
      assert.equal(refused.code, 3, refused.stderr);
      const many = capacity - fixed + 5;
      assert.match(refused.stderr, new RegExp(`${many} table\\(s\\), 0 view\\(s\\)/materialized view\\(s\\)/foreign table\\(s\\), 0 sequence\\(s\\): pg_dump ${many} \\+ the snapshot session at most 100 .* \\+ ~${CATALOG_LOCKS} on the system catalogs = ~${many + fixed} locks held at once, \\d+% of the source's lock table \\(max_locks_per_transaction 30 × \\d+ server slots = ${capacity}\\)`));
      assert.match(refused.stderr, /out of shared memory/);
      assert.deepEqual((await readdir(out).catch(() => [] as string[])).filter((f) => f.startsWith('many-')), [], 'no run directory');
      await waitForNoPgdrillSessions(small);
      // The threshold is the config's: at half the lock table, the half-full drill is refused too.
      const strict = join(dir.path, 'strict-locks.yaml');
      await writeFile(strict, 'source:\n  max_lock_table_share: 0.5\n');
      const halfRefused = await runCli(['run', '--source', urlOf(small, 'half'), '--config', strict, '--out', out]);
      assert.equal(halfRefused.code, 3, halfRefused.stderr);
      assert.match(halfRefused.stderr, /source\.max_lock_table_share is 0\.5/);

      const half = await runCli(['run', '--source', urlOf(small, 'half'), '--out', out, '--json']);
      assert.equal(half.code, 0, half.stderr);
      const warned = ReportSchema.parse(JSON.parse(half.stdout)).checks.find((c) => c.name === 'guard.lock_table');
      assert.equal(warned?.status, 'warn', warned?.detail);
      assert.match(warned.detail, /more than half of it/);

      // Views and sequences count: a third of the lock table in each, read by pg_dump.
      const objects = await runCli(['run', '--source', urlOf(small, 'objects'), '--out', out]);
      assert.equal(objects.code, 3, objects.stderr);
      const n = Math.floor(capacity / 3);
      assert.match(objects.stderr, new RegExp(`1 table\\(s\\), ${n} view\\(s\\)/materialized view\\(s\\)/foreign table\\(s\\), ${n} sequence\\(s\\): pg_dump ${2 * n + 1} \\+ the snapshot session at most ${n + 1} `));
      await waitForNoPgdrillSessions(small);

      const few = await runCli(['run', '--source', urlOf(small, 'few'), '--out', out, '--json']);
      assert.equal(few.code, 0, few.stderr);
      assert.equal(ReportSchema.parse(JSON.parse(few.stdout)).checks.find((c) => c.name === 'guard.lock_table')?.status, 'pass');
    });
  });
});
