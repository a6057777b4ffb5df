/**
 * PostgreSQL 17's login event triggers fire on every connection, pgdrill's included. One that writes cannot log
 * pgdrill in (its sessions are read-only from login): the drill stops before writing anything, with a message that
 * names the trigger kind and the way out, not a bare "cannot execute INSERT in a read-only transaction".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { runCli } from '../helpers/cli.js';
import { psql, scratchDir, urlOf } from '../helpers/clusters.js';
import { requireMajor } from '../helpers/majors.js';
import { DB, clientsConfig, requireToolchain, startFixtureSource } from './helpers.js';

test('a 17 source with a login event trigger that writes: exit 4 before any file, naming the trigger and the way out', async (t) => {
  if (!(await requireMajor(t, 17)) || !(await requireToolchain(t))) return;
  await using scratch = await scratchDir('pgdrill-login-');
  const config = await clientsConfig(scratch.path);
  const source = await startFixtureSource(17, scratch.path);
  try {
    await psql(source, DB, { sql: `
      CREATE TABLE public.logins (who text, at timestamptz DEFAULT now());
      CREATE FUNCTION public.audit_login() RETURNS event_trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO public.logins (who) VALUES (session_user); END $$;
      CREATE EVENT TRIGGER audit_login ON login EXECUTE FUNCTION public.audit_login();` });
    const out = join(scratch.path, 'out');
    const r = await runCli(['run', '--source', urlOf(source, DB), '--config', config, '--out', out]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /login event trigger/);
    assert.match(r.stderr, /pg_event_trigger WHERE evtevent = 'login'/);
    assert.ok(!existsSync(out), 'nothing written');
  } finally {
    await source.stop();
  }
});
