import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { runCli } from '../helpers/cli.js';
import { psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { pgDump } from '../helpers/dumps.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { ReportSchema, type Report } from '../../src/report/model.js';
import { check, drill, failed } from './helpers.js';

/**
 * Tables whose restored rows or COPY text could legitimately differ from the dump's COPY data: no columns at all
 * (COPY with an empty column list: each row an empty line), every column dropped, dropped columns between live ones
 * with identity and generated columns (pg_dump leaves generated ones out of its column list), inheritance children,
 * partitions (loaded via the root), an unlogged table, a table hash-partitioned on an enum (loaded via its root by
 * pg_dump itself), and the dumps users make of them with --exclude-table-data, --no-unlogged-table-data and
 * --load-via-partition-root.
 */
const SHAPES = `
CREATE TABLE public.nocols ();
INSERT INTO public.nocols DEFAULT VALUES; INSERT INTO public.nocols DEFAULT VALUES; INSERT INTO public.nocols DEFAULT VALUES;
CREATE TABLE public.alldropped (a int, b text);
INSERT INTO public.alldropped SELECT i, 'x' FROM generate_series(1, 4) i;
ALTER TABLE public.alldropped DROP COLUMN a, DROP COLUMN b;
CREATE TABLE public.shaped (id int GENERATED ALWAYS AS IDENTITY, gone1 int, v text, gone2 text, twice int GENERATED ALWAYS AS (length(v) * 2) STORED, w numeric);
INSERT INTO public.shaped (gone1, v, gone2, w) SELECT i, 'v' || i, 'g', i / 3.0 FROM generate_series(1, 10) i;
ALTER TABLE public.shaped DROP COLUMN gone1, DROP COLUMN gone2;
ALTER TABLE public.shaped ADD COLUMN late text DEFAULT 'late';
CREATE TABLE public.parent (id int, v text);
CREATE TABLE public.kid1 () INHERITS (public.parent);
CREATE TABLE public.kid2 (extra int) INHERITS (public.parent);
INSERT INTO public.parent VALUES (1, 'p'); INSERT INTO public.kid1 VALUES (2, 'k1'), (3, 'k1'); INSERT INTO public.kid2 VALUES (4, 'k2', 40);
CREATE TABLE public.m (id int, note text) PARTITION BY RANGE (id);
CREATE TABLE public.m1 PARTITION OF public.m FOR VALUES FROM (0) TO (100);
CREATE TABLE public.m2 (note text, id int);
ALTER TABLE public.m ATTACH PARTITION public.m2 FOR VALUES FROM (100) TO (200);
INSERT INTO public.m SELECT i, 'n' || i FROM generate_series(0, 199) i;
CREATE UNLOGGED TABLE public.scratch (id int);
INSERT INTO public.scratch SELECT generate_series(1, 6);
CREATE TABLE public.big_log (id int, at text);
INSERT INTO public.big_log SELECT i, 'x' FROM generate_series(1, 50) i;
CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE public.h (m public.mood, id int) PARTITION BY HASH (m);
CREATE TABLE public.h0 PARTITION OF public.h FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE public.h1 PARTITION OF public.h FOR VALUES WITH (MODULUS 2, REMAINDER 1);
INSERT INTO public.h SELECT (ARRAY['sad', 'ok', 'happy']::public.mood[])[1 + i % 3], i FROM generate_series(1, 12) i;`;

const parse = (stdout: string): Report => ReportSchema.parse(JSON.parse(stdout));
const why = (r: Report) => failed(r).map((n) => `${n}: ${check(r, n).detail}`).join('\n');
const rowOf = (r: Report, name: string) => r.tables.find((t) => t.name === name);

describe('tables whose restored rows legitimately differ from their COPY data', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  before(async () => {
    dir = await scratchDir();
    source = await startSource({ parentDir: dir.path });
    await psql(source, 'postgres', { sql: 'CREATE DATABASE odd' });
    await psql(source, 'odd', { sql: SHAPES });
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  for (const witness of ['counts', 'hashes'] as const) {
    test(`run (CLI), source.witness: ${witness}: PASS; the enum-hash leaves compared as their root`, async () => {
      const cfg = join(dir.path, `cfg-${witness}.yaml`);
      await writeFile(cfg, `source:\n  url: ${urlOf(source, 'odd')}\n  witness: ${witness}\n`);
      const r = await runCli(['run', '--config', cfg, '--out', join(dir.path, `run-${witness}`), '--json']);
      const report = parse(r.stdout);
      assert.equal(report.status, 'PASS', why(report));
      for (const [name, rows] of [['nocols', 3], ['alldropped', 4], ['shaped', 10], ['parent', 1], ['kid1', 2], ['kid2', 1], ['scratch', 6], ['m1', 100], ['m2', 100]] as const) {
        const t = rowOf(report, name)!;
        assert.deepEqual([t.source_rows, t.dump_rows, t.restored_rows, t.match], [rows, rows, rows, true], name);
        if (witness === 'hashes') assert.ok(t.source_hash && t.source_hash === t.restored_hash, name);
        assert.ok(t.dump_hash && t.dump_hash === t.restored_copy_hash, name);
      }
      // The restored enum has other OIDs: the rows' hash partitions change, the leaves' counts with them.
      const h = rowOf(report, 'h')!;
      assert.deepEqual([h.source_rows, h.dump_rows, h.restored_rows, h.match], [12, 12, 12, true]);
      const leaves = ['h0', 'h1'].map((n) => rowOf(report, n)!);
      assert.deepEqual(leaves.map((l) => [l.via_root, l.match]), [['public.h', true], ['public.h', true]]);
      assert.equal(leaves[0]!.source_rows! + leaves[1]!.source_rows!, 12);
      assert.match(check(report, 'fidelity.row_counts').detail, /2 leaf partition\(s\) compared as the root the dump loaded them through \(public\.h/);
      assert.equal(r.code, 0, r.stderr);
    });
  }

  test('the same shapes with a row lost or changed in the copy: each named, the enum-hash table by its root', async () => {
    const mutate = `DELETE FROM public.nocols WHERE ctid = (SELECT min(ctid) FROM public.nocols);
      INSERT INTO public.alldropped DEFAULT VALUES;
      UPDATE public.shaped SET w = w + 1 WHERE id = 3;
      UPDATE public.kid1 SET v = 'changed' WHERE id = 2;
      DELETE FROM public.h WHERE id = 5;`;
    const { report } = await drill(urlOf(source, 'odd'), dir.path, 'mutated', mutate, false, { source: { witness: 'counts' } });
    assert.deepEqual(failed(report), ['fidelity.row_counts', 'fidelity.content_hashes']);
    const counts = check(report, 'fidelity.row_counts').detail;
    assert.match(counts, /^3 table\(s\) differ: /);
    for (const t of ['public.alldropped source 4, dump 4 vs restored 5', 'public.nocols source 3, dump 3 vs restored 2', 'public.h source 12, dump 12 vs restored 11']) assert.ok(counts.includes(t), `${t} in ${counts}`);
    const differ = check(report, 'fidelity.content_hashes').evidence!.differ as string[];
    for (const t of ['public.nocols', 'public.alldropped', 'public.shaped', 'public.kid1', 'public.h']) assert.ok(differ.includes(t), `${t} in ${differ.join(', ')}`);
    assert.ok(!differ.includes('public.parent') && !differ.includes('public.m1'), differ.join(', '));
  });

  const dumps: [string, string[]][] = [
    ['plain', []],
    ['excluded', ['--exclude-table-data=public.kid2', '--exclude-table-data=public.big_log', '--no-unlogged-table-data']],
    ['via-root', ['--load-via-partition-root', '--exclude-table-data=public.m2']],
  ];
  for (const format of ['plain', 'custom'] as const) {
    for (const [label, extra] of dumps) {
      test(`verify (CLI) of a ${format} dump, ${label} ${extra.join(' ')}: PASS`, async () => {
        const file = await pgDump(source, 'odd', format, join(dir.path, `odd-${label}.${format}`), extra);
        const r = await runCli(['verify', file, '--out', join(dir.path, `verify-${label}-${format}`), '--json']);
        const report = parse(r.stdout);
        assert.equal(report.status, 'PASS', why(report));
        assert.equal(r.code, 0, r.stderr);
        const compared = report.tables.map((t) => t.name).sort();
        // Tables whose data the dump left out (--exclude-table-data, --no-unlogged-table-data) are restored empty and
        // not compared: the dump makes no claim about their rows.
        const left = label === 'excluded' ? ['big_log', 'kid2', 'scratch'] : [];
        for (const t of left) assert.ok(!compared.includes(t), `${t} is not compared`);
        if (label === 'via-root') assert.deepEqual([rowOf(report, 'm')!.dump_rows, rowOf(report, 'm')!.restored_rows], [100, 100], 'm2 excluded: m1 only');
        for (const t of report.tables) assert.ok(t.match && t.dump_hash === t.restored_copy_hash, t.name);
      });
    }
  }
});
