/**
 * Why a restore failed, on a real server (issue 21, item 11): each statement is replayed as the restore replays a
 * dump (psql -v ON_ERROR_STOP=1 --echo-errors, VERBOSITY=verbose, as the sandbox's OS user), and the error the server
 * really produced is classified. A missing security-label provider, collation/locale, extension, library or
 * language is the environment's defect, with a hint that names what to install; a dump whose statement cannot
 * work is the backup's.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { bins, psql, scratchDir, startSource } from '../helpers/clusters.js';
import { startPsqlScript } from '../../src/restore/restore-dump.js';
import { classifyRestoreErrors } from '../../src/restore/classify.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';

let scratch: Awaited<ReturnType<typeof scratchDir>>;
let cluster: SandboxCluster;
before(async () => {
  scratch = await scratchDir();
  cluster = await startSource({ parentDir: scratch.path });
  await psql(cluster, 'postgres', { sql: 'CREATE DATABASE target' });
  await psql(cluster, 'target', { sql: 'CREATE TABLE public.t (a int); CREATE TABLE public.other (x int)' });
});
after(async () => {
  await cluster?.stop();
  await scratch?.[Symbol.asyncDispose]();
});

/** Replay one statement as a restore does; the one error it gives, classified. */
async function restoreError(sql: string) {
  const run = startPsqlScript(cluster, await bins(), 'target', Readable.from([`${sql}\n`]), { phase: 'dump', singleTransaction: true });
  const { errors } = await run.result;
  assert.equal(errors.length, 1, `${sql}: ${JSON.stringify(errors)}`);
  return classifyRestoreErrors(errors)[0]!;
}

const CASES: readonly { what: string; sql: string; classification: string; hint: RegExp; message?: RegExp }[] = [
  { what: 'a security label without its provider', sql: "SECURITY LABEL FOR selinux ON TABLE public.t IS 'system_u:object_r:sepgsql_table_t:s0';", classification: 'environment_defect', hint: /provider.*sepgsql.*--no-security-labels/, message: /security label provider "selinux" is not loaded/ },
  { what: 'a security label, no provider at all', sql: "SECURITY LABEL ON TABLE public.t IS 'x';", classification: 'environment_defect', hint: /provider/ },
  { what: 'a libc locale this machine lacks', sql: "CREATE COLLATION public.xx (provider = libc, locale = 'xx_YY.UTF-8');", classification: 'environment_defect', hint: /install the locale/ },
  { what: 'a collation of the OS that initdb could not import here', sql: 'CREATE TABLE public.c (a text COLLATE pg_catalog."zz_ZZ");', classification: 'environment_defect', hint: /install the locale/ },
  { what: 'a missing extension', sql: 'CREATE EXTENSION IF NOT EXISTS pgdrill_no_such_extension WITH SCHEMA public;', classification: 'environment_defect', hint: /install its package/ },
  { what: 'a C function whose library is missing', sql: "CREATE FUNCTION public.cf() RETURNS int LANGUAGE c AS '/nonexistent/pgdrill_lib', 'cf';", classification: 'environment_defect', hint: /shared library/ },
  { what: 'a C function missing from its library', sql: "CREATE FUNCTION public.cf() RETURNS int LANGUAGE c AS '$libdir/plpgsql', 'pgdrill_no_such_symbol';", classification: 'environment_defect', hint: /shared library/ },
  { what: 'a procedural language not installed', sql: 'CREATE FUNCTION public.pf() RETURNS int LANGUAGE plpython3u AS $$ return 1 $$;', classification: 'environment_defect', hint: /procedural language/ },
  { what: 'a missing role', sql: 'ALTER TABLE public.t OWNER TO pgdrill_ghost;', classification: 'environment_defect', hint: /role/ },
  { what: 'a setting the server does not have', sql: "CREATE FUNCTION public.sf() RETURNS int LANGUAGE sql SET enable_pgdrill_nothing = on AS 'SELECT 1';", classification: 'environment_defect', hint: /setting/ },
  { what: 'a function body naming a table without its schema (the backup\'s defect)', sql: "SELECT pg_catalog.set_config('search_path', '', false); CREATE FUNCTION public.g() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM other'; CREATE MATERIALIZED VIEW public.mv AS SELECT public.g() AS n;", classification: 'backup_defect', hint: /empty search_path/ },
  { what: 'rows that violate a constraint the dump restores', sql: 'INSERT INTO public.t VALUES (1), (1); ALTER TABLE public.t ADD CONSTRAINT t_a UNIQUE (a);', classification: 'backup_defect', hint: /violate a constraint/ },
];

for (const c of CASES) {
  test(`classified on a real server: ${c.what} → ${c.classification}`, async () => {
    const e = await restoreError(c.sql);
    assert.equal(e.classification, c.classification, JSON.stringify(e));
    assert.match(e.hint ?? '', c.hint);
    if (c.message) assert.match(e.message, c.message);
  });
}
