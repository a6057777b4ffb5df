/**
 * Real datasets still PASS inside the jail: northwind (../shared/data/northwind) in plain and custom format — no
 * false refusal, the sandbox as pgdrill-sandbox in its own network namespace. (pagila: test/drill/pagila.test.ts,
 * the demo: test/drill/demo.test.ts, run through the same jail.)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ReportSchema } from '../../src/report/model.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { runCli } from '../helpers/cli.js';
import { NORTHWIND, psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';

describe('northwind drills in the jail', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  before(async () => {
    dir = await scratchDir();
    source = await startSource({ parentDir: dir.path });
    await psql(source, 'postgres', { sql: 'CREATE DATABASE northwind' });
    await psql(source, 'northwind', { files: [NORTHWIND] });
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  for (const format of ['plain', 'custom'] as const) {
    test(`${format}: PASS, nothing refused, restored as pgdrill-sandbox with no network`, async () => {
      const r = await runCli(['run', '--source', urlOf(source, 'northwind'), '--format', format, '--out', join(dir.path, `out-${format}`), '--json']);
      assert.equal(r.code, 0, r.stderr + r.stdout.slice(0, 3000));
      const report = ReportSchema.parse(JSON.parse(r.stdout));
      assert.equal(report.status, 'PASS');
      assert.equal(report.checks.find((c) => c.name === 'content.hostile_content')!.status, 'pass');
      assert.deepEqual(report.jail, {
        os_user: 'pgdrill-sandbox', os_user_source: 'dedicated', network_namespace: true, namespace_mode: 'bwrap', namespace_note: null,
        mount_namespace: true, mount_note: null,
        refused: [], refused_omitted: 0, allowed: { functions: [], meta_commands: [] },
      });
      assert.equal(report.restore!.os_user, 'pgdrill-sandbox');
      assert.ok(report.tables.length >= 13 && report.tables.every((t) => t.match));
      assert.equal(report.notes.find((n) => n.id === 'no-network-namespace'), undefined);
      assert.equal(report.notes.find((n) => n.id === 'no-mount-namespace'), undefined);
    });
  }
});
