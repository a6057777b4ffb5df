import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { bins, psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { pgDump } from '../helpers/dumps.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { DbSession } from '../../src/pg/client.js';
import { EnvironmentError } from '../../src/errors.js';
import { runProcess } from '../../src/exec/run-process.js';
import { createDatabase } from '../../src/restore/restore-dump.js';
import { readCatalogFacts, type CatalogFact } from '../../src/fidelity/catalog-facts.js';
import { diffCatalogs } from '../../src/fidelity/catalog-diff.js';
import { prepareFidelitySession } from '../../src/fidelity/session.js';
import { verifyArtifact } from '../../src/verify/verify-artifact.js';
import type { Report } from '../../src/report/model.js';
import { runDrill } from '../../src/drill/run-drill.js';
import { check, drill, failed } from './helpers.js';

/**
 * The restored database has the source's locale: a CHECK on character classes holding non-ASCII letters restores,
 * a generated column calling lower()/upper() computes the same values, text sorts the same; and the database's
 * locale settings are compared facts.
 */
const WORDS_SQL = `
CREATE TABLE public.words (
  id int PRIMARY KEY,
  w text NOT NULL CHECK (w ~ '^[[:alpha:]]+$'),
  lw text GENERATED ALWAYS AS (lower(w)) STORED,
  uw text GENERATED ALWAYS AS (upper(w)) STORED
);
INSERT INTO public.words (id, w) VALUES (1, 'Éclair'), (2, 'Ärger'), (3, 'straße'), (4, 'Zebra'), (5, 'apfel'), (6, 'Äpfel'), (7, 'Bär'), (8, 'øre');`;

const ORDER_SQL = "SELECT string_agg(w, ',' ORDER BY w) AS o FROM public.words";

async function queryOne(to: string | pg.ClientConfig, sql: string): Promise<string> {
  const c = new pg.Client(typeof to === 'string' ? { connectionString: to } : to);
  await c.connect();
  try {
    return (await c.query(sql)).rows[0].o as string;
  } finally {
    await c.end();
  }
}

async function hasLocale(name: string): Promise<boolean> {
  const r = await runProcess({ bin: '/usr/bin/locale', args: ['-a'], stdout: 'capture', allowFailure: true });
  return r.stdout.split('\n').some((l) => l.toLowerCase() === name.toLowerCase());
}

describe("the restored database is created with the source's locale", () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  before(async () => {
    dir = await scratchDir();
    source = await startSource({ parentDir: dir.path });
    await psql(source, 'postgres', { sql: "CREATE DATABASE cutf8 TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'" });
    await psql(source, 'cutf8', { sql: WORDS_SQL });
    await psql(source, 'postgres', { sql: "CREATE DATABASE icu TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'de-DE' LOCALE 'C'" });
    await psql(source, 'icu', { sql: WORDS_SQL });
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  test('C.UTF-8: a CHECK on [[:alpha:]] with non-ASCII letters and generated lower()/upper() columns: plain PASS', async () => {
    const { report } = await drill(urlOf(source, 'cutf8'), dir.path, 'cutf8-plain', undefined, false);
    assert.equal(report.status, 'PASS', failed(report).map((n) => `${n}: ${check(report, n).detail}`).join('\n'));
    assert.equal(report.tables.find((t) => t.name === 'words')?.restored_rows, 8);
  });

  test('C.UTF-8: --deep PASS (the generated columns hash equal)', async () => {
    const { report } = await drill(urlOf(source, 'cutf8'), dir.path, 'cutf8-deep');
    assert.equal(report.status, 'PASS', failed(report).map((n) => `${n}: ${check(report, n).detail}`).join('\n'));
    assert.equal(check(report, 'fidelity.content_hashes').status, 'pass');
  });

  test('en_US.UTF-8 (when the machine has it: scripts/setup generates it): --deep PASS', async (t) => {
    if (!(await hasLocale('en_US.utf8'))) return t.skip('en_US.UTF-8 is not installed (scripts/setup generates it)');
    await psql(source, 'postgres', { sql: "CREATE DATABASE enus TEMPLATE template0 ENCODING 'UTF8' LOCALE 'en_US.UTF-8'" });
    await psql(source, 'enus', { sql: WORDS_SQL });
    // A column with a libc collation of the OS (initdb imported it: a template made before the locale existed lacks it).
    await psql(source, 'enus', { sql: 'CREATE TABLE public.names (n text COLLATE "en_US.utf8" PRIMARY KEY); INSERT INTO public.names VALUES (\'b\'), (\'A\'), (\'a\');' });
    const { report } = await drill(urlOf(source, 'enus'), dir.path, 'enus', undefined, true);
    assert.equal(report.status, 'PASS', failed(report).map((n) => `${n}: ${check(report, n).detail}`).join('\n'));
  });

  test('ICU de-DE: --deep PASS, and the copy sorts as the source does', async () => {
    let copyOrder = '';
    const { report } = await runDrill({
      source: urlOf(source, 'icu'), outDir: join(dir.path, 'icu'), deep: true,
      // Read in the restored copy itself (the hook runs before the checks, and only reads).
      afterRestore: async (copy) => {
        copyOrder = await queryOne({ host: copy.env.PGHOST, port: Number(copy.env.PGPORT), user: copy.env.PGUSER, database: copy.database }, ORDER_SQL);
      },
    });
    assert.equal(report.status, 'PASS', failed(report).map((n) => `${n}: ${check(report, n).detail}`).join('\n'));
    const sourceOrder = await queryOne(urlOf(source, 'icu'), ORDER_SQL);
    assert.equal(sourceOrder, 'apfel,Äpfel,Ärger,Bär,Éclair,øre,straße,Zebra');
    assert.equal(copyOrder, sourceOrder);
  });

  test('ICU de-DE, custom format, backup.overlap off (the database created by the restore stage): --deep PASS', async () => {
    const { report } = await runDrill({
      source: urlOf(source, 'icu'), outDir: join(dir.path, 'icu-custom'), deep: true, format: 'custom',
      config: { backup: { overlap: false } },
    });
    assert.equal(report.status, 'PASS', failed(report).map((n) => `${n}: ${check(report, n).detail}`).join('\n'));
    assert.equal(report.restore?.overlapped, false);
  });

  test('ICU de-DE restored as libc C (the old behaviour): the catalog names the locale settings', async () => {
    // The mutant restore: the same dump replayed into a C database of the same cluster, facts compared as a drill does.
    const b = await bins();
    const dump = await pgDump(source, 'icu', 'plain', join(dir.path, 'icu.sql'));
    await psql(source, 'postgres', { sql: "CREATE DATABASE icu_as_c TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'" });
    // (Its COPY fails on the CHECK, as it did for a C copy: the rows do not matter here, the catalog does.)
    await runProcess({ bin: b.path('psql'), args: ['-X', '-q', '-f', dump], env: source.env('icu_as_c'), allowFailure: true });
    const facts = async (db: string) => {
      await using s = await DbSession.open({ host: source.socketDir, port: source.port, user: source.superuser, database: db });
      await prepareFidelitySession(s);
      await s.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const all: CatalogFact[] = [];
      for await (const batch of readCatalogFacts(s)) all.push(...batch);
      await s.query('COMMIT');
      return all;
    };
    const diffs = await diffCatalogs(await facts('icu'), await facts('icu_as_c'));
    assert.deepEqual(diffs, [
      { object: 'database', attribute: 'locale provider', source: 'icu', restored: 'libc' },
      { object: 'database', attribute: 'provider locale', source: 'de-DE', restored: null },
    ]);
  });

  test('verify of a custom archive: the database is created with the archive\'s locale (its CREATE DATABASE entry): PASS', async () => {
    const dump = await pgDump(source, 'icu', 'custom', join(dir.path, 'icu.dump'));
    const res = await verifyArtifact({ artifact: dump, outDir: join(dir.path, 'verify-icu') });
    assert.equal(res.report.status, 'PASS', res.report.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`).join('\n'));
    assert.match(JSON.stringify(res.report.notes), /icu de-DE .*the archive's CREATE DATABASE entry/);
  });

  test('verify of an archive whose database has a locale this machine lacks: exit 4, the report FAILs naming it, nothing restored', async (t) => {
    if (!(await hasLocale('en_US.utf8'))) return t.skip('en_US.UTF-8 is not installed (scripts/setup generates it)');
    await psql(source, 'postgres', { sql: "CREATE DATABASE enus_archive TEMPLATE template0 ENCODING 'UTF8' LOCALE 'en_US.UTF-8'" });
    await psql(source, 'enus_archive', { sql: 'CREATE TABLE public.t (a text); INSERT INTO public.t VALUES (\'x\');' });
    const dump = await pgDump(source, 'enus_archive', 'custom', join(dir.path, 'enus.dump'));
    // The archive's table of contents is stored uncompressed: the same-length name of a locale nobody has.
    const bytes = await readFile(dump);
    const patched = Buffer.from(bytes.toString('latin1').replaceAll('en_US.UTF-8', 'xx_YY.UTF-8'), 'latin1');
    assert.notDeepEqual(patched, bytes);
    await writeFile(dump, patched);
    await assert.rejects(verifyArtifact({ artifact: dump, outDir: join(dir.path, 'verify-missing') }), (err: unknown) => {
      assert.ok(err instanceof EnvironmentError, String(err));
      assert.match(err.message, /xx_YY\.UTF-8.*locale-gen/s);
      return true;
    });
    const [run] = await readdir(join(dir.path, 'verify-missing'));
    const report = JSON.parse(await readFile(join(dir.path, 'verify-missing', run!, 'report.json'), 'utf8')) as Report;
    assert.equal(report.status, 'FAIL');
    const c = check(report, 'drill.aborted');
    assert.match(c.detail, /the sandbox cannot create the restored database with the source's locale .*xx_YY\.UTF-8.*This is the machine, not the backup/);
    assert.equal(report.tables.find((x) => x.name === 't')?.restored_rows ?? null, null);
  });

  test('a locale the machine lacks: an environment defect naming the locale and how to install it, before anything is restored', async () => {
    const missing = { collate: 'xx_YY.UTF-8', ctype: 'xx_YY.UTF-8', provider: 'libc' as const, locale: null, icuRules: null };
    await assert.rejects(createDatabase(source, 'nolocale', 'UTF8', undefined, missing), (err: unknown) => {
      assert.ok(err instanceof EnvironmentError, String(err));
      assert.match(err.message, /xx_YY\.UTF-8/);
      assert.match(err.message, /locale-gen/);
      assert.match(err.message, /not the backup/);
      return true;
    });
  });
});
