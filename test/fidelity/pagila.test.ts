import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { psql, urlOf, usePagila } from '../helpers/clusters.js';
import { ReportSchema } from '../../src/report/model.js';
import { check, drill, failed } from './helpers.js';

describe('fidelity on pagila', () => {
  const fx = usePagila();
  before(async () => {
    await psql(fx.source, 'pagila', { sql: 'CREATE ROLE app_reader NOLOGIN; GRANT USAGE ON SCHEMA public TO app_reader; GRANT SELECT ON public.actor, public.film TO app_reader;' });
  });

  test('run --deep: every hash equal, zero catalog differences, round trip empty, amcheck clean', async () => {
    const r = await runCli(['run', '--source', urlOf(fx.source, 'pagila'), '--deep', '--out', join(fx.dir, 'clean'), '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout.slice(0, 3000));
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    assert.equal(report.status, 'PASS');
    for (const name of ['fidelity.content_hashes', 'fidelity.catalog', 'fidelity.round_trip', 'fidelity.amcheck', 'restore.extensions_available']) {
      assert.equal(check(report, name).status, 'pass', `${name}: ${check(report, name).detail}`);
    }
    assert.equal(report.tables.length, 21);
    for (const t of report.tables) {
      assert.match(t.dump_hash ?? '', /^c2:[0-9a-f]{16}$/, `${t.schema}.${t.name}`);
      assert.equal(t.restored_copy_hash, t.dump_hash, `${t.schema}.${t.name}`);
      assert.equal(t.source_hash, undefined, 'the source hashes no table unless source.witness: hashes');
    }
    const f = report.fidelity!;
    assert.equal(f.deep, true);
    assert.deepEqual(f.differences, []);
    assert.ok(f.catalog!.source_facts > 1000, `${f.catalog!.source_facts} facts`);
    assert.equal(f.catalog!.sequences_checked, 13);
    assert.equal(f.round_trip!.equal, true);
    assert.deepEqual(f.round_trip!.differences, []);
    assert.ok(f.round_trip!.lines_compared > 1900);
    assert.equal(f.amcheck!.exit_code, 0);
    assert.equal(f.amcheck!.corrupt, 0);
    assert.ok(f.amcheck!.relations.some((x) => x.relation === 'public.rental' && x.kind === 'heap table' && x.status === 'ok'));
    assert.ok(f.amcheck!.relations.some((x) => x.relation === 'public.rental_pkey' && x.kind === 'btree index'));
    // The materialized view created WITH NO DATA stays unpopulated: equal, not a difference.
    assert.deepEqual(f.extensions_missing, []);
    const md = await readFile(join(report.run.dir, 'report.md'), 'utf8');
    assert.match(md, /### Fidelity/);
    assert.match(md, /content_hashes: 21\/21 tables equal/);
    // The copy's schema dump is taken in the catalog read's snapshot, exported before pg_amcheck's extension was
    // created beside it: none of the extension in the dump.
    assert.match(String(check(report, 'fidelity.round_trip').evidence?.restored_args), /--snapshot=[0-9A-F]+-[0-9A-F]+-\d+/);
    assert.doesNotMatch(await readFile(f.round_trip!.restored_path, 'utf8'), /amcheck/);
  });

  test('run without --deep: content hashes from the dump stream, catalog, round trip and amcheck still run', async () => {
    const { report } = await drill(urlOf(fx.source, 'pagila'), fx.dir, 'shallow', undefined, false);
    assert.equal(report.status, 'PASS', failed(report).join(', '));
    assert.equal(check(report, 'fidelity.content_hashes').status, 'pass');
    assert.match(check(report, 'fidelity.content_hashes').detail, /evidence: the dump's own COPY lines \(21 block\(s\)/);
    assert.ok(report.tables.every((t) => t.source_hash === undefined && t.dump_hash === t.restored_copy_hash));
    for (const name of ['fidelity.catalog', 'fidelity.round_trip', 'fidelity.amcheck']) assert.equal(check(report, name).status, 'pass', name);
  });

  test('a row changed in the restored copy: the content hash names the table, counts still equal', async () => {
    const { report, exitCode } = await drill(urlOf(fx.source, 'pagila'), fx.dir, 'row', "UPDATE public.actor SET last_name = 'CHANGED' WHERE actor_id = 7");
    assert.equal(exitCode, 1);
    assert.deepEqual(failed(report), ['fidelity.content_hashes']);
    const c = check(report, 'fidelity.content_hashes');
    assert.match(c.detail, /^1 difference\(s\) in content: public\.actor \(/);
    assert.equal(check(report, 'fidelity.row_counts').status, 'pass');
    const actor = report.tables.find((t) => t.name === 'actor')!;
    assert.notEqual(actor.restored_copy_hash, actor.dump_hash);
    assert.equal(actor.match, false);
    assert.equal(report.tables.filter((t) => !t.match).length, 1);
  });

  test('a GRANT missing in the restore: the catalog names object, grantee and privilege', async () => {
    const { report } = await drill(urlOf(fx.source, 'pagila'), fx.dir, 'grant', 'REVOKE SELECT ON public.actor FROM app_reader');
    assert.deepEqual(failed(report), ['fidelity.catalog', 'fidelity.round_trip']);
    assert.deepEqual(report.fidelity!.differences, [
      { object: 'table public.actor', attribute: 'grant SELECT to app_reader', source: 'granted by postgres', restored: null },
    ]);
    assert.match(check(report, 'fidelity.catalog').detail, /table public\.actor: grant SELECT to app_reader: source "granted by postgres", restored \(absent\)/);
    const md = await readFile(join(report.run.dir, 'report.md'), 'utf8');
    assert.match(md, /\| table public\.actor \| grant SELECT to app_reader \| `granted by postgres` \| _\(absent\)_ \|/);
  });

  test('a column default changed: the catalog names the column, the round trip the line', async () => {
    const { report } = await drill(urlOf(fx.source, 'pagila'), fx.dir, 'default', 'ALTER TABLE public.film ALTER COLUMN rental_duration SET DEFAULT 7');
    assert.deepEqual(failed(report), ['fidelity.catalog', 'fidelity.round_trip']);
    assert.deepEqual(report.fidelity!.differences, [
      { object: 'column public.film.rental_duration', attribute: 'default', source: '3', restored: '7' },
    ]);
    const rt = report.fidelity!.round_trip!;
    assert.equal(rt.equal, false);
    assert.match(rt.section ?? '', /Name: film; Type: TABLE; Schema: public/);
    assert.match(rt.differences[0]!.source!, /rental_duration smallint DEFAULT 3 NOT NULL/);
    assert.match(rt.differences[0]!.restored!, /rental_duration smallint DEFAULT 7 NOT NULL/);
    assert.match(check(report, 'fidelity.round_trip').detail, /in "Name: film; Type: TABLE; Schema: public; Owner: postgres": source line \d+ .*DEFAULT 3/);
  });
});
