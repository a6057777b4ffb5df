import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { runDrill } from '../../src/drill/run-drill.js';
import { runProcess } from '../../src/exec/run-process.js';
import { check, drill, failed } from './helpers.js';

/**
 * pgdrill's own DDL in the restored copy (amcheck's CREATE EXTENSION, and its DROP for a kept sandbox) must fire none
 * of the copy's event triggers, whatever their mode: an auditing one would add rows that --deep then compares, a
 * blocking one would stop amcheck.
 */
const AUDIT_SQL = `
CREATE TABLE public.ddl_audit (id serial PRIMARY KEY, event text NOT NULL, tag text NOT NULL);
CREATE FUNCTION public.audit_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.ddl_audit (event, tag) VALUES (tg_event, tg_tag); END $$;
CREATE EVENT TRIGGER audit_start ON ddl_command_start EXECUTE FUNCTION public.audit_ddl();
CREATE EVENT TRIGGER audit_end ON ddl_command_end EXECUTE FUNCTION public.audit_ddl();
CREATE EVENT TRIGGER audit_drop ON sql_drop EXECUTE FUNCTION public.audit_ddl();
CREATE EVENT TRIGGER audit_always ON ddl_command_end EXECUTE FUNCTION public.audit_ddl();
ALTER EVENT TRIGGER audit_always ENABLE ALWAYS;
CREATE EVENT TRIGGER audit_replica ON ddl_command_end EXECUTE FUNCTION public.audit_ddl();
ALTER EVENT TRIGGER audit_replica ENABLE REPLICA;
CREATE TABLE public.items (id int PRIMARY KEY, label text);
INSERT INTO public.items SELECT g, 'item ' || g FROM generate_series(1, 50) g;`;

const BLOCK_SQL = `
CREATE TABLE public.items (id int PRIMARY KEY, label text);
INSERT INTO public.items SELECT g, 'item ' || g FROM generate_series(1, 50) g;
CREATE FUNCTION public.block_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'DDL is not allowed here (%)', tg_tag; END $$;
CREATE EVENT TRIGGER block_ddl ON ddl_command_start EXECUTE FUNCTION public.block_ddl();`;

describe("pgdrill's DDL in the restored copy fires none of its event triggers", () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  before(async () => {
    dir = await scratchDir();
    source = await startSource({ parentDir: dir.path });
    await psql(source, 'postgres', { sql: 'CREATE DATABASE audited' });
    await psql(source, 'postgres', { sql: 'CREATE DATABASE blocked' });
    await psql(source, 'audited', { sql: AUDIT_SQL });
    await psql(source, 'blocked', { sql: BLOCK_SQL });
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  test('event triggers logging DDL (ENABLE, ALWAYS, REPLICA) + --deep: PASS, the audit table hashes equal, amcheck ran', async () => {
    const { report } = await drill(urlOf(source, 'audited'), dir.path, 'audited');
    assert.equal(report.status, 'PASS', failed(report).map((n) => `${n}: ${check(report, n).detail}`).join('\n'));
    assert.equal(check(report, 'fidelity.content_hashes').status, 'pass');
    assert.equal(check(report, 'fidelity.amcheck').status, 'pass');
    assert.ok(report.fidelity!.amcheck!.relations.some((r) => r.relation === 'public.ddl_audit'), 'amcheck checked the audit table');
    const audit = report.tables.find((t) => t.name === 'ddl_audit')!;
    assert.equal(audit.restored_rows, audit.dump_rows, 'no audit row added by pgdrill'); // the dump's rows: the default drill (source.witness: none)
  });

  test('--keep: the kept copy is as the dump made it (no audit rows added, no amcheck, triggers in their modes)', async () => {
    const { report } = await runDrill({ source: urlOf(source, 'audited'), outDir: join(dir.path, 'kept'), keep: true, deep: true });
    const m = /^psql "([^"]+)" +\(stop it with: (.*pg_ctl -D (\S+) stop); then rm -rf (\S+)\)$/.exec(report.restore?.connect ?? '');
    assert.ok(m, report.restore?.connect ?? '(no connect string)');
    const pid = Number((await readFile(join(m[3]!, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    try {
      assert.equal(report.status, 'PASS', failed(report).join(', '));
      const q = async (url: string, sql: string) => {
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        try {
          return (await c.query(sql)).rows;
        } finally {
          await c.end();
        }
      };
      const state = "SELECT (SELECT count(*)::int FROM public.ddl_audit) AS audit, (SELECT string_agg(evtname || '=' || evtenabled::text, ',' ORDER BY evtname) FROM pg_event_trigger) AS triggers, (SELECT count(*)::int FROM pg_extension WHERE extname = 'amcheck') AS amcheck";
      const [kept] = await q(m[1]!, state);
      const [src] = await q(urlOf(source, 'audited'), state);
      assert.deepEqual(kept, src);
      assert.equal(kept.amcheck, 0);
    } finally {
      await runProcess({ bin: '/bin/sh', args: ['-c', m[2]!], allowFailure: true });
      try {
        process.kill(pid, 'SIGQUIT');
      } catch {
        /* gone */
      }
      await rm(m[4]!, { recursive: true, force: true });
    }
  });

  test('an event trigger that blocks all DDL: amcheck still runs (no false "install postgresql-contrib"), PASS', async () => {
    const { report } = await drill(urlOf(source, 'blocked'), dir.path, 'blocked');
    assert.equal(report.status, 'PASS', failed(report).map((n) => `${n}: ${check(report, n).detail}`).join('\n'));
    const c = check(report, 'fidelity.amcheck');
    assert.equal(c.status, 'pass', c.detail);
    assert.doesNotMatch(c.detail, /postgresql-contrib/);
    assert.ok(report.fidelity!.amcheck!.relations_checked >= 2);
  });
});
