/**
 * PostgreSQL 17's login event triggers fire on every connection, pgdrill's included. One that writes (audit on
 * login) made pgdrill's read-only-from-login sessions fail to log in: now the drill PASSes, its sessions read-only
 * right after login, the report names the trigger and counts the logins it followed — the audit rows on the source
 * rose by exactly those — and the restored copy's trigger fires for none of pgdrill's checks (row counts and content
 * hashes would see its rows). One that refuses pgdrill's role: exit 4, naming the trigger kind and the way out.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { runCli } from '../helpers/cli.js';
import { psql, scratchDir, urlOf } from '../helpers/clusters.js';
import { requireMajor } from '../helpers/majors.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { ReportSchema } from '../../src/report/model.js';
import { DB, clientsConfig, failedChecks, requireToolchain, startFixtureSource } from './helpers.js';

/** Rows the login trigger wrote for sessions named pgdrill (pgdrill's and the pg_dump/pg_dumpall it runs). */
async function pgdrillLogins(source: SandboxCluster): Promise<number> {
  const r = await psql(source, DB, { sql: "SELECT count(*) FROM public.logins WHERE app = 'pgdrill'" });
  return Number(r.trim().split('\n').at(-1));
}

describe('a 17 source with login event triggers', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>> | undefined;
  let source: SandboxCluster | undefined;
  let config = '';
  before(async () => {
    dir = await scratchDir('pgdrill-login-');
    config = await clientsConfig(dir.path);
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });
  /** The source, started by the first test that can run (17 and the toolchain present). */
  async function theSource(t: Parameters<typeof requireMajor>[0]): Promise<SandboxCluster | null> {
    if (!(await requireMajor(t, 17)) || !(await requireToolchain(t))) return null;
    source ??= await startFixtureSource(17, dir!.path);
    return source;
  }

  test('one that writes: PASS, read-only after login, the trigger named, the audit rows exactly the logins', async (t) => {
    const src = await theSource(t);
    if (!src) return;
    await psql(src, DB, { sql: `
      CREATE TABLE public.logins (who text, app text, at timestamptz DEFAULT now());
      CREATE FUNCTION public.audit_login() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
        BEGIN INSERT INTO public.logins (who, app) VALUES (session_user, current_setting('application_name')); END $$;
      CREATE EVENT TRIGGER audit_login ON login EXECUTE FUNCTION public.audit_login();` });
    const beforeRows = await pgdrillLogins(src);
    const r = await runCli(['run', '--source', urlOf(src, DB), '--config', config, '--out', join(dir!.path, 'out'), '--deep', '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout.slice(0, 3000));
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    assert.deepEqual(failedChecks(report), []);
    // The copy's trigger did not fire for the checks: its logins table counts and hashes as in the dump's snapshot.
    for (const name of ['fidelity.row_counts', 'fidelity.content_hashes'] as const) assert.equal(report.checks.find((c) => c.name === name)?.status, 'pass', name);
    const audit = report.checks.find((c) => c.name === 'production.audit_read_only')!;
    const ev = audit.evidence as { read_only: string; login_triggers: string[]; logins: { pgdrill: number; pg_dump: number; pg_dumpall: number } };
    assert.equal(ev.read_only, 'after-login');
    assert.deepEqual(ev.login_triggers, ['audit_login']);
    // The startup options without the read-only one (the other settings every session carries stay), then how.
    assert.match(report.production.session_settings ?? '', /^-c statement_timeout=\d+ -c lock_timeout=\d+ [^(]*\(read-only after login: SET default_transaction_read_only = on/);
    assert.doesNotMatch(report.production.session_settings ?? '', /default_transaction_read_only=on/);
    assert.match(audit.detail, /login trigger\(s\) audit_login ran at each login/);
    assert.match(report.notes.find((n) => n.id === 'source-login-triggers')?.text ?? '', /audit_login \(audit_login\(\), owner postgres\).*made read-only right after login/);
    // Every session of pgdrill's sent the read-only statements first (its audit is the statements sent).
    const firsts = new Map<number, string>();
    for (const a of report.production.audit) if (a.by === 'pgdrill' && a.pid !== undefined && !firsts.has(a.pid)) firsts.set(a.pid, a.sql);
    assert.equal(firsts.size, ev.logins.pgdrill);
    assert.ok([...firsts.values()].every((s) => s === 'SET default_transaction_read_only = on'), JSON.stringify([...firsts.values()]));
    // pg_dumpall logs in to the postgres database, whose (absent) triggers are not the source database's.
    assert.equal(await pgdrillLogins(src) - beforeRows, ev.logins.pgdrill + ev.logins.pg_dump);
    // The round trip's source side is read from the dump itself: no schema-only pg_dump (PGDRILL_ROUND_TRIP_FROM_DUMP=0 adds it).
    assert.equal(ev.logins.pg_dump, 1, 'the dump only');
  });

  test("one that refuses pgdrill's role: exit 4 before any file, naming the trigger kind and the way out", async (t) => {
    const src = await theSource(t);
    if (!src) return;
    await psql(src, DB, { sql: `
      CREATE ROLE drill_ro LOGIN; GRANT pg_read_all_data TO drill_ro;
      CREATE FUNCTION public.no_drills() RETURNS event_trigger LANGUAGE plpgsql AS $$
        BEGIN IF session_user = 'drill_ro' THEN RAISE EXCEPTION 'no drills on this server'; END IF; END $$;
      CREATE EVENT TRIGGER no_drills ON login EXECUTE FUNCTION public.no_drills();` });
    const out = join(dir!.path, 'refused');
    const r = await runCli(['run', '--source', urlOf(src, DB).replace(`${src.superuser}@`, 'drill_ro@'), '--config', config, '--out', out]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /refused the login with "no drills on this server"/);
    assert.match(r.stderr, /login event trigger .*refused pgdrill's session \(role drill_ro/);
    assert.match(r.stderr, /pg_event_trigger WHERE evtevent = 'login'/);
    assert.ok(!existsSync(out), 'nothing written');
  });
});
