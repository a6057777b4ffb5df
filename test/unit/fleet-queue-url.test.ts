import { test } from 'node:test';
import assert from 'node:assert/strict';
import { queueConnection } from '../../src/fleet/queue.js';
import { drillCommand } from '../../src/fleet/drill-child.js';
import { ConfigError } from '../../src/errors.js';
import type { DrillJobData } from '../../src/fleet/queue.js';

test('the queue URL: a password is refused (exit 2) without quoting it; host, port, database and role are read as libpq does', () => {
  assert.throws(() => queueConnection('postgresql://q:s3cret@coord.example.com/fleet'), (e: unknown) => e instanceof ConfigError && e.exitCode === 2 && !e.message.includes('s3cret'));
  assert.throws(() => queueConnection('postgresql://q@coord/fleet?password=s3cret'), (e: unknown) => e instanceof ConfigError && !e.message.includes('s3cret'));
  assert.throws(() => queueConnection('host=coord dbname=fleet'), ConfigError);
  const c = queueConnection('postgresql://q@/fleet?host=/run/postgresql&port=5433&sslmode=disable');
  assert.equal(c.host, '/run/postgresql');
  assert.equal(c.port, 5433);
  assert.equal(c.database, 'fleet');
  assert.equal(c.user, 'q');
  assert.equal(c.password, undefined);
});

test("a drill's command line and environment: the job's source, the worker's secrets by reference, nothing else of its environment", () => {
  const job: DrillJobData = {
    database: 'billing', kind: 'run', service: 'billing', deep: true, maxDurationMs: 1000, leaseSeconds: 30, due: '2026-01-01T00:00:00Z', config: {},
  };
  const { args, env } = drillCommand(job, '/state/fleet-job-1.json', {
    pgdrillBin: '/opt/pgdrill.mjs', outDir: '/out', stateDir: '/state', signal: new AbortController().signal,
    env: { PGPASSFILE: '/home/w/.pgpass', PGHOST: 'elsewhere', PGDATABASE: 'other', AWS_SECRET_ACCESS_KEY: 'x', HOME: '/home/w', PGDRILL_CACHE_DIR: '/c' },
  });
  assert.deepEqual(args, ['--expose-gc', '--max-semi-space-size=8', '/opt/pgdrill.mjs', 'run', '--json', '--config', '/state/fleet-job-1.json', '--out', '/out', '--deep']);
  assert.equal(env.PGSERVICE, 'billing');
  assert.equal(env.PGPASSFILE, '/home/w/.pgpass');
  assert.equal(env.PGDRILL_STATE_DIR, '/state');
  assert.equal(env.PGDRILL_CACHE_DIR, '/c');
  assert.equal(env.PGDRILL_EXIT_WITH_PARENT, String(process.pid));
  for (const k of ['PGHOST', 'PGDATABASE', 'AWS_SECRET_ACCESS_KEY']) assert.equal(env[k], undefined, k);
  const verify = drillCommand({ ...job, kind: 'verify', service: undefined, backup: '/b/app.dump', deep: false }, '/s/c.json', {
    pgdrillBin: '/p.mjs', outDir: '/o', stateDir: '/s', signal: new AbortController().signal, env: {},
  });
  assert.deepEqual(verify.args, ['--expose-gc', '--max-semi-space-size=8', '/p.mjs', 'verify', '/b/app.dump', '--json', '--config', '/s/c.json', '--out', '/o', '--database', 'billing']);
});
