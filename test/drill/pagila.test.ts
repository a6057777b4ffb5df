import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { psql, urlOf, usePagila } from '../helpers/clusters.js';
import { ReportSchema, type Report } from '../../src/report/model.js';

// Known row counts of the pagila sample (../shared/data/SOURCES.md).
const PAGILA_ROWS: Record<string, number> = {
  'public.actor': 200, 'public.address': 603, 'public.category': 16, 'public.city': 600, 'public.country': 109,
  'public.customer': 599, 'public.film': 1000, 'public.film_actor': 5462, 'public.film_category': 2367,
  'public.inventory': 4581, 'public.language': 6, 'public.rental': 16044, 'public.staff': 1500, 'public.store': 500,
};

describe('pagila drills', () => {
  const fx = usePagila();
  let sysid: string;
  before(async () => {
    // A role that only the globals carry: the restore must recreate it.
    // app_reader only the globals carry; pgdrill — a name users give their drill role — must not collide with the sandbox's superuser.
    await psql(fx.source, 'pagila', { sql: 'CREATE ROLE app_reader NOLOGIN; GRANT USAGE ON SCHEMA public TO app_reader; GRANT SELECT ON public.actor, public.film TO app_reader; CREATE ROLE pgdrill LOGIN; GRANT pg_read_all_data TO pgdrill;' });
    sysid = (await psql(fx.source, 'pagila', { sql: 'SELECT system_identifier FROM pg_control_system()' })).trim();
  });

  for (const format of ['plain', 'custom', 'directory'] as const) {
    test(`${format}: PASS with every table's exact count equal`, async () => {
      const out = join(fx.dir, `out-${format}`);
      // plain with the source's exact counts as a witness (source.witness: counts); the archives as the default drill (none).
      const witness = join(fx.dir, 'witness-counts.yaml');
      if (format === 'plain') await writeFile(witness, 'source:\n  witness: counts\n');
      const r = await runCli(['run', '--source', urlOf(fx.source, 'pagila'), '--format', format, '--out', out, '--json', ...(format === 'plain' ? ['--config', witness] : [])]);
      assert.equal(r.code, 0, r.stderr + r.stdout.slice(0, 3000));
      const report: Report = ReportSchema.parse(JSON.parse(r.stdout));
      assert.equal(report.status, 'PASS');
      assert.equal(report.backup.format, format);
      const rows = new Map(report.tables.map((t) => [`${t.schema}.${t.name}`, t]));
      for (const [t, n] of Object.entries(PAGILA_ROWS)) {
        assert.equal(rows.get(t)?.source_rows, format === 'plain' ? n : null, t);
        assert.equal(rows.get(t)?.dump_rows, n, t);
        assert.equal(rows.get(t)?.restored_rows, n, t);
      }
      // Every format's stream (plain as pg_dump writes it, archives through pg_restore --file=-) hashed, and equal to the copy's COPY TO.
      const hashes = report.checks.find((c) => c.name === 'fidelity.content_hashes')!;
      assert.equal(hashes.status, 'pass', hashes.detail);
      assert.deepEqual(hashes.evidence?.evidence, ['dump-stream']);
      for (const t of report.tables) assert.ok(t.dump_hash && t.dump_hash === t.restored_copy_hash, JSON.stringify(t));
      // payment partitions: 16,049 rows in all
      const payments = report.tables.filter((t) => t.name.startsWith('payment_p')).reduce((a, t) => a + (t.restored_rows ?? 0), 0);
      assert.equal(payments, 16049);
      const roles = report.checks.find((c) => c.name === 'restore.roles')!;
      assert.equal(roles.status, 'pass');
      assert.match(roles.detail, /app_reader/);
      assert.equal(report.checks.find((c) => c.name === 'content.source_catalog')!.status, 'pass');
      assert.equal(report.teardown.confirmed, true);
      assert.equal(report.production_untouched, true);
      // The sandbox's lock table is sized by the source's relations (a restore in one transaction locks each).
      const relations = (await psql(fx.source, 'pagila', { sql: 'SELECT count(*) FROM pg_class WHERE oid >= 16384' })).trim();
      assert.match(await readFile(join(report.run.dir, 'run.log'), 'utf8'), new RegExp(`max_locks_per_transaction 1024 for ${relations} relations restored`));
    });
  }

  test('an expectation that does not hold: exit 1 naming the missing object', async () => {
    const cfg = join(fx.dir, 'expect.yaml');
    await writeFile(cfg, `expect:\n  objects:\n    - { type: table, schema: public, name: actor }\n    - { type: view, name: v_missing_observe }\n    - { type: materialized_view, name: rental_by_category, count: 1 }\n  grants:\n    - { role: app_reader, count: 3, no_write: true }\n`);
    const r = await runCli(['run', '--source', urlOf(fx.source, 'pagila'), '--config', cfg, '--out', join(fx.dir, 'out-expect'), '--json']);
    assert.equal(r.code, 1, r.stderr);
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    assert.equal(report.status, 'FAIL');
    const failed = report.checks.filter((c) => c.status === 'fail');
    assert.deepEqual(failed.map((c) => c.name), ['content.objects[view v_missing_observe]']);
    assert.match(failed[0]!.detail, /missing from the dump: no view matches v_missing_observe/);
    assert.equal(report.checks.find((c) => c.name === 'content.grants[app_reader]')!.status, 'pass');
  });

  test('a wrong pinned system_identifier: exit 3 before any report (guard.identity never fails), no dump file', async () => {
    const cfg = join(fx.dir, 'pin.yaml');
    await writeFile(cfg, `source:\n  system_identifier: "${sysid === "1234567890123456789" ? "1" : "1234567890123456789"}"\n  database: pagila\n`);
    const out = join(fx.dir, 'out-pin');
    const r = await runCli(['run', '--source', urlOf(fx.source, 'pagila'), '--config', cfg, '--out', out]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /identity guard: source system_identifier is \d+, but the config pins/);
    const made = await readdir(out).catch(() => []);
    assert.deepEqual(made, []);
  });

  test('a grant expectation with a write privilege fails', async () => {
    await psql(fx.source, 'pagila', { sql: 'CREATE ROLE app_writer NOLOGIN; GRANT SELECT, INSERT ON public.actor TO app_writer;' });
    try {
      const cfg = join(fx.dir, 'nowrite.yaml');
      await writeFile(cfg, `expect:\n  grants:\n    - { role: app_writer, no_write: true }\n`);
      const r = await runCli(['run', '--source', urlOf(fx.source, 'pagila'), '--config', cfg, '--out', join(fx.dir, 'out-nowrite'), '--json']);
      assert.equal(r.code, 1, r.stderr);
      const report = ReportSchema.parse(JSON.parse(r.stdout));
      const c = report.checks.find((x) => x.name === 'content.grants[app_writer]')!;
      assert.equal(c.status, 'fail');
      assert.match(c.detail, /INSERT on public\.actor/);
    } finally {
      await psql(fx.source, 'pagila', { sql: 'REVOKE ALL ON public.actor FROM app_writer; DROP ROLE app_writer;' });
    }
  });
});
