import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { psql, urlOf, usePagila } from '../helpers/clusters.js';
import { digestOf, mtimesOf, pgDump, type TestDumpFormat } from '../helpers/dumps.js';
import { exists } from '../helpers/leftovers.js';
import { ReportSchema, type Report } from '../../src/report/model.js';
import { verifyArtifact } from '../../src/verify/verify-artifact.js';

// Known row counts of the pagila sample (../shared/data/SOURCES.md).
const PAGILA_ROWS: Record<string, number> = {
  'public.actor': 200, 'public.address': 603, 'public.category': 16, 'public.city': 600, 'public.country': 109,
  'public.customer': 599, 'public.film': 1000, 'public.film_actor': 5462, 'public.film_category': 2367,
  'public.inventory': 4581, 'public.language': 6, 'public.rental': 16044, 'public.staff': 1500, 'public.store': 500,
};

const FILES: Record<TestDumpFormat, string> = {
  plain: 'pagila.sql', 'plain-gzip': 'pagila.sql.gz', custom: 'pagila.dump', directory: 'pagila.dir', tar: 'pagila.tar',
};

const check = (r: Report, name: string) => r.checks.find((c) => c.name === name);

describe('verify: pagila dumps made by pg_dump', () => {
  const fx = usePagila();
  const dumps = {} as Record<TestDumpFormat, string>;
  before(async () => {
    await mkdir(join(fx.dir, 'dumps'));
    for (const [format, file] of Object.entries(FILES) as [TestDumpFormat, string][]) {
      dumps[format] = await pgDump(fx.source, 'pagila', format, join(fx.dir, 'dumps', file));
    }
  });

  for (const format of Object.keys(FILES) as TestDumpFormat[]) {
    test(`${format}: PASS, every restored count equals the dump's rows, the artefact untouched`, async () => {
      const path = dumps[format];
      const digest = await digestOf(path);
      const mtimes = await mtimesOf(path);
      const r = await runCli(['verify', path, '--out', join(fx.dir, `out-${format}`), '--json']);
      assert.equal(r.code, 0, r.stderr + r.stdout.slice(0, 3000));
      const report = ReportSchema.parse(JSON.parse(r.stdout));
      assert.equal(report.kind, 'verify');
      assert.equal(report.status, 'PASS');
      assert.equal(report.backup.format, format);
      assert.equal(report.backup.path, path);
      assert.equal(check(report, 'backup.full_read')?.status, 'pass');
      assert.equal(check(report, 'content.hostile_content')?.status, 'pass');
      if (format.startsWith('plain')) assert.equal(check(report, 'backup.trailer')?.status, 'pass');
      if (format === 'directory') assert.equal(check(report, 'backup.directory_files')?.status, 'pass');
      assert.equal(check(report, 'fidelity.row_counts')?.status, 'pass');
      // A backup pgdrill did not take: every table's COPY lines, hashed as verify read them, equal the restored copy's.
      assert.equal(check(report, 'fidelity.content_hashes')?.status, 'pass', check(report, 'fidelity.content_hashes')?.detail);
      assert.deepEqual(check(report, 'fidelity.content_hashes')?.evidence?.evidence, ['dump-stream']);
      for (const t of report.tables) assert.ok(t.dump_hash && t.dump_hash === t.restored_copy_hash, JSON.stringify(t));
      // The fidelity section carries that evidence (verify's reports had none): stream hashes, no source read, no
      // catalog or round trip without a source, amcheck.
      const f = report.fidelity!;
      assert.ok(f, 'verify reports a fidelity section');
      assert.deepEqual([f.hashes?.tables, f.hashes?.equal, f.hashes?.source_ms, f.hashes?.evidence], [report.tables.length, report.tables.length, 0, ['dump-stream']]);
      assert.equal(f.catalog, null);
      assert.equal(f.round_trip, null);
      assert.equal(f.amcheck?.corrupt, 0);
      assert.ok(report.tables.every((t) => t.source_rows === null), 'no source, no source counts');
      const md = await readFile(join(report.run.dir, 'report.md'), 'utf8');
      assert.match(md, /### Fidelity\n\n```\ncontent_hashes: 21\/21 tables equal \(restored \d+ ms\); evidence: the dump's own COPY lines \(no source read\)\ncatalog: not compared/);
      assert.match(md, /\| table \| dump rows \| restored rows \| content hash vs the dump stream \| match \|\n\|---\|---:\|---:\|---\|---\|\n\| public\.actor \| 200 \| 200 \| equal `c2:[0-9a-f]{16}` \| yes \|/);
      const page = await readFile(join(report.run.dir, 'report.html'), 'utf8');
      assert.match(page, /<h2 id="fidelity">Fidelity<\/h2>/);
      assert.doesNotMatch(page, /Source rows/);
      const rows = new Map(report.tables.map((t) => [`${t.schema}.${t.name}`, t]));
      for (const [t, n] of Object.entries(PAGILA_ROWS)) {
        assert.equal(rows.get(t)?.dump_rows, n, `${t} rows in the dump`);
        assert.equal(rows.get(t)?.restored_rows, n, `${t} restored`);
      }
      assert.equal(report.tables.filter((t) => t.name.startsWith('payment_p')).reduce((a, t) => a + (t.restored_rows ?? 0), 0), 16049);
      assert.equal(report.teardown.confirmed, true);
      assert.equal(report.production_untouched, null, 'no source: production_untouched is null');
      assert.equal(check(report, 'backup.unchanged')?.status, 'pass');
      if (format === 'plain') {
        assert.match(md, /The existing plain backup .* passed its integrity checks/);
        assert.match(md, /## §2 — Backup Integrity/);
        assert.match(md, /## Baseline — compared with the previous PASS/);
      }
      // Nothing lost: the artefact's bytes and mtimes are exactly as before.
      assert.equal(await digestOf(path), digest);
      assert.deepEqual(await mtimesOf(path), mtimes);
    });
  }

  test('plain made with pg_dump --create: restored into the database it creates, filed under its name', async () => {
    const path = await pgDump(fx.source, 'pagila', 'plain-gzip', join(fx.dir, 'dumps', 'nightly-create.sql.gz'), ['--create']);
    const r = await runCli(['verify', path, '--out', join(fx.dir, 'out-create'), '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout.slice(0, 3000));
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    assert.equal(report.status, 'PASS');
    assert.match(report.run.id, /^pagila-\d{8}T\d{6}Z$/);
    assert.equal(report.tables.find((t) => t.name === 'rental')?.restored_rows, 16044);
  });

  test('--source: counts compared with the source now, labelled not snapshot-exact; production untouched', async () => {
    const r = await runCli(['verify', dumps.custom, '--source', urlOf(fx.source, 'pagila'), '--out', join(fx.dir, 'out-source'), '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout.slice(0, 3000));
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    assert.equal(report.status, 'PASS');
    assert.equal(report.source.database, 'pagila');
    assert.equal(report.production_untouched, true);
    const now = check(report, 'fidelity.source_rows_now')!;
    assert.equal(now.status, 'pass');
    assert.match(now.detail, /source NOW .* not in the dump's snapshot/);
    assert.equal(now.evidence?.snapshot_exact, false);
    assert.ok(report.notes.some((n) => n.id === 'source-not-snapshot-exact'));
    assert.equal(check(report, 'content.source_catalog')?.status, 'pass');
    assert.equal(check(report, 'production.audit_read_only')?.status, 'pass');
  });

  test('--source that moved on since the dump: WARN for a small difference, FAIL when the backup holds far fewer rows', async () => {
    await psql(fx.source, 'pagila', { sql: "INSERT INTO public.language (name) VALUES ('Klingon')" });
    try {
      const warn = await runCli(['verify', dumps.plain, '--source', urlOf(fx.source, 'pagila'), '--out', join(fx.dir, 'out-moved'), '--json']);
      assert.equal(warn.code, 0, warn.stderr);
      const w = ReportSchema.parse(JSON.parse(warn.stdout));
      assert.equal(check(w, 'fidelity.source_rows_now')?.status, 'warn');
      assert.match(check(w, 'fidelity.source_rows_now')!.detail, /public\.language source now 7 vs restored 6/);

      await psql(fx.source, 'pagila', { sql: "INSERT INTO public.actor (first_name, last_name) SELECT 'A' || g, 'B' FROM generate_series(1, 1000) g" });
      const fail = await runCli(['verify', dumps.plain, '--source', urlOf(fx.source, 'pagila'), '--out', join(fx.dir, 'out-moved'), '--json']);
      assert.equal(fail.code, 1, fail.stderr);
      const f = ReportSchema.parse(JSON.parse(fail.stdout));
      const c = check(f, 'fidelity.source_rows_now')!;
      assert.equal(c.status, 'fail');
      assert.match(c.detail, /more than 50% fewer rows in the backup than in the source: public\.actor source now 1200 vs restored 200/);
      assert.equal(f.production_untouched, true);
    } finally {
      await psql(fx.source, 'pagila', { sql: "DELETE FROM public.actor WHERE actor_id > 200; DELETE FROM public.language WHERE name = 'Klingon'" });
    }
  });

  test('an artefact that changes while it is verified: backup.unchanged FAILs', async () => {
    const copy = join(fx.dir, 'changing.sql');
    await copyFile(dumps.plain, copy);
    const res = await verifyArtifact({
      artifact: copy, outDir: join(fx.dir, 'out-changing'),
      // Another writer appends to the file while the sandbox restores it.
      progress: (e) => void (e.stage === 'restore' && e.state === 'start' ? appendFile(copy, '-- appended\n') : undefined),
    });
    assert.equal(res.exitCode, 1);
    const c = check(res.report, 'backup.unchanged')!;
    assert.equal(c.status, 'fail');
    assert.match(c.detail, /the artefact changed while it was verified \(size \d+ → \d+/);
    assert.equal(await exists(copy), true);
  });
});
