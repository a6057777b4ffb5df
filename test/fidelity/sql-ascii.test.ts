/**
 * SQL_ASCII databases whose names and data are not UTF-8 (issue 21, item 3): drilled like any other — counts,
 * content hashes, catalog facts, round trip, inventory, reports — PASS on a good backup, FAIL naming the object when
 * the copy differs; names shown with `\xNN` escapes, never garbled or dropped.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { countRows, listTables } from '../../src/catalog/tables.js';
import { DbSession } from '../../src/pg/client.js';
import { showBytes } from '../../src/pg/server-bytes.js';
import { ReportSchema, type Report } from '../../src/report/model.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { runCli } from '../helpers/cli.js';
import { psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { pgDump } from '../helpers/dumps.js';
import { runDrill } from '../../src/drill/run-drill.js';
import { check, failed, sqlOn } from './helpers.js';
import { ALTER_ROW, DROP_MIXED, SHOWN, SQL_ASCII_FIXTURE } from './sql-ascii-fixture.js';

const SQL_ASCII_DB = `ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`;
/** The LANGUAGE internal function, allowed by its name as reports show it. */
const ALLOW_YAML = `sandbox:\n  allow:\n    functions: ['${SHOWN.schema}.${SHOWN.internal}']\n`;

describe('SQL_ASCII with names that are not UTF-8', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  let cfg: string;

  before(async () => {
    dir = await scratchDir();
    source = await startSource({ parentDir: dir.path });
    await psql(source, 'postgres', { sql: `CREATE DATABASE sa ${SQL_ASCII_DB}` });
    await psql(source, 'sa', { sql: SQL_ASCII_FIXTURE });
    await psql(source, 'postgres', { sql: `CREATE DATABASE sa_mut TEMPLATE sa` });
    await psql(source, 'sa_mut', { sql: DROP_MIXED });
    // The control: SQL_ASCII holding only ASCII and UTF-8
    await psql(source, 'postgres', { sql: `CREATE DATABASE sa_plain ${SQL_ASCII_DB}` });
    await psql(source, 'sa_plain', { sql: `CREATE TABLE public.t (id int PRIMARY KEY, v text); INSERT INTO public.t VALUES (1, 'ü'), (2, 'a');
      CREATE TABLE public."tâble" (a text); INSERT INTO public."tâble" VALUES ('dâta');` });
    await mkdir(join(dir.path, 'dumps'));
    cfg = join(dir.path, 'allow.yaml');
    await writeFile(cfg, ALLOW_YAML);
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  /** A library drill of `sa` (--deep) whose restored copy `mutate` changes before the checks. */
  async function mutated(name: string, mutate: string): Promise<Report> {
    const r = await runDrill({
      source: urlOf(source, 'sa'), outDir: join(dir.path, name), deep: true,
      config: { sandbox: { allow: { functions: [`${SHOWN.schema}.${SHOWN.internal}`] } } }, afterRestore: (copy) => sqlOn(copy, mutate),
    });
    return r.report;
  }

  async function run(db: string, format: 'plain' | 'custom', deep: boolean): Promise<Report> {
    const out = join(dir.path, `out-${db}-${format}${deep ? '-deep' : ''}`);
    const r = await runCli(['run', '--source', urlOf(source, db), '--config', cfg, '--format', format, '--out', out, '--json', ...(deep ? ['--deep'] : [])]);
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    const fails = report.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`);
    assert.equal(r.code, 0, `${fails.join('\n')}\n${r.stderr.slice(-2000)}`);
    assert.equal(report.status, 'PASS');
    return report;
  }

  test('a session reads and writes the bytes exactly: names back into queries, values unchanged', async () => {
    await using db = await DbSession.open(source.connection('sa'));
    assert.equal(db.serverBytes, true);
    const tables = await listTables(db);
    assert.deepEqual(tables.map((t) => showBytes(`${t.schema}.${t.name}`)), ['public.naïve', `public.${SHOWN.mixed}`, `${SHOWN.schema}.${SHOWN.table}`]);
    assert.deepEqual((await countRows(db, tables)).map((c) => c.rows), [2, 2, 30]);
    const [row] = await db.query<{ v: string; b: Buffer; same: boolean }>(
      `SELECT "col\udce9" AS v, b, $1::text = convert_from('\\x64e974e02031', 'SQL_ASCII') AS same FROM "s\udce9"."caf\udce9" WHERE id = 1`, ['d\udce9t\udce0 1']);
    assert.deepEqual({ v: showBytes(row!.v), b: row!.b.toString('hex'), same: row!.same }, { v: 'd\\xe9t\\xe0 1', b: '00ff80', same: true });
    await using utf8 = await DbSession.open(source.connection('postgres'));
    assert.equal(utf8.serverBytes, false);
  });

  for (const format of ['plain', 'custom'] as const) {
    test(`drill (${format}, --deep): PASS, every check ran, names shown escaped in the report and by inspect`, async () => {
      const report = await run('sa', format, true);
      for (const name of ['content.source_catalog', 'fidelity.row_counts', 'restore.objects', 'fidelity.content_hashes', 'fidelity.catalog', 'fidelity.round_trip']) {
        assert.equal(check(report, name).status, 'pass', `${name}: ${check(report, name).detail}`);
      }
      assert.equal(check(report, 'content.source_catalog').evidence?.encoding, 'SQL_ASCII');
      const t = report.tables.find((x) => x.schema === SHOWN.schema && x.name === SHOWN.table);
      assert.equal(t?.restored_rows, 30, JSON.stringify(report.tables));
      assert.ok(t?.dump_hash && t.dump_hash === t.restored_copy_hash, JSON.stringify(t));
      assert.ok(report.tables.some((x) => x.name === SHOWN.mixed && x.restored_rows === 2));
      const text = JSON.stringify(report) + (await readFile(join(report.run.dir, 'report.md'), 'utf8'));
      assert.doesNotMatch(text, /\\ud[c-f]|\ufffd|Ã/i, 'no raw escape, replacement character or mojibake');
      const inspect = await runCli(['inspect', report.backup.path!]);
      assert.equal(inspect.code, 0, inspect.stderr);
      for (const name of [`${SHOWN.schema}.${SHOWN.table}`, `${SHOWN.schema}.${SHOWN.func}(text)`, `${SHOWN.schema}.${SHOWN.internal}()`, `${SHOWN.schema}.${SHOWN.view}`, `public.${SHOWN.mixed}`, 'public.naïve']) {
        assert.ok(inspect.stdout.includes(`  ${name} (owner postgres)`), `${name} in:\n${inspect.stdout}`);
      }
      assert.doesNotMatch(inspect.stdout, /\ufffd|Ã/);
      const json = await runCli(['inspect', '--json', report.backup.path!]);
      assert.doesNotMatch(json.stdout, /\\ud[c-f]|\ufffd/i);
      assert.ok(json.stdout.includes(`"name": "${SHOWN.table.replace(/\\/g, '\\\\')}"`), json.stdout.slice(0, 2000));
    });
  }

  test('drill (custom, without --deep) of the control (ASCII and UTF-8 names only): PASS, names as characters', async () => {
    const report = await run('sa_plain', 'custom', false);
    assert.deepEqual(report.tables.map((t) => [t.name, t.restored_rows]), [['t', 2], ['tâble', 1]]);
  });

  test('a row altered in the copy: the content hashes FAIL naming the table, escaped', async () => {
    const report = await mutated('altered', ALTER_ROW);
    assert.deepEqual(failed(report), ['fidelity.content_hashes']);
    // Both evidences see it: the dump's COPY bytes against the copy's COPY TO (bytes, in SQL_ASCII), and the source's hashes (--deep: witness counts, so the stream alone here).
    assert.match(check(report, 'fidelity.content_hashes').detail, new RegExp(`^1 difference\\(s\\) in content: s\\\\xe9\\.caf\\\\xe9 \\(dump c2:`));
  });

  test('a table missing from the copy: restore.objects, the counts and the round trip FAIL naming it', async () => {
    const report = await mutated('dropped', DROP_MIXED);
    assert.deepEqual(report.restore?.missing_objects, [`table:public.${SHOWN.mixed}`]);
    assert.ok(failed(report).includes('fidelity.row_counts') && failed(report).includes('fidelity.round_trip'), failed(report).join(', '));
    assert.match(check(report, 'fidelity.row_counts').detail, /public\.t\\xb9\\xe2 dump 2 vs restored MISSING/);
    assert.ok((report.fidelity?.round_trip?.objects ?? []).some((o) => o.section.includes(`Name: ${SHOWN.mixed}; Type: TABLE`)), JSON.stringify(report.fidelity?.round_trip));
  });

  test('verify of a dump that lacks a table, against its source: FAIL naming it', async () => {
    const file = await pgDump(source, 'sa_mut', 'custom', join(dir.path, 'dumps', 'sa-mut.dump'));
    const r = await runCli(['verify', file, '--source', urlOf(source, 'sa'), '--config', cfg, '--out', join(dir.path, 'out-verify-mut'), '--json']);
    assert.equal(r.code, 1, r.stderr);
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    assert.match(check(report, 'content.source_catalog').detail, /^1 source object\(s\) missing from the dump: table public\.t\\xb9\\xe2$/);
  });

  test('verify of a plain dump with a row edited (bytes): PASS alone, and with --source --deep FAIL naming the table', async () => {
    const good = await pgDump(source, 'sa', 'plain', join(dir.path, 'dumps', 'sa.sql'));
    const bytes = await readFile(good);
    const row = Buffer.from('7\td\xe9t\xe0 7\t', 'latin1');
    const at = bytes.indexOf(row);
    assert.ok(at > 0, 'the row in the COPY data');
    const edited = Buffer.from(bytes);
    edited[at + row.length - 4] = 0xe1; // dét\xe0 → dét\xe1: same count, other content
    const altered = join(dir.path, 'dumps', 'sa-edited.sql');
    await writeFile(altered, edited);
    const alone = await runCli(['verify', altered, '--config', cfg, '--out', join(dir.path, 'out-verify-alone'), '--json']);
    const aloneReport = ReportSchema.parse(JSON.parse(alone.stdout));
    assert.equal(alone.code, 0, `${failed(aloneReport).map((n) => `${n}: ${check(aloneReport, n).detail}`).join('\n')}\n${alone.stderr}`);
    assert.ok(aloneReport.tables.some((t) => t.schema === SHOWN.schema && t.name === SHOWN.table && t.restored_rows === 30 && t.dump_rows === 30), JSON.stringify(aloneReport.tables));
    const config = join(dir.path, 'unchanged.yaml');
    await writeFile(config, `source:\n  unchanged_since_dump: true\n${ALLOW_YAML}`);
    const r = await runCli(['verify', altered, '--source', urlOf(source, 'sa'), '--deep', '--config', config, '--out', join(dir.path, 'out-verify-edited'), '--json']);
    assert.equal(r.code, 1, r.stderr);
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    assert.deepEqual(failed(report), ['fidelity.source_hashes_now']);
    assert.match(check(report, 'fidelity.source_hashes_now').detail, /^1 table\(s\) differ in content: s\\xe9\.caf\\xe9 /);
  });

  test('a restore error on such a name: one finding, its message and the statement the server ran, escaped', async () => {
    const good = await pgDump(source, 'sa', 'plain', join(dir.path, 'dumps', 'sa-error.sql'));
    const bytes = await readFile(good);
    const end = bytes.indexOf('\n--\n-- PostgreSQL database dump complete');
    assert.ok(end > 0);
    const again = Buffer.concat([Buffer.from('\nCREATE TABLE "s'), Buffer.of(0xe9), Buffer.from('"."caf'), Buffer.of(0xe9), Buffer.from('" (x integer);\n')]);
    const broken = join(dir.path, 'dumps', 'sa-broken.sql');
    await writeFile(broken, Buffer.concat([bytes.subarray(0, end), again, bytes.subarray(end)]));
    const r = await runCli(['verify', broken, '--config', cfg, '--out', join(dir.path, 'out-verify-broken'), '--json']);
    assert.equal(r.code, 1, r.stderr);
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    assert.deepEqual(report.restore?.errors.map((e) => [e.message.replace(/^ERROR: +/, ''), e.statement]), [
      [`relation "${SHOWN.table}" already exists`, `CREATE TABLE "${SHOWN.schema}"."${SHOWN.table}" (x integer);`],
    ]);
  });
});
