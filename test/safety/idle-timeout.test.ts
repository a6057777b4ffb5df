/**
 * A server-wide `idle_in_transaction_session_timeout` (here 1 ms, the extreme) must not end the sessions that hold a
 * transaction open while other work runs: run's snapshot session (pg_dump imports its snapshot; the counts run in
 * it) and verify --source's read of the source now. Without the session setting, the drill FAILed with "Client
 * has encountered a connection error and is not queryable".
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runDrill } from '../../src/drill/run-drill.js';
import { runCli } from '../helpers/cli.js';
import { scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { createAppDatabase } from '../helpers/safety.js';
import { ReportSchema } from '../../src/report/model.js';

describe('a server-wide idle_in_transaction_session_timeout', () => {
  test('does not end the snapshot session (run) nor the read of the source now (verify --source)', async () => {
    await using dir = await scratchDir();
    const source = await startSource({ parentDir: dir.path, settings: { idle_in_transaction_session_timeout: "'1ms'" } });
    try {
      await createAppDatabase(source, 'shop');
      const { report } = await runDrill({ source: urlOf(source, 'shop'), outDir: join(dir.path, 'out') });
      assert.equal(report.status, 'PASS', JSON.stringify(report.checks.filter((c) => c.status === 'fail')));
      assert.ok(report.production.audit.some((a) => a.sql === 'SET idle_in_transaction_session_timeout = 0'));
      assert.equal(report.checks.find((c) => c.name === 'production.audit_read_only')?.status, 'pass');

      const v = await runCli(['verify', report.backup.path!, '--source', urlOf(source, 'shop'), '--out', join(dir.path, 'out-verify'), '--json']);
      const vr = ReportSchema.parse(JSON.parse(v.stdout));
      assert.equal(v.code, 0, JSON.stringify(vr.checks.filter((c) => c.status === 'fail')));
      assert.equal(vr.checks.find((c) => c.name === 'fidelity.source_rows_now')?.status, 'pass');
    } finally {
      await source.stop();
    }
  });
});
