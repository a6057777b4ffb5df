/**
 * `verify --globals`: the roles taken with a dump pgdrill did not make are restored before it, so `restore.roles`
 * passes with the real roles instead of warning about NOLOGIN placeholders; a globals file that lacks a role the
 * dump needs fails `restore.roles` naming it; one that differs from its SHA256SUMS fails `backup.globals`; one that
 * holds a psql meta-command is never replayed.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chown, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { runProcess } from '../../src/exec/run-process.js';
import { ReportSchema, type Report } from '../../src/report/model.js';
import { runCli } from '../helpers/cli.js';
import { bins, psql, urlOf, usePagila } from '../helpers/clusters.js';
import { pgDump } from '../helpers/dumps.js';

describe('verify --globals', () => {
  const fx = usePagila();
  let dump: string;
  let globals: string;
  before(async () => {
    await psql(fx.source, 'pagila', { sql: 'CREATE ROLE app_reader NOLOGIN; GRANT SELECT ON public.actor TO app_reader;' });
    dump = await pgDump(fx.source, 'pagila', 'plain', join(fx.dir, 'pagila.sql'));
    globals = join(fx.dir, 'globals.sql');
    await runProcess({ bin: (await bins()).path('pg_dumpall'), args: ['--globals-only', '--no-role-passwords', `--file=${globals}`], env: fx.source.env('postgres') });
  });

  async function verify(name: string, extra: string[]): Promise<{ code: number | null; report: Report }> {
    const r = await runCli(['verify', dump, '--out', join(fx.dir, name), '--json', ...extra]);
    return { code: r.code, report: ReportSchema.parse(JSON.parse(r.stdout)) };
  }
  const check = (r: Report, name: string) => r.checks.find((c) => c.name === name);

  test('the real roles are restored: restore.roles passes, no placeholders, the file is in the report', async () => {
    const { code, report } = await verify('out-globals', ['--globals', globals]);
    assert.equal(code, 0, JSON.stringify(report.checks.filter((c) => c.status !== 'pass' && c.status !== 'skip')));
    assert.equal(check(report, 'restore.roles')?.status, 'pass');
    assert.match(check(report, 'restore.roles')!.detail, /app_reader.*|from globals-only/);
    assert.ok(!report.notes.some((n) => n.id === 'placeholder-roles'));
    const sha = createHash('sha256').update(await readFile(globals)).digest('hex');
    assert.equal(report.backup.globals?.sha256, sha);
    assert.equal(check(report, 'backup.globals')?.status, 'pass');
    // Without --globals: placeholders, and restore.roles warns.
    const without = await verify('out-no-globals', []);
    assert.equal(check(without.report, 'restore.roles')?.status, 'warn');
  });

  test('a role the dump needs is missing from the globals: restore.roles fails naming it', async () => {
    const partial = join(fx.dir, 'globals-partial.sql');
    await writeFile(partial, (await readFile(globals, 'utf8')).split('\n').filter((l) => !/app_reader/.test(l)).join('\n'));
    const { code, report } = await verify('out-partial', ['--globals', partial]);
    assert.equal(code, 1);
    assert.equal(check(report, 'restore.roles')?.status, 'fail');
    assert.match(check(report, 'restore.roles')!.detail, /missing after restore: .*app_reader/);
  });

  test('a globals file that differs from its SHA256SUMS fails backup.globals; a hostile one is never replayed', async () => {
    const sums = join(fx.dir, 'SUMS');
    await writeFile(sums, `${'0'.repeat(64)}  globals.sql\n`);
    const changed = await verify('out-sums', ['--globals', globals, '--sums', sums]);
    assert.equal(check(changed.report, 'backup.globals')?.status, 'fail');
    assert.match(check(changed.report, 'backup.globals')!.detail, /SUMS says 0{64}/);

    const hostile = join(fx.dir, 'globals-hostile.sql');
    const marker = join(fx.dir, 'ran');
    await writeFile(hostile, `${await readFile(globals, 'utf8')}\n\\! touch ${marker}\n`);
    const { report } = await verify('out-hostile', ['--globals', hostile]);
    assert.equal(report.status, 'FAIL');
    assert.ok(report.restore?.errors.some((e) => e.phase === 'globals' && /refused before replay/.test(e.message)), JSON.stringify(report.restore?.errors));
    await assert.rejects(readFile(marker), 'the meta-command never ran');
  });

  test("a pgdrill run's own dump: verify restores the globals beside it, as the run did; --no-globals leaves them out", async () => {
    const run = await runCli(['run', '--source', urlOf(fx.source, 'pagila'), '--out', join(fx.dir, 'out-run'), '--json']);
    assert.equal(run.code, 0, run.stderr);
    const ran = ReportSchema.parse(JSON.parse(run.stdout));
    const own = ran.backup.path!;
    const beside = ran.backup.globals!.path!;
    assert.equal(beside, own.replace(/\.sql$/, '.globals.sql'));

    const r = await runCli(['verify', own, '--out', join(fx.dir, 'out-own'), '--json']);
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    assert.equal(r.code, 0, JSON.stringify(report.checks.filter((c) => c.status === 'fail' || c.status === 'warn')));
    assert.equal(check(report, 'restore.roles')?.status, 'pass', check(report, 'restore.roles')?.detail);
    assert.match(check(report, 'restore.roles')!.detail, /app_reader/);
    assert.equal(check(report, 'backup.globals')?.status, 'pass');
    assert.match(check(report, 'backup.globals')!.detail, /matches .*SHA256SUMS/, 'checked against the run\'s SHA256SUMS');
    assert.equal(report.backup.globals?.path, beside);
    assert.match(report.notes.find((n) => n.id === 'globals-beside')?.text ?? '', /beside the dump .* restored first/);
    assert.ok(!report.notes.some((n) => n.id === 'placeholder-roles'));

    const off = await runCli(['verify', own, '--no-globals', '--out', join(fx.dir, 'out-own-off'), '--json']);
    const offReport = ReportSchema.parse(JSON.parse(off.stdout));
    assert.equal(check(offReport, 'restore.roles')?.status, 'warn');
    assert.equal(offReport.backup.globals, null);

    // Someone else's file beside a dump in a shared directory is not restored: reported, placeholders instead.
    const shared = join(fx.dir, 'shared');
    await mkdir(shared);
    const copy = join(shared, basename(own));
    await copyFile(own, copy);
    await copyFile(beside, copy.replace(/\.sql$/, '.globals.sql'));
    await chown(copy.replace(/\.sql$/, '.globals.sql'), 65534, 65534);
    const planted = await runCli(['verify', copy, '--out', join(fx.dir, 'out-planted'), '--json']);
    const plantedReport = ReportSchema.parse(JSON.parse(planted.stdout));
    assert.equal(check(plantedReport, 'restore.roles')?.status, 'warn');
    assert.match(plantedReport.notes.find((n) => n.id === 'globals-beside')?.text ?? '', /was not used: it is owned by uid 65534/);
  });
});
