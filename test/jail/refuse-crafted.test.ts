/**
 * Hostile content pg_dump never writes, in dumps an attacker edited — refused by `pgdrill verify` with exit 1
 * before any sandbox exists, with no side effect on the host.
 *
 * - Plain dumps: a real pg_dump output with one statement added at the top level: COPY … TO PROGRAM, COPY … TO a
 *   server file, ALTER SYSTEM, a LANGUAGE c function (adminpack's pg_file_write) called right away, a `\!` meta-command.
 * - Custom archives: a real `pg_dump -Fc` archive whose COMMENT entry was overwritten in place with the same
 *   payloads, padded to the same length (the TOC stores definitions as plain length-prefixed strings and the data
 *   offsets stay valid) — what an attacker with write access to a backup can do, since archives carry no checksum.
 *
 * The controls restore each crafted file directly, as a drill without the scan would: the payload fires (the
 * file appears, postgresql.auto.conf changes), so the refusal is what stops it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveSandboxUser } from '../../src/exec/os-user.js';
import { runProcess } from '../../src/exec/run-process.js';
import { ReportSchema } from '../../src/report/model.js';
import { createDatabase, restoreDump } from '../../src/restore/restore-dump.js';
import { SandboxCluster } from '../../src/sandbox/cluster.js';
import { runCli } from '../helpers/cli.js';
import { bins, psql, scratchDir, silentLogger, startSource } from '../helpers/clusters.js';
import { exists } from '../helpers/leftovers.js';
import { reachableDir } from './jail-helpers.js';

interface Payload {
  readonly kind: string;
  /** One or more SQL statements (FILE is replaced); plain-only payloads are psql meta-commands. */
  readonly sql: string;
  readonly plainOnly?: boolean;
  /** What the control sees when the payload runs: a file on the host, or a changed postgresql.auto.conf. */
  readonly effect: 'file' | 'auto.conf';
}

const PAYLOADS: Payload[] = [
  { kind: 'copy-program', effect: 'file', sql: `COPY (SELECT 1) TO PROGRAM 'touch FILE';` },
  { kind: 'server-file', effect: 'file', sql: `COPY public.t TO 'FILE';` },
  { kind: 'alter-system', effect: 'auto.conf', sql: `ALTER SYSTEM SET work_mem = '77MB';` },
  {
    kind: 'untrusted-function', effect: 'file',
    sql: `CREATE FUNCTION public.fw(text, text, boolean) RETURNS bigint AS '$libdir/adminpack', 'pg_file_write_v1_1' LANGUAGE c; SELECT public.fw('FILE', 'x', false);`,
  },
  // Before pg_dump's `\restrict` line: after it, psql 15.14+ itself refuses backslash commands.
  { kind: 'meta-command', effect: 'file', sql: `\\! touch FILE`, plainOnly: true },
];

const COMMENT = 'x'.repeat(400);

describe('pgdrill verify refuses crafted hostile dumps and archives', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let reach: Awaited<ReturnType<typeof reachableDir>>;
  let source: SandboxCluster;
  let plain: string;
  let archive: Buffer;
  const file = (p: Payload, format: string) => join(reach.path, `pwned-${format}-${p.kind}`);
  const crafted = new Map<string, string>();

  before(async () => {
    dir = await scratchDir();
    reach = await reachableDir();
    source = await startSource({ parentDir: dir.path });
    await psql(source, 'postgres', { sql: 'CREATE DATABASE crafted' });
    await psql(source, 'crafted', { sql: `CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t SELECT generate_series(1, 10); COMMENT ON TABLE public.t IS '${COMMENT}';` });
    const b = await bins();
    await runProcess({ bin: b.path('pg_dump'), args: ['-f', join(dir.path, 'base.sql'), 'crafted'], env: source.env('crafted') });
    await runProcess({ bin: b.path('pg_dump'), args: ['-Fc', '-f', join(dir.path, 'base.dump'), 'crafted'], env: source.env('crafted') });
    plain = await readFile(join(dir.path, 'base.sql'), 'utf8');
    archive = await readFile(join(dir.path, 'base.dump'));
    for (const p of PAYLOADS) {
      // Plain: the payload as a statement of its own, after the COMMENT (psql runs it like any other).
      const pf = join(dir.path, `${p.kind}.sql`);
      const sql = p.sql.replaceAll('FILE', file(p, 'plain'));
      const at = plain.indexOf(`COMMENT ON TABLE public.t IS '${COMMENT}';\n`);
      assert.ok(at > 0);
      const cut = at + `COMMENT ON TABLE public.t IS '${COMMENT}';\n`.length;
      await writeFile(pf, p.plainOnly ? `${sql}\n${plain}` : `${plain.slice(0, cut)}\n${sql}\n${plain.slice(cut)}`);
      crafted.set(`plain:${p.kind}`, pf);
      if (p.plainOnly) continue;
      // Custom: the COMMENT entry's definition overwritten in place, same length.
      const old = Buffer.from(`COMMENT ON TABLE public.t IS '${COMMENT}';`);
      const payload = Buffer.from(p.sql.replaceAll('FILE', file(p, 'custom')));
      assert.ok(payload.length <= old.length);
      const i = archive.indexOf(old);
      assert.ok(i > 0, 'the COMMENT definition is stored as plain text in the TOC');
      const patched = Buffer.from(archive);
      Buffer.concat([payload, Buffer.alloc(old.length - payload.length, ' ')]).copy(patched, i);
      const cf = join(dir.path, `${p.kind}.dump`);
      await writeFile(cf, patched);
      crafted.set(`custom:${p.kind}`, cf);
    }
  });
  after(async () => {
    await source?.stop();
    await reach?.[Symbol.asyncDispose]();
    await dir?.[Symbol.asyncDispose]();
  });

  for (const format of ['plain', 'custom'] as const) {
    for (const p of PAYLOADS.filter((x) => format === 'plain' || !x.plainOnly)) {
      test(`${format}: ${p.kind} is refused with exit 1, naming the line and entry; no side effect`, async () => {
        const r = await runCli(['verify', crafted.get(`${format}:${p.kind}`)!, '--out', join(dir.path, `out-${format}-${p.kind}`), '--json']);
        assert.equal(r.code, 1, r.stderr);
        const report = ReportSchema.parse(JSON.parse(r.stdout));
        const c = report.checks.find((x) => x.name === 'content.hostile_content')!;
        assert.equal(c.status, 'fail', c.detail);
        // The statement follows the COMMENT entry, so that is the entry the refusal names; the meta-command is line 1.
        if (p.plainOnly) assert.match(c.detail, new RegExp(`first at line 1: ${p.kind}`));
        else assert.match(c.detail, new RegExp(`first at line \\d+.*\\(in COMMENT public\\.TABLE t\\): ${p.kind}`));
        assert.equal(report.restore, null, 'no sandbox was started');
        assert.equal(await exists(file(p, format)), false, 'no file was created on the host');
      });
    }
  }

  test('control: restored without the scan, every crafted payload fires', async () => {
    // The payloads write into `reach`, which a jailed sandbox does not see: shown to this one, so they can fire.
    await using sandbox = await SandboxCluster.start({ bins: await bins(), parentDir: dir.path, osUser: await resolveSandboxUser(), logger: silentLogger, shared: [reach.path] });
    // The owner the dump names, as the globals would have created it (psql stops at the first error).
    await psql(sandbox, 'postgres', { sql: 'CREATE ROLE postgres SUPERUSER' });
    for (const format of ['plain', 'custom'] as const) {
      for (const p of PAYLOADS.filter((x) => format === 'plain' || !x.plainOnly)) {
        const db = `crafted_${format}_${p.kind.replace(/-/g, '_')}`;
        await createDatabase(sandbox, db);
        await psql(sandbox, 'postgres', { sql: 'ALTER SYSTEM RESET ALL' });
        const r = await restoreDump({ sandbox, bins: await bins(), path: crafted.get(`${format}:${p.kind}`)!, format, database: db, logger: silentLogger });
        assert.deepEqual(r.errors.map((e) => e.message), [], `${format} ${p.kind}: the crafted dump restores cleanly`);
        if (p.effect === 'file') {
          assert.equal(await exists(file(p, format)), true, `${format} ${p.kind}: the payload ran`);
          await rm(file(p, format), { force: true });
        } else {
          assert.match(await readFile(join(sandbox.dataDir, 'postgresql.auto.conf'), 'utf8'), /work_mem = '77MB'/, `${format} ${p.kind}: the payload ran`);
        }
      }
    }
  });
});
