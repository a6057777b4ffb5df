/**
 * `verify --source URL --deep` (issue 21, item 13): the restored copy's content hashes against the source's now —
 * not snapshot-exact, so a difference WARNs; FAIL when the config says the source has not changed since the dump
 * (`source.unchanged_since_dump: true`). A dump whose rows were altered (same count) is named.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { pgDump } from '../helpers/dumps.js';
import { runCli } from '../helpers/cli.js';
import type { Report } from '../../src/report/model.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';

const check = (r: Report, name: string) => r.checks.find((c) => c.name === name);

describe('verify --source --deep: content hashes against the source now', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  let good: string;
  let altered: string;
  before(async () => {
    dir = await scratchDir();
    source = await startSource({ parentDir: dir.path });
    await psql(source, 'postgres', { sql: 'CREATE DATABASE shop' });
    await psql(source, 'shop', { sql: `CREATE TABLE public.item (id int PRIMARY KEY, label text);
      INSERT INTO public.item SELECT g, 'item ' || g FROM generate_series(1, 10) g;
      CREATE TABLE public.note (id int PRIMARY KEY, body text); INSERT INTO public.note VALUES (1, 'one'), (2, 'two');` });
    await mkdir(join(dir.path, 'dumps'));
    good = await pgDump(source, 'shop', 'plain', join(dir.path, 'dumps', 'shop.sql'));
    // The same dump with one row's value changed in its COPY data: same row count, different content.
    altered = join(dir.path, 'dumps', 'shop-altered.sql');
    const text = await readFile(good, 'utf8');
    assert.match(text, /^5\titem 5$/m);
    await writeFile(altered, text.replace(/^5\titem 5$/m, '5\titem five'));
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  const verify = async (artifact: string, out: string, extra: string[] = []) => {
    const r = await runCli(['verify', artifact, '--source', urlOf(source, 'shop'), '--deep', '--out', join(dir.path, out), '--json', ...extra]);
    return { code: r.code, stderr: r.stderr, report: JSON.parse(r.stdout) as Report };
  };

  test('an unchanged dump: every content hash equals the source\'s now (labelled not snapshot-exact)', async () => {
    const { code, report, stderr } = await verify(good, 'good');
    assert.equal(code, 0, stderr);
    const c = check(report, 'fidelity.source_hashes_now')!;
    assert.equal(c.status, 'pass', c.detail);
    assert.match(c.detail, /^2 table\(s\): every content hash .* not in the dump's snapshot/);
    assert.equal(c.evidence!.snapshot_exact, false);
  });

  test('rows altered in the dump: the table is named, WARN by default (the source may have moved on)', async () => {
    const { report } = await verify(altered, 'altered-warn');
    const c = check(report, 'fidelity.source_hashes_now')!;
    assert.equal(c.status, 'warn', c.detail);
    assert.match(c.detail, /^1 table\(s\) differ in content: public\.item \(source now [0-9a-f]{12}…, restored [0-9a-f]{12}…; rows 10 vs 10\)/);
    assert.equal(check(report, 'fidelity.source_rows_now')!.status, 'pass', 'same row counts: only the hashes see it');
    assert.notEqual(report.status, 'FAIL');
  });

  test('rows altered in the dump, source.unchanged_since_dump: FAIL naming the table', async () => {
    const config = join(dir.path, 'unchanged.yaml');
    await writeFile(config, 'source:\n  unchanged_since_dump: true\n');
    const { code, report } = await verify(altered, 'altered-fail', ['--config', config]);
    assert.equal(code, 1);
    const c = check(report, 'fidelity.source_hashes_now')!;
    assert.equal(c.status, 'fail', c.detail);
    assert.match(c.detail, /public\.item .* source\.unchanged_since_dump says the source has not changed/);
    assert.deepEqual(report.checks.filter((x) => x.status === 'fail').map((x) => x.name), ['fidelity.source_hashes_now']);
  });

  test('--deep without --source: a usage error (exit 2)', async () => {
    const r = await runCli(['verify', good, '--deep', '--out', join(dir.path, 'no-source')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--deep compares .* give --source URL/);
  });
});
