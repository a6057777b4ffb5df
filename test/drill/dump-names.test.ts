/**
 * content.source_catalog on names as pg_dump really writes them (issue 21, items 1–3): aggregates `name(*)` and
 * other kinds of routine, names holding newlines, carriage returns, tabs or the header's own separators, and
 * databases in LATIN1, EUC_JP, WIN1252 and SQL_ASCII. Good backups PASS; the same databases with objects really
 * removed from the dump still FAIL naming exactly those objects.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listObjects, type CatalogObject } from '../../src/catalog/objects.js';
import { runProcess } from '../../src/exec/run-process.js';
import { checkAgainstSourceCatalog } from '../../src/inventory/expectations.js';
import { scanArchive } from '../../src/inventory/read-inventory.js';
import { DbSession } from '../../src/pg/client.js';
import { ReportSchema, type Report } from '../../src/report/model.js';
import { scanPlainDumpFile } from '../../src/scan/plain-dump-scanner.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { runCli } from '../helpers/cli.js';
import { bins, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { DBS } from './dump-names-fixtures.js';

/** The window function is LANGUAGE internal: the scanner refuses it unless allowed. */
const ALLOW_YAML = 'sandbox:\n  allow:\n    functions: [public.my_row_number]\n';

describe('content.source_catalog: objects matched as pg_dump names them', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  let cfg: string;

  /** psql as the tests' client: UTF-8 (psql without a terminal would speak the database's encoding). */
  async function sql(db: string, text: string): Promise<void> {
    const b = await bins();
    await runProcess({ bin: b.path('psql'), args: ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', text], env: { ...source.env(db), PGCLIENTENCODING: 'UTF8' } });
  }

  async function pgDump(db: string, file: string, args: string[] = []): Promise<string> {
    const b = await bins();
    await runProcess({ bin: b.path('pg_dump'), args: [...args, '-f', file], env: source.env(db) });
    return file;
  }

  async function catalog(db: string): Promise<CatalogObject[]> {
    await using s = await DbSession.open(source.connection(db));
    return await listObjects(s);
  }

  before(async () => {
    dir = await scratchDir();
    source = await startSource({ parentDir: dir.path });
    for (const d of DBS) {
      await sql('postgres', `CREATE DATABASE ${d.name} ${d.create}`);
      await sql(d.name, d.sql);
      await sql('postgres', `CREATE DATABASE ${d.name}_mut TEMPLATE ${d.name}`);
      await sql(`${d.name}_mut`, d.drop);
    }
    cfg = join(dir.path, 'allow.yaml');
    await writeFile(cfg, ALLOW_YAML);
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  async function run(db: string, format: 'plain' | 'custom', deep: boolean): Promise<Report> {
    const out = join(dir.path, `out-${db}-${format}${deep ? '-deep' : ''}`);
    const r = await runCli(['run', '--source', urlOf(source, db), '--config', cfg, '--format', format, '--out', out, '--json', ...(deep ? ['--deep'] : [])]);
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    const failed = report.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`);
    assert.equal(r.code, 0, `${failed.join('\n')}\n${r.stderr.slice(-2000)}`);
    assert.equal(report.status, 'PASS');
    return report;
  }

  for (const format of ['plain', 'custom'] as const) {
    test(`odd names of every kind (${format}): PASS, every object found`, async () => {
      const report = await run('odd', format, false);
      const c = report.checks.find((x) => x.name === 'content.source_catalog')!;
      assert.equal(c.status, 'pass', c.detail);
      const kinds = ['table', 'view', 'materialized_view', 'sequence', 'foreign_table', 'function', 'procedure', 'type', 'schema', 'extension'];
      const expected = (await catalog('odd')).filter((o) => kinds.includes(o.type)).length;
      assert.equal(c.evidence?.expected, expected);
      assert.ok(expected >= 30, `${expected}`);
    });
  }

  for (const format of ['plain', 'custom'] as const) {
    test(`LATIN1 database (${format}, --deep): PASS, names and hashes equal, inspect prints the names`, async () => {
      const report = await run('latin', format, true);
      const c = report.checks.find((x) => x.name === 'content.source_catalog')!;
      assert.equal(c.status, 'pass', c.detail);
      assert.equal(c.evidence?.encoding, 'LATIN1');
      const t = report.tables.find((x) => x.schema === 'café' && x.name === 'façade');
      assert.equal(t?.restored_rows, 50);
      // The dump's LATIN1 bytes against the copy's COPY TO in LATIN1 (the names sent as U&"…" escapes).
      assert.ok(t?.dump_hash && t.dump_hash === t.restored_copy_hash, JSON.stringify(t));
      const inspect = await runCli(['inspect', report.backup.path!]);
      assert.equal(inspect.code, 0, inspect.stderr);
      assert.match(inspect.stdout, /encoding LATIN1/);
      for (const name of ['café.façade', 'café.façade(text)', 'café.zähler(*)', 'café.vüe à la ligne', 'café.séquence']) {
        assert.ok(inspect.stdout.includes(`  ${name} (owner postgres)`), `${name} in:\n${inspect.stdout}`);
      }
      assert.doesNotMatch(inspect.stdout, /Ã|\ufffd/);
    });
  }

  test('EUC_JP, WIN1252, SQL_ASCII and LATIN1 dumps (plain, custom, pg_dump --encoding=UTF8): every object found', async () => {
    for (const d of DBS) {
      const objects = await catalog(d.name);
      const dumps = [
        await scanPlainDumpFile(await pgDump(d.name, join(dir.path, `${d.name}.sql`))),
        await scanArchive(await bins(), await pgDump(d.name, join(dir.path, `${d.name}.dump`), ['-Fc'])),
        // pg_dump cannot convert SQL_ASCII's LATIN1 bytes to UTF8 ("invalid byte sequence"): not a dump one can take
        ...(d.name === 'sqlascii' ? [] : [await scanPlainDumpFile(await pgDump(d.name, join(dir.path, `${d.name}-utf8.sql`), ['--encoding=UTF8']))]),
      ];
      for (const [i, s] of dumps.entries()) {
        const c = checkAgainstSourceCatalog(s.inventory, objects);
        assert.equal(c.status, 'pass', `${d.name} dump ${i}: ${c.detail}`);
      }
      assert.equal(dumps[0]!.inventory.encoding, { odd: 'UTF8', latin: 'LATIN1', eucjp: 'EUC_JP', win1252: 'WIN1252', sqlascii: 'SQL_ASCII', sqlascii_utf8: 'SQL_ASCII' }[d.name]);
      assert.equal(dumps[2]?.inventory.encoding ?? 'UTF8', 'UTF8');
    }
  });

  test('the same databases with objects removed from the dump: FAIL naming exactly those objects', async () => {
    for (const d of DBS) {
      const objects = await catalog(d.name);
      for (const args of [[], ['-Fc']]) {
        const file = await pgDump(`${d.name}_mut`, join(dir.path, `${d.name}_mut${args.length ? '.dump' : '.sql'}`), args);
        const s = args.length ? await scanArchive(await bins(), file) : await scanPlainDumpFile(file);
        const c = checkAgainstSourceCatalog(s.inventory, objects);
        assert.equal(c.status, 'fail', `${d.name} ${args}: ${c.detail}`);
        assert.deepEqual([...(c.evidence?.missing as string[])].sort(), [...d.missing].sort(), d.name);
      }
    }
  });

  test('SQL_ASCII holding UTF-8 names (--deep): PASS, names shown as characters', async () => {
    const report = await run('sqlascii_utf8', 'plain', true);
    const c = report.checks.find((x) => x.name === 'content.source_catalog')!;
    assert.equal(c.status, 'pass', c.detail);
    assert.equal(c.evidence?.encoding, 'SQL_ASCII');
    assert.deepEqual(report.tables.map((t) => [t.schema, t.name, t.restored_rows]), [['ünï', 'tâble', 20]]);
    const inspect = await runCli(['inspect', report.backup.path!]);
    assert.match(inspect.stdout, /encoding SQL_ASCII \(no declared encoding: UTF-8 shown as characters/);
    assert.ok(inspect.stdout.includes('  ünï.tâble (owner postgres)'), inspect.stdout);
  });

  test('SQL_ASCII with names that are not UTF-8 (custom): PASS, the names shown with \\xNN escapes', async () => {
    const report = await run('sqlascii', 'custom', false);
    assert.equal(report.checks.find((x) => x.name === 'content.source_catalog')?.status, 'pass');
    assert.deepEqual(report.tables.map((t) => `${t.schema}.${t.name}`), ['public.caf\\xe9', 'public.naïve']);
  });

  test('verify of a LATIN1 dump that lacks a function, against its source: exit 1 naming it', async () => {
    const file = await pgDump('latin_mut', join(dir.path, 'latin.dump'), ['-Fc']);
    const r = await runCli(['verify', file, '--source', urlOf(source, 'latin'), '--out', join(dir.path, 'out-verify-mut'), '--json']);
    assert.equal(r.code, 1, r.stderr);
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    const c = report.checks.find((x) => x.name === 'content.source_catalog')!;
    assert.equal(c.status, 'fail');
    assert.match(c.detail, /2 source object\(s\) missing from the dump: function café\.façade\(text\), function café\.zähler\(\*\)/);
  });
});
