import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { pgDump } from '../helpers/dumps.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { verifyArtifact } from '../../src/verify/verify-artifact.js';
import { runDrill } from '../../src/drill/run-drill.js';
import type { Report } from '../../src/report/model.js';
import { check, drill, failed } from './helpers.js';

/**
 * Session defaults a database or role sets (`ALTER DATABASE … SET`, `ALTER ROLE … [IN DATABASE …] SET`) that pg_dump's
 * session inherits and a dump without --create does not carry: the copy has none of them, yet holds the same
 * database. Each one made a good backup FAIL:
 * - standard_conforming_strings off: the server and pg_dump double every backslash of a literal (`'C:\\dir'`);
 * - quote_all_identifiers on: the server quotes every name it deparses (`'x'::"text"`, `"public"."t"`);
 * - client_encoding SJIS (a legacy client's): pg_dump wrote the dump in SJIS, which the scanner refuses; LATIN1 made
 *   the round trip's header differ;
 * - a role's `client_encoding TO 'utf8'` (Django's documented setup): pg_dumpall writes it, the scanner refused it;
 * and two that no setting is needed for:
 * - `regclass`/`regproc`/`regtype` columns: pg_dump prints them under an empty search_path (schema-qualified);
 * - a view WITH (security_invoker) … WITH CHECK OPTION: pg_dump writes the check option last, the copy stores the
 *   options in another order; a policy TO roles named out of their creation order: pg_dump writes them in pg_roles'.
 * And a `pg_dump --create` dump brings its database's settings into the restored copy, where pgdrill's checks used to
 * take them (a production statement_timeout cancelled the read-back; a search_path naming no schema stopped amcheck).
 */
const LEGACY_SQL = `
CREATE SCHEMA app;
CREATE TABLE public.t (a int);
CREATE TYPE app.humeur AS ENUM ('gaîté', 'ok');
CREATE TABLE app.audit (
  id int PRIMARY KEY, rel regclass, fn regprocedure, ty regtype, h app.humeur DEFAULT 'gaîté',
  note text DEFAULT 'C:\\dir' CHECK (note <> 'a\\b'), at timestamptz DEFAULT '2020-01-01 00:00+00'
);
INSERT INTO app.audit (id, rel, fn, ty, note) VALUES
  (1, 'public.t', 'pg_catalog.now()', 'app.humeur', 'crème'), (2, 'app.audit', 'pg_catalog.lower(text)', 'integer', E'back\\\\slash');
CREATE TABLE app.refs (id int PRIMARY KEY, rel regclass, ty regtype);
INSERT INTO app.refs VALUES (1, 'public.t', 'app.humeur'), (2, 'app.refs', 'pg_catalog.int4');
COMMENT ON TABLE app.audit IS 'back\\slash é';
CREATE INDEX audit_lower ON app.audit (lower(note));
CREATE VIEW app.v WITH (security_invoker = true) AS SELECT id, rel, note FROM app.audit WHERE id > 0 WITH CASCADED CHECK OPTION;
CREATE ROLE a_role NOLOGIN;
CREATE ROLE z_role NOLOGIN;
CREATE POLICY by_role ON app.audit TO z_role, a_role USING (id > 0);
CREATE FUNCTION app.tag(x text) RETURNS text LANGUAGE sql AS $$ SELECT x || '\\' $$;
ALTER DATABASE legacy SET standard_conforming_strings = off;
ALTER DATABASE legacy SET client_encoding = 'SJIS';
ALTER ROLE postgres IN DATABASE legacy SET quote_all_identifiers = on;
CREATE ROLE django LOGIN;
ALTER ROLE django SET client_encoding TO 'utf8';
ALTER ROLE django SET default_transaction_isolation TO 'read committed';
GRANT SELECT ON app.audit TO django;`;

describe('database and role session defaults that pg_dump inherits and the copy does not carry', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  before(async () => {
    dir = await scratchDir();
    source = await startSource({ parentDir: dir.path });
    await psql(source, 'postgres', { sql: "CREATE DATABASE legacy TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'" });
    await psql(source, 'legacy', { sql: LEGACY_SQL });
    // A database whose settings a `pg_dump --create` dump carries into the restored copy (last: they bind later sessions).
    await psql(source, 'postgres', { sql: "CREATE DATABASE prod TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'" });
    await psql(source, 'prod', {
      sql: `CREATE TABLE public.big (id int PRIMARY KEY, t text);
        INSERT INTO public.big SELECT g, md5(g::text) || repeat('x', 200) FROM generate_series(1, 100000) g;
        ALTER DATABASE prod SET statement_timeout = '20ms';
        ALTER DATABASE prod SET idle_in_transaction_session_timeout = '50ms';
        ALTER DATABASE prod SET lock_timeout = '10ms';
        ALTER DATABASE prod SET search_path = nowhere;
        ALTER DATABASE prod SET quote_all_identifiers = on;`,
    });
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  const detail = (r: Report) => failed(r).map((n) => `${n}: ${check(r, n).detail}`).join('\n');

  test('plain, --deep, source witness hashes: PASS; the dump is in the database encoding, the globals keep the role setting', async () => {
    const { report } = await drill(urlOf(source, 'legacy'), dir.path, 'plain', undefined, true, { source: { witness: 'hashes' } });
    assert.equal(report.status, 'PASS', detail(report));
    const run = join(dir.path, 'plain', (await readdir(join(dir.path, 'plain')))[0]!);
    const files = await readdir(run);
    const dump = await readFile(join(run, files.find((f) => f.endsWith('.sql') && !f.endsWith('.globals.sql'))!), 'utf8');
    // pgdrill's pg_dump prints as the server does by default, whatever the database and role set.
    assert.match(dump, /^SET client_encoding = 'UTF8';$/m);
    assert.match(dump, /^SET standard_conforming_strings = on;$/m);
    assert.match(dump, /CHECK \(\(note <> 'a\\b'::text\)\)/);
    const globals = await readFile(join(run, files.find((f) => f.endsWith('.globals.sql'))!), 'utf8');
    assert.match(globals, /^ALTER ROLE django SET client_encoding TO 'utf8';$/m);
    assert.equal(check(report, 'fidelity.round_trip').status, 'pass');
    for (const name of ['audit', 'refs']) {
      const row = report.tables.find((t) => t.name === name)!;
      assert.ok(row.dump_hash && row.restored_copy_hash === row.dump_hash, name);
    }
  });

  test("custom format, the round trip's source side a second pg_dump of the source (PGDRILL_ROUND_TRIP_FROM_DUMP=0): PASS", async () => {
    process.env.PGDRILL_ROUND_TRIP_FROM_DUMP = '0';
    try {
      const { report } = await runDrill({ source: urlOf(source, 'legacy'), outDir: join(dir.path, 'custom'), format: 'custom' });
      assert.equal(report.status, 'PASS', detail(report));
      assert.equal(report.fidelity?.round_trip?.equal, true);
    } finally {
      delete process.env.PGDRILL_ROUND_TRIP_FROM_DUMP;
    }
  });

  test('a copy that really differs still FAILs: a regclass value, a view option, a default with a backslash, a policy\'s roles — each named', async () => {
    const mutate = `UPDATE app.audit SET rel = 'app.v' WHERE id = 1;
      ALTER VIEW app.v SET (security_invoker = false);
      ALTER TABLE app.audit ALTER COLUMN note SET DEFAULT E'C:\\\\dix';
      ALTER POLICY by_role ON app.audit TO a_role;`;
    const { report } = await drill(urlOf(source, 'legacy'), dir.path, 'mutant', mutate, false);
    assert.deepEqual(failed(report).sort(), ['fidelity.catalog', 'fidelity.content_hashes', 'fidelity.round_trip']);
    assert.deepEqual(check(report, 'fidelity.content_hashes').evidence!.differ, ['app.audit']);
    const diffs = report.fidelity!.differences.map((d) => `${d.object}: ${d.attribute}`).sort();
    assert.deepEqual(diffs, ['column app.audit.note: default', 'policy app.audit.by_role: roles', 'view app.v: options']);
  });

  test("verify of a pg_dump --create dump that restores its database's statement_timeout, search_path…: the checks run with the defaults, PASS", async () => {
    const file = await pgDump(source, 'prod', 'plain', join(dir.path, 'prod.sql'), ['--create']);
    const { report } = await verifyArtifact({ artifact: file, outDir: join(dir.path, 'verify-create') });
    assert.equal(report.status, 'PASS', detail(report));
    // Read back whole (not cancelled at 20 ms), hashed equal, and amcheck installed although no schema of search_path exists.
    const big = report.tables.find((t) => t.name === 'big')!;
    assert.deepEqual([big.restored_rows, big.dump_hash === big.restored_copy_hash], [100000, true]);
    assert.equal(check(report, 'fidelity.content_hashes').status, 'pass');
    assert.equal(check(report, 'fidelity.amcheck').status, 'pass', check(report, 'fidelity.amcheck').detail);
  });

  test('verify of a dump made with pg_dump --quote-all-identifiers: the regclass tables are not comparable (warn), not a difference', async () => {
    // In UTF8: the database's SJIS default would give a dump the scanner refuses (docs/usage.md#encodings).
    const file = await pgDump(source, 'legacy', 'custom', join(dir.path, 'qai.dump'), ['--quote-all-identifiers', '--encoding=UTF8']);
    const { report } = await verifyArtifact({ artifact: file, outDir: join(dir.path, 'verify') });
    assert.equal(report.status, 'PASS', detail(report));
    const c = check(report, 'fidelity.content_hashes');
    assert.equal(c.status, 'warn', c.detail);
    // app.audit has a timestamptz column as well; app.refs only OID alias types, which print by quote_all_identifiers.
    assert.deepEqual((c.evidence!.not_comparable as string[]).map((x) => x.split(' ')[0]).sort(), ['app.audit', 'app.refs']);
  });
});
