/**
 * A source whose major has no pg_dump on the machine: a PostgreSQL 16 server (the server store's) while only 15's
 * client programs are reachable (Debian's; scripts/pg-majors' 17 and 18 clients are not where pgdrill looks unless
 * the config names them, and PATH is cut to the system's directories). `pgdrill run` must end with exit 4 before
 * any file is written, naming the source's version and the package that brings its pg_dump.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { scratchDir, urlOf } from '../helpers/clusters.js';
import { majorPrograms, requireMajor } from '../helpers/majors.js';
import { DB, startFixtureSource } from './helpers.js';

test('a 16 source with only a 15 pg_dump: exit 4 before any file is written, naming postgresql-client-16', async (t) => {
  if (!(await requireMajor(t, 16))) return;
  const reachable = (await majorPrograms()).filter((m) => m.clientBindir?.startsWith('/usr/lib/postgresql/')).map((m) => m.major);
  if (reachable.some((m) => m >= 16)) return void t.skip(`this machine has the client programs of ${reachable.join(', ')} in /usr/lib/postgresql: a 16 source has its pg_dump`);
  await using scratch = await scratchDir('pgdrill-no-client-');
  const source = await startFixtureSource(16, scratch.path);
  try {
    const out = join(scratch.path, 'out');
    const r = await runCli(['run', '--source', urlOf(source, DB), '--out', out, '--json'], { env: { PG_BINDIR: '', PATH: '/usr/local/bin:/usr/bin:/bin' } });
    assert.equal(r.code, 4, r.stderr + r.stdout.slice(0, 2000));
    assert.match(r.stderr, /16\.\d+/, 'names the source\'s version');
    assert.match(r.stderr, /postgresql-client-16/);
    const written = await readdir(out, { recursive: true }).catch(() => []);
    assert.deepEqual(written, [], `nothing may be written: ${written.join(', ')}`);
  } finally {
    await source.stop();
  }
});
