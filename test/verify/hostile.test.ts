import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { runCli } from '../helpers/cli.js';
import { bins, psql, scratchDir, startSource } from '../helpers/clusters.js';
import { pgDump } from '../helpers/dumps.js';
import { exists } from '../helpers/leftovers.js';
import { resolveSandboxUser } from '../../src/exec/os-user.js';
import { runProcess } from '../../src/exec/run-process.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { ReportSchema } from '../../src/report/model.js';

/**
 * Hostile plain dumps: a dump is a psql script, and whoever wrote it could run commands on the machine that
 * replays it. verify must refuse them — exit 1, the line and what was found — before psql sees a byte, and the
 * side effect must never happen. The markers live in a world-writable directory, so that the sandbox's OS user
 * could create them if psql ever ran the command (the control test shows it would).
 */
describe('verify: hostile plain dumps are refused and their side effect never happens', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let markers: string;
  let source: SandboxCluster;
  let lines: string[];
  let anchor: number;
  before(async () => {
    dir = await scratchDir();
    markers = await mkdtemp(join(tmpdir(), 'pgdrill-markers-'));
    await chmod(markers, 0o1777);
    source = await startSource({ parentDir: dir.path });
    await psql(source, 'postgres', { sql: 'CREATE DATABASE shop' });
    await psql(source, 'shop', { sql: "CREATE TABLE item (id int PRIMARY KEY, name text); INSERT INTO item SELECT g, 'item ' || g FROM generate_series(1, 50) g;" });
    const dump = await pgDump(source, 'shop', 'plain', join(dir.path, 'shop.sql'));
    lines = (await readFile(dump, 'utf8')).split('\n');
    anchor = lines.findIndex((l) => l.startsWith('SET row_security'));
    assert.ok(anchor > 0);
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
    await rm(markers, { recursive: true, force: true });
  });

  /** The real dump with `text` inserted after line `at` (0-based index); returns the file and the 1-based line. */
  async function inject(name: string, text: string, at = anchor, gzip = false): Promise<{ file: string; line: number }> {
    const out = [...lines.slice(0, at + 1), text, ...lines.slice(at + 1)].join('\n');
    const file = join(dir.path, `${name}.sql${gzip ? '.gz' : ''}`);
    await writeFile(file, gzip ? gzipSync(out) : out);
    return { file, line: at + 2 };
  }

  test('control: psql run as the sandbox user would execute such a payload', async () => {
    const b = await bins();
    const user = await resolveSandboxUser();
    const file = join(markers, 'control.sql');
    await writeFile(file, `\\! touch ${markers}/control\n`);
    await runProcess({ bin: b.path('psql'), args: ['-X', '-v', 'ON_ERROR_STOP=1', '-f', '-'], stdin: createReadStream(file), env: source.env('postgres'), uid: user?.uid, gid: user?.gid, cwd: '/' });
    assert.equal(await exists(join(markers, 'control')), true, 'the payload works when psql runs it');
  });

  const payloads: [string, (m: string) => string, RegExp][] = [
    ['shell escape at the start of a line', (m) => `\\! touch ${m}/bang`, /meta-command `\\! touch .*\/bang`/],
    ['shell escape after SQL on the same line', (m) => `SELECT 1; \\! touch ${m}/midline`, /meta-command `\\! touch .*\/midline`/],
    ['output piped to a command', (m) => `\\o |touch ${m}/pipe`, /meta-command `\\o \|touch .*\/pipe`/],
    ['backquoted command in an argument', (m) => `\\set x \`touch ${m}/backquote\``, /meta-command `\\set x `touch .*\/backquote``/],
    ['shell escape after a comment', (m) => `/* harmless */ \\! touch ${m}/aftercomment`, /meta-command `\\! touch .*\/aftercomment`/],
    ['COPY … TO PROGRAM', (m) => `COPY (SELECT 1) TO PROGRAM 'touch ${m}/copyprogram';`, /copy-program/],
  ];
  for (const [what, payload, found] of payloads) {
    test(`refused: ${what}`, async () => {
      const marker = payload(markers);
      const { file, line } = await inject(what.replace(/\W+/g, '-'), marker);
      const r = await runCli(['verify', file, '--out', join(dir.path, 'out'), '--json']);
      assert.equal(r.code, 1, r.stderr + r.stdout.slice(0, 2000));
      const report = ReportSchema.parse(JSON.parse(r.stdout));
      const c = report.checks.find((x) => x.name === 'content.hostile_content')!;
      assert.equal(c.status, 'fail');
      assert.match(c.detail, new RegExp(`first at line ${line}\\b`));
      assert.match(c.detail, found);
      assert.equal(report.restore, null, 'no sandbox, no psql');
      const target = /touch (\S+?)(['`]|;|$)/.exec(marker)![1]!;
      assert.equal(await exists(target), false, `${target} must not exist`);
    });
  }

  test('refused inside a .sql.gz too', async () => {
    const { file, line } = await inject('gz', `\\! touch ${markers}/gz`, anchor, true);
    const r = await runCli(['verify', file, '--out', join(dir.path, 'out'), '--json']);
    assert.equal(r.code, 1, r.stderr);
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    assert.match(report.checks.find((x) => x.name === 'content.hostile_content')!.detail, new RegExp(`line ${line}\\b.*\\\\! touch`));
    assert.equal(await exists(join(markers, 'gz')), false);
  });

  test('the same text as COPY data is only data: restored, PASS, nothing executed', async () => {
    const copyLine = lines.findIndex((l) => l.startsWith('COPY public.item '));
    const { file } = await inject('in-copy-data', `999\t\\\\! touch ${markers}/data`, copyLine);
    const r = await runCli(['verify', file, '--out', join(dir.path, 'out-data'), '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout.slice(0, 2000));
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    assert.equal(report.tables.find((t) => t.name === 'item')?.restored_rows, 51);
    assert.equal(await exists(join(markers, 'data')), false);
  });
});
