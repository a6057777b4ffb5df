/**
 * verify of a dump without its globals restores the roles it names as NOLOGIN placeholders. An event trigger, a
 * foreign-data wrapper, a subscription and a publication FOR ALL TABLES (Debezium's setup) can only be owned by a
 * superuser: with a plain placeholder as owner, `ALTER … OWNER TO` failed and a good backup FAILed. Their owners'
 * placeholders are superusers now. And a copy that holds a subscription can be dropped for a second, serial restore
 * (the database "is being used by logical replication subscription" otherwise): a real defect is then named.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bins, psql, scratchDir, startSource } from '../helpers/clusters.js';
import { pgDump } from '../helpers/dumps.js';
import { runProcess } from '../../src/exec/run-process.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { verifyArtifact } from '../../src/verify/verify-artifact.js';
import type { Report } from '../../src/report/model.js';

const SQL = `
CREATE ROLE app NOLOGIN;
CREATE TABLE public.orders (id int PRIMARY KEY, total numeric);
INSERT INTO public.orders SELECT g, g * 1.5 FROM generate_series(1, 100) g;
ALTER TABLE public.orders OWNER TO app;
CREATE FUNCTION public.audit_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
CREATE EVENT TRIGGER audit_ddl ON ddl_command_end EXECUTE FUNCTION public.audit_ddl();
CREATE FOREIGN DATA WRAPPER dummy;
CREATE PUBLICATION dbz_publication FOR ALL TABLES;
CREATE SUBSCRIPTION from_legacy CONNECTION 'host=/nonexistent dbname=legacy' PUBLICATION p WITH (connect = false);`;

describe('verify without globals: placeholders of superuser-owned objects, and a copy with a subscription', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  before(async () => {
    dir = await scratchDir();
    source = await startSource({ parentDir: dir.path });
    await psql(source, 'postgres', { sql: 'CREATE DATABASE shop' });
    await psql(source, 'shop', { sql: SQL });
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  const failures = (r: Report) => r.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`).join('\n');

  for (const format of ['plain', 'custom'] as const) {
    test(`${format}: PASS, the owner's placeholder a superuser (said in the note), the table owner's not`, async () => {
      const file = await pgDump(source, 'shop', format, join(dir.path, `shop-${format}`));
      const { report } = await verifyArtifact({ artifact: file, outDir: join(dir.path, `out-${format}`) });
      assert.equal(report.status, 'PASS', failures(report));
      const note = report.notes.find((n) => n.id === 'placeholder-roles')!.text;
      assert.match(note, /as superusers, since .*: postgres$/);
      assert.equal(report.tables.find((t) => t.name === 'orders')?.restored_rows, 100);
    });
  }

  test('a globals file that lacks a role: restored again serially (the subscription dropped first), the missing role named', async () => {
    const globals = join(dir.path, 'globals.sql');
    await runProcess({ bin: (await bins()).path('pg_dumpall'), args: ['--globals-only', '--no-role-passwords', `--file=${globals}`], env: source.env('postgres') });
    const text = await readFile(globals, 'utf8');
    assert.match(text, /^CREATE ROLE app;$/m);
    await writeFile(globals, text.split('\n').filter((l) => !/^(CREATE|ALTER) ROLE app\b/.test(l)).join('\n'));
    const file = await pgDump(source, 'shop', 'custom', join(dir.path, 'shop-missing.dump'));
    const { report } = await verifyArtifact({ artifact: file, outDir: join(dir.path, 'out-missing'), globals });
    assert.equal(report.status, 'FAIL');
    assert.equal(report.checks.find((c) => c.name === 'restore.error'), undefined, failures(report));
    assert.match(report.checks.find((c) => c.name === 'restore.errors')!.detail, /role "app" does not exist/);
    assert.ok(report.notes.some((n) => n.id === 'restore-one-transaction'), JSON.stringify(report.notes.map((n) => n.id)));
  });
});
