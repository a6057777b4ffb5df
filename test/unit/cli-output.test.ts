/**
 * The CLI's output reaches a slow reader whole: stdout to a pipe is asynchronous in node, and process.exit would
 * drop what is still queued (before the fix, `pgdrill inspect --json | slow-reader` got exactly 65536 bytes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI } from '../helpers/cli.js';
import { scratchDir } from '../helpers/clusters.js';

test('--json output larger than a pipe buffer survives a reader that starts late', async () => {
  await using dir = await scratchDir();
  const dump = join(dir.path, 'many.sql');
  const parts = ['--', '-- PostgreSQL database dump', '--', ''];
  for (let i = 0; i < 3000; i++) parts.push(`--\n-- Name: t${i}; Type: TABLE; Schema: public; Owner: app\n--\n\nCREATE TABLE public.t${i} (id integer);\n`);
  parts.push('--\n-- PostgreSQL database dump complete\n--\n');
  await writeFile(dump, parts.join('\n'));

  const child = spawn(process.execPath, [CLI, 'inspect', dump, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pause(); // nothing is read until the CLI has had time to exit
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const waited = await Promise.race([exited.then(() => 'exited'), new Promise((r) => setTimeout(() => r('still running'), 1500))]);
  const chunks: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => chunks.push(c));
  child.stdout.resume();
  await new Promise((r) => child.stdout.on('end', r));
  assert.equal(await exited, 0);
  const out = Buffer.concat(chunks).toString('utf8');
  assert.ok(out.length > 65536, `${out.length} bytes (the CLI ${waited} after 1.5 s)`);
  const report = JSON.parse(out) as { inventory?: { counts_by_type?: Record<string, number> } };
  assert.ok(report, 'the whole JSON document arrived');
});
