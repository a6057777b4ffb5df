/**
 * What a drill writes is private to the user running pgdrill: the dump holds production's rows, the globals, reports
 * and logs name roles and objects. Every directory of a run is 0700 and every file 0600, owned by that user; `--out`
 * is created 0700 (an existing one keeps its mode); JUnit and metrics files are created 0600 (an existing one keeps
 * its mode). Other local users — `nobody`, and the sandbox user that runs every drill's restore — read nothing.
 * The test directory is made traversable (0755) so that the modes of pgdrill's own files are what stops them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { runProcess } from '../../src/exec/run-process.js';
import { DEFAULT_SANDBOX_USER } from '../../src/exec/os-user.js';
import { ReportSchema, type Report } from '../../src/report/model.js';
import { runCli } from '../helpers/cli.js';
import { psql, scratchDir, startSource, urlOf } from '../helpers/clusters.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';

/** Every path under `root` whose mode is not 0700 (directories) / 0600 (files), or that is not owned by us. */
async function notPrivate(root: string): Promise<string[]> {
  const bad: string[] = [];
  const walk = async (p: string): Promise<void> => {
    const st = await lstat(p);
    const mode = st.mode & 0o777;
    if (st.uid !== process.getuid?.()) bad.push(`${p}: owned by uid ${st.uid}`);
    if (st.isDirectory()) {
      if (mode !== 0o700) bad.push(`${p}: directory ${mode.toString(8)}`);
      for (const e of await readdir(p)) await walk(join(p, e));
    } else if (mode !== 0o600) bad.push(`${p}: ${st.isFile() ? 'file' : 'other'} ${mode.toString(8)}`);
  };
  await walk(root);
  return bad;
}

/** Can OS user `user` read `path` (cat, or ls for a directory)? */
async function readableBy(user: string, path: string): Promise<boolean> {
  const st = await lstat(path);
  const r = await runProcess({ bin: '/usr/sbin/runuser', args: ['-u', user, '--', st.isDirectory() ? '/usr/bin/ls' : '/usr/bin/cat', path], allowFailure: true, stdout: 'capture' });
  return r.exitCode === 0;
}

describe('file modes: a drill\'s files are the caller\'s alone', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  const reports = new Map<string, Report>();
  before(async () => {
    dir = await scratchDir();
    await chmod(dir.path, 0o755);
    source = await startSource({ parentDir: dir.path });
    await psql(source, 'postgres', { sql: 'CREATE DATABASE shop' });
    await psql(source, 'shop', { sql: "CREATE TABLE customers (id int PRIMARY KEY, email text); INSERT INTO customers SELECT g, 'customer' || g || '@example.com' FROM generate_series(1, 200) g" });
    for (const format of ['plain', 'directory'] as const) {
      const r = await runCli(['run', '--source', urlOf(source, 'shop'), '--format', format, '--out', join(dir.path, `out-${format}`, 'drills'), '--deep',
        '--junit', join(dir.path, `junit-${format}.xml`), '--metrics', join(dir.path, `metrics-${format}.prom`), '--json']);
      assert.equal(r.code, 0, r.stderr + r.stdout.slice(0, 2000));
      reports.set(format, ReportSchema.parse(JSON.parse(r.stdout)));
    }
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  for (const format of ['plain', 'directory'] as const) {
    test(`${format}: every directory of the run is 0700 and every file 0600, owned by the caller; --out was created 0700`, async () => {
      const report = reports.get(format)!;
      const names = await readdir(report.run.dir);
      for (const f of ['report.json', 'report.md', 'report.html', 'run.log', 'SHA256SUMS']) assert.ok(names.includes(f), `${f} in ${names.join(', ')}`);
      assert.deepEqual(await notPrivate(report.run.dir), []);
      assert.equal((await lstat(dirname(report.run.dir))).mode & 0o777, 0o700, '--out (and the directories pgdrill made for it) 0700');
      assert.equal((await lstat(dirname(dirname(report.run.dir)))).mode & 0o777, 0o700);
      for (const out of [`junit-${format}.xml`, `metrics-${format}.prom`]) assert.equal((await lstat(join(dir.path, out))).mode & 0o777, 0o600, out);
    });
  }

  test('nobody and the sandbox user read neither the dump nor the reports of a drill', async () => {
    for (const report of reports.values()) {
      for (const user of ['nobody', DEFAULT_SANDBOX_USER]) {
        for (const path of [report.backup.path!, join(report.run.dir, 'report.json'), join(report.run.dir, 'run.log'), report.run.dir]) {
          assert.equal(await readableBy(user, path), false, `${user} reads ${path}`);
        }
      }
      // Even with the run directory's mode lost, the files themselves are 0600.
      await chmod(report.run.dir, 0o755);
      try {
        const dump = report.backup.path!;
        const file = (await lstat(dump)).isDirectory() ? join(dump, 'toc.dat') : dump;
        assert.equal(await readableBy('nobody', file), false, `nobody reads ${file}`);
        assert.equal(await readableBy('nobody', join(report.run.dir, 'report.md')), false);
      } finally {
        await chmod(report.run.dir, 0o700);
      }
    }
  });

  test('legitimate: an existing --out keeps its mode, and an existing metrics file made readable keeps it', async () => {
    const out = join(dir.path, 'shared-out');
    await mkdir(out, { mode: 0o755 });
    await chmod(out, 0o755);
    const metrics = join(dir.path, 'node-exporter.prom');
    await writeFile(metrics, '# existing\n');
    await chmod(metrics, 0o644);
    const r = await runCli(['run', '--source', urlOf(source, 'shop'), '--out', out, '--metrics', metrics, '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout.slice(0, 2000));
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    assert.equal((await lstat(out)).mode & 0o777, 0o755, 'an existing --out is left as it is');
    assert.deepEqual(await notPrivate(report.run.dir), [], 'its run directory is private all the same');
    assert.equal((await lstat(metrics)).mode & 0o777, 0o644, 'node_exporter can still read the file its owner opened to it');
    assert.equal(await readableBy('nobody', metrics), true);
  });
});
