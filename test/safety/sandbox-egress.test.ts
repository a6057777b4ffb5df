/**
 * The restored copy never reaches outside the sandbox (docs/jail.md › Egress). The victim is a "production" cluster
 * whose Unix socket (in /tmp, owned by the same OS user as the sandboxes) a restored postgres_fdw server points at;
 * each drill runs with the jail forced weaker than the machine's ('none': no namespace at all, 'root': `unshare
 * --net` on the host's file system, where that socket is reachable) and in the default jail. The proof is the
 * victim's own state: its rows, and the connections its log (log_connections) recorded during the drill.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import { runDrill } from '../../src/drill/run-drill.js';
import { pgDump } from '../helpers/dumps.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { forceJailModeForTests } from '../../src/sandbox/jail.js';
import { verifyArtifact } from '../../src/verify/verify-artifact.js';
import { egressSettings } from '../../src/sandbox/egress-settings.js';
import { restoreSandboxSettings } from '../../src/pipeline/restore/restore-stage.js';
import type { Report } from '../../src/report/model.js';
import { connectionsDuring } from '../helpers/server-log.js';

const failures = (r: Report) => r.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`);
const noteOf = (r: Report, id: string) => r.notes.find((n) => n.id === id)?.text ?? "(no note)";
const check = (r: { checks: readonly { name: string; status: string; detail: string }[] }, name: string) => r.checks.find((c) => c.name === name);

describe('the restored copy does not reach a foreign server, in every jail mode', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let victim: SandboxCluster;
  let source: SandboxCluster;
  let withData: string;
  let schemaOnly: string;
  before(async () => {
    dir = await scratchDir();
    victim = await startSource({ parentDir: dir.path, label: 'victim', settings: { log_connections: 'on' } });
    await psql(victim, 'postgres', { sql: 'CREATE DATABASE prod' });
    await psql(victim, 'prod', { sql: "CREATE TABLE public.accounts (id int, v text); INSERT INTO public.accounts VALUES (1, 'prod-row')" });
    // The source's own jail shows it the victim's socket directory (a test cluster runs in bwrap too).
    source = await startSource({ parentDir: dir.path, shared: [victim.socketDir] });
    await psql(source, 'postgres', { sql: 'CREATE DATABASE app' });
    await psql(source, 'app', { sql: `CREATE EXTENSION postgres_fdw;
      CREATE SERVER prod FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '${victim.socketDir}', port '${victim.port}', dbname 'prod');
      CREATE USER MAPPING FOR PUBLIC SERVER prod OPTIONS (user '${victim.superuser}');
      CREATE FOREIGN TABLE public.accounts (id int, v text) SERVER prod OPTIONS (table_name 'accounts');
      CREATE VIEW public.accounts_view AS SELECT * FROM public.accounts;
      CREATE TABLE public.local (id int PRIMARY KEY, v text); INSERT INTO public.local SELECT g, 'r' || g FROM generate_series(1, 50) g;` });
    withData = await pgDump(source, 'app', 'plain', join(dir.path, 'app-fdw-data.sql'), ['--include-foreign-data=prod']);
    schemaOnly = await pgDump(source, 'app', 'plain', join(dir.path, 'app.sql'));
  });
  after(async () => {
    forceJailModeForTests(null);
    await source?.stop();
    await victim?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  /** The victim's rows, and the connections it logged while `f` ran (pgdrill's own check of the rows comes after). */
  async function watched<T>(f: () => Promise<T>): Promise<{ result: T; connections: string[]; rows: string }> {
    const { result, connections } = await connectionsDuring(victim.logFile, f);
    return { result, connections, rows: await psql(victim, 'prod', { sql: 'SELECT count(*) FROM public.accounts' }) };
  }

  test('the settings: foreign tables restricted, no logical replication workers', () => {
    assert.equal(egressSettings(15, 18).restrict_nonsystem_relation_kind, "'foreign-table'");
    assert.equal(egressSettings(15, 7).restrict_nonsystem_relation_kind, undefined, '15.7 does not know it: the server would not start');
    assert.equal(egressSettings(17, 0).restrict_nonsystem_relation_kind, "'foreign-table'");
    assert.equal(restoreSandboxSettings(null, 15, 18).max_logical_replication_workers, '0');
  });

  test('control: a server without the restriction, jailed as mode none, does write the dump\'s rows into the victim', async () => {
    // Proves the victim is reachable from a sandbox of that mode, so the cases below prove something.
    const { SandboxCluster } = await import('../../src/sandbox/cluster.js');
    const { bins } = await import('../helpers/clusters.js');
    const { resolveSandboxUser } = await import('../../src/exec/os-user.js');
    const { silentLogger } = await import('../../src/logger.js');
    const open = await SandboxCluster.start({ bins: await bins(), parentDir: dir.path, osUser: await resolveSandboxUser(), logger: silentLogger, superuser: 'postgres', label: 'unrestricted', network: false });
    try {
      await psql(open, 'postgres', { sql: 'CREATE DATABASE app' });
      const w = await watched(() => psql(open, 'app', { sql: "CREATE EXTENSION postgres_fdw; CREATE SERVER prod FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '" + victim.socketDir + "', port '" + victim.port + "', dbname 'prod'); CREATE USER MAPPING FOR CURRENT_USER SERVER prod OPTIONS (user 'postgres'); CREATE FOREIGN TABLE ft (id int, v text) SERVER prod OPTIONS (table_name 'accounts'); SELECT count(*) FROM ft" }));
      assert.ok(w.connections.length > 0, 'the unrestricted sandbox reached the victim');
      assert.equal(w.result.trim(), '1');
    } finally {
      await open.stop();
    }
  });

  for (const mode of ['none', 'root', null] as const) {
    const label = mode ?? 'default';
    test(`jail ${label}: a dump carrying a foreign table's rows (--include-foreign-data) writes nothing into and reads nothing from the victim`, async () => {
      forceJailModeForTests(mode);
      const w = await watched(() => verifyArtifact({ artifact: withData, outDir: join(dir.path, `out-data-${label}`), database: 'app', globals: false }));
      forceJailModeForTests(null);
      assert.deepEqual(w.connections, [], 'the victim logged a connection during the drill');
      assert.equal(w.rows.trim(), '1', 'the victim\'s table is unchanged');
      // Not a FAIL of a good backup, not a silent pass: the rows are reported from the dump, as not restorable.
      assert.deepEqual(failures(w.result.report), []);
      assert.match(noteOf(w.result.report, 'foreign-table-data'), /public\.accounts \(1 row\(s\), c2:[0-9a-f]{16}\).*would write them to the foreign server/);
      assert.equal(w.result.report.tables.find((t) => t.name === 'local')?.restored_rows, 50);
      assert.equal(w.result.report.tables.find((t) => t.name === 'accounts'), undefined, 'the foreign table is not counted in the copy');
    });
  }

  for (const format of ['custom', 'directory', 'tar'] as const) {
    test(`jail none: a ${format} archive with foreign-table data is restored without it (pg_restore --use-list), the victim untouched`, async () => {
      const file = await pgDump(source, 'app', format, join(dir.path, `app-fdw-data.${format}`), ['--include-foreign-data=prod']);
      forceJailModeForTests('none');
      const w = await watched(() => verifyArtifact({ artifact: file, outDir: join(dir.path, `out-${format}`), database: 'app', globals: false }));
      forceJailModeForTests(null);
      assert.deepEqual(w.connections, []);
      assert.equal(w.rows.trim(), '1');
      assert.deepEqual(failures(w.result.report), []);
      assert.match(noteOf(w.result.report, 'foreign-table-data'), /public\.accounts \(1 row\(s\)/);
    });
  }

  test('a header that calls an ordinary table foreign does not hide its rows: they are missing, a FAIL', async () => {
    const text = (await readFile(withData, 'utf8')).replace(/-- Name: local; Type: TABLE; Schema: public/g, '-- Name: local; Type: FOREIGN TABLE; Schema: public');
    assert.match(text, /Type: FOREIGN TABLE; Schema: public; Owner: \S+\n--\n\nCREATE TABLE public\.local/);
    const file = join(dir.path, 'lying-header.sql');
    await writeFile(file, text);
    forceJailModeForTests('none');
    const w = await watched(() => verifyArtifact({ artifact: file, outDir: join(dir.path, 'out-lying'), database: 'app', globals: false }));
    forceJailModeForTests(null);
    assert.deepEqual(w.connections, []);
    assert.ok(failures(w.result.report).some((f) => f.startsWith('fidelity.row_counts')), failures(w.result.report).join('\n'));
  });

  test('jail none: a legitimate dump with a foreign table (no data) and a view over it passes, and the victim is untouched', async () => {
    forceJailModeForTests('none');
    const w = await watched(() => verifyArtifact({ artifact: schemaOnly, outDir: join(dir.path, 'out-schema'), database: 'app', globals: false }));
    forceJailModeForTests(null);
    assert.deepEqual(w.connections, []);
    assert.equal(w.rows.trim(), '1');
    assert.deepEqual(failures(w.result.report), []);
    assert.equal(w.result.exitCode, 0);
  });

  for (const mode of ['none', 'root'] as const) {
    test(`jail ${mode}: pgdrill run of the source (foreign table, view over it) passes, deep, and the victim sees no connection`, async () => {
      forceJailModeForTests(mode);
      const w = await watched(() => runDrill({ source: urlOf(source, 'app'), outDir: join(dir.path, `out-run-${mode}`), deep: true }));
      forceJailModeForTests(null);
      assert.deepEqual(failures(w.result.report), []);
      assert.equal(w.result.exitCode, 0);
      // The source's own pg_dump does not read foreign data (no --include-foreign-data): nothing reached the victim.
      assert.deepEqual(w.connections, []);
      assert.equal(w.rows.trim(), '1');
    });
  }

  test('jail none: a populated materialized view over the foreign table is left unpopulated, named, the victim untouched', async () => {
    await psql(source, 'postgres', { sql: 'CREATE DATABASE app_mv TEMPLATE app' });
    await psql(source, 'app_mv', { sql: 'CREATE MATERIALIZED VIEW public.accounts_mv AS SELECT * FROM public.accounts' });
    const file = await pgDump(source, 'app_mv', 'plain', join(dir.path, 'app-mv.sql'));
    assert.match(await readFile(file, 'utf8'), /\nREFRESH MATERIALIZED VIEW public\.accounts_mv;\n/);
    forceJailModeForTests('none');
    const w = await watched(() => verifyArtifact({ artifact: file, outDir: join(dir.path, 'out-mv'), database: 'app_mv', globals: false }));
    forceJailModeForTests(null);
    assert.deepEqual(w.connections, []);
    assert.equal(w.rows.trim(), '1');
    // A good backup PASSes; the view its refresh would read the foreign server for is named (test/fidelity/foreign-tables.test.ts: the class).
    assert.deepEqual(failures(w.result.report), []);
    assert.match(noteOf(w.result.report, 'matview-not-refreshed'), /public\.accounts_mv \(reads a foreign table\)/);
  });

  test('jail none: a REFRESH a tampered dump adds outside pg_dump\'s entries still stops at the sandbox, named', async () => {
    const text = (await readFile(schemaOnly, 'utf8')).replace(/(\n--\n-- PostgreSQL database dump complete)/, '\nCREATE MATERIALIZED VIEW public.planted_mv AS SELECT * FROM public.accounts WITH NO DATA;\nREFRESH MATERIALIZED VIEW public.planted_mv;\n$1');
    const file = join(dir.path, 'planted-refresh.sql');
    await writeFile(file, text);
    forceJailModeForTests('none');
    const w = await watched(() => verifyArtifact({ artifact: file, outDir: join(dir.path, 'out-planted-mv'), database: 'app', globals: false }));
    forceJailModeForTests(null);
    assert.deepEqual(w.connections, []);
    assert.equal(w.rows.trim(), '1');
    const err = w.result.report.restore?.errors[0];
    assert.match(err?.message ?? '', /access to non-system foreign table is restricted/);
    assert.equal(err?.classification, 'environment_defect');
    assert.match(err?.hint ?? '', /nothing reached the foreign server/);
  });

  test('jail none: statements a tampered dump adds (INSERT into, SELECT from the foreign table) are stopped, the victim untouched', async () => {
    const text = (await readFile(schemaOnly, 'utf8')).replace(/(\n\\unrestrict )/, "\nINSERT INTO public.accounts VALUES (666, 'planted');\nCREATE TABLE public.stolen AS SELECT * FROM public.accounts_view;\n$1");
    const file = join(dir.path, 'tampered.sql');
    await writeFile(file, text);
    forceJailModeForTests('none');
    const w = await watched(() => verifyArtifact({ artifact: file, outDir: join(dir.path, 'out-tampered'), database: 'app', globals: false }));
    forceJailModeForTests(null);
    assert.deepEqual(w.connections, []);
    assert.equal(w.rows.trim(), '1');
    assert.equal(w.result.exitCode, 1);
  });

  test('a dump that lifts the restriction is refused before the restore (SET, set_config, ALTER ROLE … SET)', async () => {
    for (const [i, stmt] of ["SET restrict_nonsystem_relation_kind = '';", "SELECT pg_catalog.set_config('restrict_nonsystem_relation_kind', '', false);", 'ALTER ROLE postgres SET restrict_nonsystem_relation_kind TO DEFAULT;'].entries()) {
      const text = (await readFile(schemaOnly, 'utf8')).replace(/(\nCREATE SERVER )/, `\n${stmt}\n$1`);
      const file = join(dir.path, `lift-${i}.sql`);
      await writeFile(file, text);
      forceJailModeForTests('none');
      const w = await watched(() => verifyArtifact({ artifact: file, outDir: join(dir.path, `out-lift-${i}`), database: 'app', globals: false }));
      forceJailModeForTests(null);
      assert.equal(check(w.result.report, 'content.hostile_content')?.status, 'fail', stmt);
      assert.deepEqual(w.connections, []);
    }
  });
});
