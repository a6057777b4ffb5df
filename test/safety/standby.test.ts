/**
 * A standby as the source: the drill PASSes (the report says the source was in recovery; its database defaults to
 * serializable transactions, which a standby refuses to start) with `guard.standby`
 * warning when nothing keeps replay from cancelling the dump; and when replay does cancel it (a VACUUM on the
 * primary, replayed with max_standby_streaming_delay 0 while pg_dump is in its COPY), the drill FAILs as
 * `backup.recovery_conflict` naming the settings and the remedy, leaving no backup.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runDrill } from '../../src/drill/run-drill.js';
import { validateConfig } from '../../src/config/load.js';
import { DbSession } from '../../src/pg/client.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { psql, scratchDir, startPhysicalCopy, startSource, type PhysicalCopy } from '../helpers/clusters.js';
import { createAppDatabase, openSession, waitFor } from '../helpers/safety.js';
import type { ProgressEvent } from '../../src/logger.js';

describe('a standby as the source', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let primary: SandboxCluster;
  let standby: PhysicalCopy;
  const standbyUrl = () => `postgresql://${primary.superuser}@/app?host=${encodeURIComponent(standby.socketDir)}&port=${standby.port}`;
  // (The database makes every transaction serializable, which a standby refuses: the test's own sessions say otherwise.)
  const standbySession = () => DbSession.open({
    host: standby.socketDir, port: standby.port, user: primary.superuser, database: 'app', application_name: 'pgdrill-test',
    options: '-c default_transaction_isolation=read\\ committed',
  });

  /** This process's pg_dump child that dumps data (not the round trip's schema-only one), read synchronously from /proc. */
  const pgDumpPid = (): number | null => {
    for (const p of readdirSync('/proc')) {
      if (!/^\d+$/.test(p)) continue;
      try {
        const st = readFileSync(`/proc/${p}/stat`, 'utf8');
        if (Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) !== process.pid) continue;
        const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
        if (/pg_dump\0.*--snapshot=/.test(cmd) && !/--schema-only/.test(cmd)) return Number(p);
      } catch {
        /* exited */
      }
    }
    return null;
  };

  before(async () => {
    dir = await scratchDir();
    primary = await startSource({ parentDir: dir.path, label: 'primary' });
    await createAppDatabase(primary, 'app');
    // ~65 MB of COPY data: when pg_dump is stopped in it, far more is left than the pipes and socket buffers between
    // it and its backend hold, so the backend is still copying rows (and checks for the cancel) when it resumes.
    await psql(primary, 'app', { sql: "CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 4) AS pad FROM generate_series(1, 500000) g" });
    // An application's own default, legal on the primary: on a standby no serializable transaction can start ("cannot
    // use serializable mode in a hot standby"), so pgdrill's sessions must not take it (pg_dump sets its own).
    await psql(primary, 'app', { sql: "ALTER DATABASE app SET default_transaction_isolation = 'serializable'; ALTER DATABASE app SET default_transaction_deferrable = on" });
    // -R: standby.signal and primary_conninfo (the primary's socket). Replay cancels a conflicting query at once.
    standby = await startPhysicalCopy(primary, { standby: true, port: 5433, options: "-c listen_addresses='' -c max_standby_streaming_delay=0 -c hot_standby_feedback=off" });
    await waitFor('the standby in recovery', async () => {
      await using db = await standbySession();
      return (await db.value<boolean>('SELECT pg_is_in_recovery()')) === true;
    });
  });
  after(async () => {
    await standby?.[Symbol.asyncDispose]();
    await primary?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  test('a drill PASSes (the database defaults to serializable transactions); guard.standby warns that nothing protects the dump from replay', async () => {
    const { report, exitCode } = await runDrill({ source: standbyUrl(), config: validateConfig({ backup: { globals: false } }), outDir: join(dir.path, 'out-ok') });
    assert.equal(exitCode, 0, JSON.stringify(report.checks.filter((c) => c.status === 'fail')));
    assert.equal(report.source.in_recovery, true);
    const g = report.checks.find((c) => c.name === 'guard.standby');
    assert.equal(g?.status, 'warn', g?.detail);
    assert.match(g.detail, /the source is a standby \(hot_standby_feedback off, max_standby_streaming_delay 0, max_standby_archive_delay 30s\): a VACUUM on the primary can make the standby cancel a dump/);
    assert.equal(report.tables.find((t) => t.name === 'orders')?.restored_rows, 2000);
  });

  test('replay cancels the dump: backup.recovery_conflict FAILs naming the settings and the remedy; no backup kept', { timeout: 120_000 }, async () => {
    await using watch = await standbySession();
    // At the dump's first bytes (pgdrill's progress callback, synchronous), pg_dump is stopped; then it is let run 10 ms
    // at a time until the standby shows its COPY of the big table: stopped there, its backend blocks on the full socket
    // with the query active and the snapshot held.
    let caught: (pid: number) => void;
    const stopped = new Promise<number>((resolve) => (caught = resolve));
    let pid: number | null = null;
    const progress = (e: ProgressEvent) => {
      if (pid !== null || e.stage !== 'backup' || e.state !== 'progress') return;
      pid = pgDumpPid();
      if (pid !== null) {
        process.kill(pid, 'SIGSTOP');
        caught(pid);
      }
    };
    const run = runDrill({ source: standbyUrl(), config: validateConfig({ backup: { globals: false } }), outDir: join(dir.path, 'out-conflict'), progress });
    // A drill that ends before pg_dump was caught fails the test with what it reported, not with a timeout.
    const ended = run.then(({ report }) => {
      throw new Error(`the drill ended before pg_dump was caught in its COPY: ${report.status} ${JSON.stringify(report.checks.filter((c) => c.status === 'fail'))}`);
    });
    ended.catch(() => {});
    const copying = async () => Number(await watch.value("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgdrill' AND state = 'active' AND query LIKE 'COPY public.big %'")) > 0;
    const pgDump = await Promise.race([ended, (async () => {
      const p = await stopped;
      await waitFor('pg_dump in its COPY of public.big', async () => {
        if (await copying()) return true;
        process.kill(p, 'SIGCONT');
        await new Promise((r) => setTimeout(r, 10));
        process.kill(p, 'SIGSTOP');
        return false;
      }, 60_000, 0);
      return p;
    })()]);
    try {
      // Dead row versions removed on the primary: their replay conflicts with every older snapshot of the database.
      await using p = await openSession(primary, 'app');
      await p.query('UPDATE customers SET email = email');
      await p.query('VACUUM customers');
      await p.query('UPDATE customers SET email = email WHERE id = 1'); // a commit flushes the WAL to the standby
      const lsn = await p.value<string>('SELECT pg_current_wal_lsn()::text');
      // Replay stops at the VACUUM, waiting for the stopped COPY (a backend blocked writing to its client takes the
      // cancel once it can write again, at its next row): pg_dump is let go only then.
      await waitFor('replay held at the VACUUM', async () => (await watch.value<boolean>(
        `SELECT pg_last_wal_receive_lsn() >= '${lsn}'::pg_lsn AND pg_last_wal_replay_lsn() < '${lsn}'::pg_lsn`)) === true);
    } finally {
      process.kill(pgDump, 'SIGCONT');
    }
    const { report, exitCode } = await run;
    assert.equal(exitCode, 1);
    const c = report.checks.find((x) => x.name === 'backup.recovery_conflict');
    assert.equal(c?.status, 'fail', JSON.stringify(report.checks.filter((x) => x.status === 'fail')));
    assert.match(c.detail, /^the standby cancelled the dump to replay WAL from the primary \(ERROR: (canceling statement|terminating connection) due to conflict with recovery.*\) — no backup was kept\. Its settings: hot_standby_feedback off, max_standby_streaming_delay 0, .*set hot_standby_feedback = on/);
    assert.equal(report.backup.path, null);
    assert.ok(!(await readdir(report.run.dir)).some((f) => f.endsWith('.sql') || f.endsWith('.partial')));
  });
});
