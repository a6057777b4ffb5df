/**
 * Installing pgdrill as a user would: scripts/link-bin (called by scripts/setup) puts the bare `pgdrill` on PATH,
 * and the tarball `npm pack` makes installs with `npm install -g` into a clean prefix and runs. Needs the build
 * (dist/); npm fetches the dependencies from its cache, or the registry when they are not cached yet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { scratchDir } from '../helpers/clusters.js';
import { ROOT, sh } from '../helpers/recipes.js';

const BUNDLE = join(ROOT, 'dist/pgdrill.mjs');
const version = async () => (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

test('link-bin puts a bare `pgdrill` on PATH that runs the build, and says so', async () => {
  await using d = await scratchDir('pgdrill-linkbin-');
  const bin = join(d.path, 'my bin'); // a space in the path: quoted everywhere
  const r = await sh('bash', [join(ROOT, 'scripts/link-bin'), bin]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await readlink(join(bin, 'pgdrill')), BUNDLE);
  assert.match(r.stdout, /pgdrill is .*my bin\/pgdrill -> .*dist\/pgdrill\.mjs/);
  assert.match(r.stderr, /is not on your PATH/);
  const v = await sh('pgdrill', ['--version'], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, cwd: d.path });
  assert.equal(v.code, 0, v.stderr);
  assert.equal(v.stdout.trim(), await version());
  // On PATH: no warning.
  const again = await sh('bash', [join(ROOT, 'scripts/link-bin'), bin], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /not on your PATH/);
});

test('link-bin replaces an older link (another checkout) and reports it', async () => {
  await using d = await scratchDir('pgdrill-linkbin-');
  await symlink('/nonexistent/old-checkout/dist/pgdrill.mjs', join(d.path, 'pgdrill'));
  const r = await sh('bash', [join(ROOT, 'scripts/link-bin'), d.path]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /replacing the link .*old-checkout/);
  assert.equal(await readlink(join(d.path, 'pgdrill')), BUNDLE);
});

test('link-bin never replaces a file or directory that is not a link', async () => {
  await using d = await scratchDir('pgdrill-linkbin-');
  await writeFile(join(d.path, 'pgdrill'), '#!/bin/sh\necho mine\n', { mode: 0o755 });
  const r = await sh('bash', [join(ROOT, 'scripts/link-bin'), d.path]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /exists and is not a symlink; left alone/);
  assert.equal(await readFile(join(d.path, 'pgdrill'), 'utf8'), '#!/bin/sh\necho mine\n');
  const sub = join(d.path, 'sub');
  await mkdir(join(sub, 'pgdrill'), { recursive: true });
  const r2 = await sh('bash', [join(ROOT, 'scripts/link-bin'), sub]);
  assert.equal(r2.code, 1);
  assert.ok((await lstat(join(sub, 'pgdrill'))).isDirectory());
});

test('npm pack makes a tarball that `npm install -g` installs into a clean prefix and runs', async () => {
  await using d = await scratchDir('pgdrill-pack-');
  // --ignore-scripts: the test runs after the build; prepack rebuilds for a user who packs a fresh checkout.
  const p = await sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', d.path], { cwd: ROOT });
  assert.equal(p.code, 0, p.stderr);
  const [packed] = JSON.parse(p.stdout) as { filename: string; files: { path: string }[] }[];
  const files = packed!.files.map((f) => f.path);
  for (const f of ['package.json', 'dist/pgdrill.mjs', 'dist/index.js', 'dist/index.d.ts', 'schema/pgdrill.config.schema.json']) assert.ok(files.includes(f), f);
  assert.deepEqual(files.filter((f) => /^(src|test|node_modules|bench|scripts)\//.test(f)), []);
  const prefix = join(d.path, 'prefix');
  const env = { ...process.env, npm_config_update_notifier: 'false' };
  const i = await sh('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(d.path, packed!.filename)], { env, cwd: d.path });
  assert.equal(i.code, 0, i.stderr);
  const v = await sh(join(prefix, 'bin/pgdrill'), ['--version'], { cwd: d.path });
  assert.equal(v.code, 0, v.stderr);
  assert.equal(v.stdout.trim(), await version());
  // The bin line passes node --expose-gc: the command's memory devices are on (docs/performance.md).
  const gc = await sh(join(prefix, 'bin/pgdrill'), ['history', '--out', join(d.path, 'no-drills')], { cwd: d.path, env: { ...process.env, PGDRILL_DEBUG: '1' } });
  assert.equal(gc.code, 0, gc.stderr);
  assert.match(gc.stderr, /heap cap: \d+ full collection/);
  const h = await sh(join(prefix, 'bin/pgdrill'), ['run', '--help'], { cwd: d.path });
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /--source/);
  // The library entry point resolves its dependencies from the installed tree.
  const lib = await sh(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(join(prefix, 'lib/node_modules/pgdrill/dist/index.js'))}); console.log(typeof m.runDrill)`], { cwd: d.path });
  assert.equal(lib.code, 0, lib.stderr);
  assert.equal(lib.stdout.trim(), 'function');
});

test('run --help shows examples and the exit codes', async () => {
  const r = await sh(process.execPath, [BUNDLE, 'run', '--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Examples:\n {2}pgdrill init --source /m);
  assert.match(r.stdout, /^Exit codes:\n {2}0 +PASS/m);
  for (const code of ['1', '2', '3', '4', '70', '129/130/143']) assert.match(r.stdout, new RegExp(`^  ${code} +\\S`, 'm'), code);
});
