/**
 * The source is released as soon as pg_dump is done with it, not when the restore has caught up: with the replay's
 * psql stopped (SIGSTOP) mid-dump, the backup stage waits for it (the dump is far larger than what may wait in
 * psql's input), yet on the source no pgdrill session keeps a transaction, a snapshot or a lock once pg_dump has
 * exited. The dump's SHA256SUMS re-read has happened meanwhile, beside the stalled restore.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { createAppDatabase, openSession, stderrWatcher, waitFor } from '../helpers/safety.js';
import { ReportSchema } from '../../src/report/model.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';

/** pgdrill's sessions on the source that hold a transaction, a snapshot or a relation lock. */
async function holding(source: SandboxCluster): Promise<{ pid: number; state: string; query: string }[]> {
  await using db = await openSession(source, 'postgres');
  return await db.query<{ pid: number; state: string; query: string }>(
    `SELECT a.pid, a.state, a.query FROM pg_stat_activity a
      WHERE a.application_name = 'pgdrill' AND a.pid <> pg_backend_pid()
        AND (a.xact_start IS NOT NULL OR a.backend_xmin IS NOT NULL
             OR EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'relation'))`,
  );
}

describe('the source during an overlapped restore', () => {
  test('is released once pg_dump exited, while the restore still runs; the dump was re-read meanwhile', async () => {
    await using dir = await scratchDir();
    const source = await startSource({ parentDir: dir.path });
    try {
      await createAppDatabase(source, 'shop');
      // ~14 MB of COPY data: far more than the 4 MiB the gate lets wait in psql's input.
      await psql(source, 'shop', { sql: "CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 4) AS pad FROM generate_series(1, 100000) g" });
      let stderr = '';
      const w = stderrWatcher();
      const run = runCli(['run', '--source', urlOf(source, 'shop'), '--out', join(dir.path, 'out'), '--json'], {
        env: { PGDRILL_DEBUG: '1' }, onStderr: (s, pid) => ((stderr += s), w.onStderr(s, pid)),
      });
      const { line } = await w.next(/overlapped restore: psql \(pid \d+\)/);
      const psqlPid = Number(/psql \(pid (\d+)\)/.exec(line)![1]);
      process.kill(psqlPid, 'SIGSTOP');
      try {
        // pg_dump runs at its own pace into its file; once it exited, nothing of pgdrill holds the source.
        await waitFor('no pgdrill session holding the source', async () => (await holding(source)).length === 0, 30_000, 100).catch(async (e) => { throw new Error(`${e.message}: ${JSON.stringify(await holding(source))}`); });
        assert.doesNotMatch(stderr, /dump stream complete/, 'the restore had not caught up: the backup stage was still running');
      } finally {
        process.kill(psqlPid, 'SIGCONT');
      }
      const r = await run;
      const report = ReportSchema.parse(JSON.parse(r.stdout));
      assert.equal(r.code, 0, JSON.stringify(report.checks.filter((c) => c.status === 'fail')));
      const self = report.checks.find((c) => c.name === 'backup.sha256_self_check');
      assert.match(self?.detail ?? '', /the dump re-read from disk once pg_dump had exited/);
      assert.equal((self?.evidence as { dump_reread_after_exit?: boolean }).dump_reread_after_exit, true);
      assert.ok(report.production.audit.some((a) => a.sql === 'ROLLBACK'), 'the snapshot transaction was ended');
    } finally {
      await source.stop();
    }
  });
});
