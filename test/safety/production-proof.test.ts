/**
 * The proof that production was left untouched can fail: the source's catalog changed during the drill (DDL by
 * someone else), or the server behind the source's address is another cluster by the end of it. The change is made
 * from the `afterRestore` hook — mid-drill, after pgdrill's last statement to the source and before the proof.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bins, psql, scratchDir, silentLogger, startSource, urlOf } from '../helpers/clusters.js';
import { waitFor } from '../helpers/safety.js';
import { check, failed } from '../fidelity/helpers.js';
import { runDrill } from '../../src/drill/run-drill.js';
import { SandboxCluster } from '../../src/sandbox/cluster.js';
import { isAlive } from '../../src/exec/process-liveness.js';
import { resolveSandboxUser } from '../../src/exec/os-user.js';

async function shopSource(parentDir: string): Promise<SandboxCluster> {
  const source = await startSource({ parentDir });
  await psql(source, 'postgres', { sql: 'CREATE DATABASE shop' });
  await psql(source, 'shop', { sql: 'CREATE TABLE public.orders (id int PRIMARY KEY); INSERT INTO public.orders SELECT generate_series(1, 100)' });
  return source;
}

describe('production untouched: the proof fails when production changed during the drill', () => {
  test('DDL on the source during the drill: production.catalog_fingerprint FAILs with both fingerprints', async () => {
    await using dir = await scratchDir();
    const source = await shopSource(dir.path);
    try {
      const { report, exitCode } = await runDrill({
        source: urlOf(source, 'shop'), outDir: join(dir.path, 'out'),
        afterRestore: async () => void (await psql(source, 'shop', { sql: 'CREATE TABLE public.created_during_the_drill (x int)' })),
      });
      assert.equal(exitCode, 1);
      assert.deepEqual(failed(report), ['production.catalog_fingerprint']);
      assert.equal(report.production_untouched, false);
      const c = check(report, 'production.catalog_fingerprint');
      assert.match(c.detail, /^catalog fingerprint changed: (\S+) → (\S+) \((\d+) → (\d+) items\): something changed the source's catalog during the drill$/);
      assert.notEqual(report.production.fingerprint_before, report.production.fingerprint_after);
      assert.equal(check(report, 'production.identity').status, 'pass');
      assert.equal(check(report, 'production.audit_read_only').status, 'pass', 'pgdrill itself sent only read-only statements');
    } finally {
      await source.stop();
    }
  });

  test('another cluster behind the source\'s address by the end of the drill: production.identity FAILs naming both', async () => {
    await using dir = await scratchDir();
    const source = await shopSource(dir.path);
    let other: SandboxCluster | null = null;
    try {
      const { report, exitCode } = await runDrill({
        source: urlOf(source, 'shop'), outDir: join(dir.path, 'out'),
        afterRestore: async () => {
          // Fast shutdown of the source (its socket directory stays), then a new cluster listening there.
          const pid = Number((await readFile(join(source.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
          process.kill(pid, 'SIGINT');
          await waitFor('the source to stop', async () => !isAlive(pid), 30_000);
          // Its own initdb (no template: a copy of the source's template would carry the source's system_identifier).
          other = await SandboxCluster.start({
            bins: await bins(), parentDir: dir.path, osUser: await resolveSandboxUser(), logger: silentLogger, superuser: 'postgres',
            label: 'other', templateCache: null, settings: { unix_socket_directories: `'${source.socketDir}'` }, shared: [source.socketDir],
          });
          await psql(source, 'postgres', { sql: 'CREATE DATABASE shop' }); // the source's address: now the other cluster
        },
      });
      assert.equal(exitCode, 1);
      assert.equal(report.production_untouched, false);
      const id = check(report, 'production.identity');
      assert.equal(id.status, 'fail');
      const m = /^source identity changed during the drill: (\d+)\/shop → (\d+)\/shop$/.exec(id.detail);
      assert.ok(m, id.detail);
      assert.equal(m[1], report.source.system_identifier);
      assert.notEqual(m[2], m[1]);
      assert.equal(report.production.system_identifier_after, m[2]);
      assert.equal(check(report, 'production.catalog_fingerprint').status, 'fail', 'another cluster, another catalog');
    } finally {
      await (other as SandboxCluster | null)?.stop();
      await source.stop();
    }
  });
});
