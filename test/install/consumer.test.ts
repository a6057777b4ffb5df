/**
 * The package's contract for library users: the packed tarball, installed into a fresh project as npm would, is
 * imported by its package name from TypeScript compiled with `module`/`moduleResolution: nodenext` and strict
 * checks of the published .d.ts files (`skipLibCheck: false`), and runs: test/install/consumer/index.ts calls
 * `runDrill` with a typed config, reads a typed result, and gets a ConfigError for an invalid config object.
 * Needs the build (dist/); npm fetches the dependencies from its cache, or the registry when they are not cached.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { scratchDir } from '../helpers/clusters.js';

const exec = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

test('a TypeScript consumer (nodenext) imports pgdrill by name, type-checks against the published types, and runs', { timeout: 300_000 }, async () => {
  await using d = await scratchDir('pgdrill-consumer-');
  const { stdout: packed } = await exec('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', d.path], { cwd: ROOT });
  const tarball = join(d.path, (JSON.parse(packed) as { filename: string }[])[0]!.filename);
  const app = join(d.path, 'app');
  await mkdir(app);
  const typesNode = (JSON.parse(await readFile(join(ROOT, 'node_modules/@types/node/package.json'), 'utf8')) as { version: string }).version;
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  await exec('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball, `@types/node@${typesNode}`], {
    cwd: app, env: { ...process.env, npm_config_update_notifier: 'false' }, maxBuffer: 16 << 20,
  });
  await copyFile(join(import.meta.dirname, 'consumer/index.ts'), join(app, 'index.ts'));
  await writeFile(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, skipLibCheck: false, outDir: 'out', types: ['node'] },
    files: ['index.ts'],
  }));
  const tsc = await exec(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', app]).catch((e: { stdout?: string; stderr?: string }) => e);
  assert.ok(!('stdout' in tsc) || !tsc.stdout?.trim(), `tsc found errors:\n${'stdout' in tsc ? tsc.stdout : ''}${'stderr' in tsc ? tsc.stderr : ''}`);
  const { stdout } = await exec(process.execPath, [join(app, 'out/index.js'), 'run', join(d.path, 'drills')], { cwd: app });
  const r = JSON.parse(stdout) as { invalid: string; partial: string };
  assert.match(r.invalid, /^ConfigError 2: backup: Unrecognized key: "bogus"/);
  assert.equal(r.partial, 'EnvironmentError 4');
});
