import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadFleet, parseSize, validateFleet } from '../../src/fleet/fleet-file.js';
import { longestGapMs, nextDue, parseSchedule } from '../../src/fleet/schedule.js';
import { ConfigError } from '../../src/errors.js';
import { scratchDir } from '../helpers/clusters.js';

const problemsOf = async (raw: unknown): Promise<string[]> => {
  try {
    await validateFleet(raw);
  } catch (e) {
    assert.ok(e instanceof ConfigError && e.exitCode === 2, String(e));
    return e.problems as string[];
  }
  assert.fail('the fleet file was accepted');
};

test('the smallest fleet file: one source and a schedule, everything else defaulted', async () => {
  const f = await validateFleet({ databases: [{ source: 'postgresql://drill@db1.example.com/app', schedule: 'daily' }] });
  assert.equal(f.concurrency, 1);
  const [db] = f.databases;
  assert.equal(db?.id, 'db1.example.com:5432/app');
  assert.equal(db?.kind, 'run');
  assert.deepEqual(db?.schedule, { kind: 'interval', ms: 86_400_000, text: 'daily' });
  assert.equal(db?.priority, 0);
  assert.equal(db?.maxDurationMs, 2 * 3_600_000);
  assert.deepEqual(db?.config, {});
});

test('defaults, per-database config merged one level deep, limits and the fleet webhook', async () => {
  const f = await validateFleet({
    defaults: { schedule: 'every 6h', priority: 5, config: { backup: { format: 'custom', jobs: 2 } } },
    limits: { concurrency: 3, max_duration: '30m', disk_budget: '20GB' },
    notify: { webhook: { url: 'https://hooks.example.com/x' } },
    databases: [
      { name: 'billing', service: 'billing', priority: 9, config: { backup: { format: 'directory' } }, max_duration: '1h' },
      { source: 'postgresql://db2/crm?sslmode=require', schedule: '15 3 * * *', kind: 'run' },
      { name: 'nightly-dump', kind: 'verify', backup: '/backups/app.dump' },
    ],
  });
  assert.equal(f.concurrency, 3);
  const [billing, crm, dump] = f.databases;
  assert.deepEqual(billing?.config.backup, { format: 'directory', jobs: 2 });
  assert.equal(billing?.priority, 9);
  assert.equal(billing?.maxDurationMs, 3_600_000);
  assert.equal(billing?.diskBudgetBytes, 20 * 1024 ** 3);
  assert.equal(billing?.config.notify?.webhook?.url, 'https://hooks.example.com/x');
  assert.equal(crm?.id, 'db2:5432/crm');
  assert.deepEqual(crm?.schedule, { kind: 'cron', expr: '15 3 * * *', text: '15 3 * * *' });
  assert.equal(crm?.maxDurationMs, 30 * 60_000);
  assert.equal(dump?.kind, 'verify');
  assert.equal(dump?.backup, '/backups/app.dump');
});

test('a source URL with a password is refused (exit 2) without quoting it; so is every other problem, at once', async () => {
  const problems = await problemsOf({
    databases: [
      { source: 'postgresql://drill:s3cret@db1/app', schedule: 'daily' },
      { source: 'postgresql://db1/app?password=s3cret' },
      { source: 'postgresql://db1/app', schedule: 'every 10s' },
      { kind: 'verify' },
      { source: 'postgresql://db1/app', config: { backup: { format: 'zip' } } },
      { source: 'postgresql://db9/x', unknown_key: 1 },
    ],
  });
  assert.ok(!problems.join('\n').includes('s3cret'), problems.join('\n'));
  assert.match(problems.join('\n'), /databases\.5: Unrecognized key/);
  const second = await problemsOf({
    databases: [
      { source: 'postgresql://drill:s3cret@db1/app' },
      { source: 'postgresql://db1/app?password=s3cret' },
      { kind: 'verify' },
      { source: 'postgresql://db1/app', config: { backup: { format: 'zip' } } },
      { source: 'postgresql://db1/app' },
      { source: 'postgresql://db1:5432/app', schedule: 'hourly' },
    ],
  });
  const text = second.join('\n');
  assert.ok(!text.includes('s3cret'), text);
  assert.match(text, /databases\.0: source: holds a password: .*~\/\.pgpass/);
  assert.match(text, /databases\.1: source: holds a password/);
  assert.match(text, /databases\.2: kind verify needs `backup`/);
  assert.match(text, /databases\.3: config\.backup\.format/);
  assert.match(text, /databases\.5: "db1:5432\/app" is also entry 4/);
});

test('schedules: named, every N, cron in UTC; too short or malformed ones are refused', async () => {
  assert.deepEqual(parseSchedule('every 30m'), { kind: 'interval', ms: 1_800_000, text: 'every 30m' });
  assert.equal(parseSchedule('every 30s'), null);
  assert.equal(parseSchedule('0 3 * *'), null);
  assert.equal(parseSchedule('61 3 * * *'), null);
  const cron = parseSchedule('0 3 * * *');
  assert.ok(cron);
  assert.equal(nextDue(cron, new Date('2026-01-01T04:00:00Z')).toISOString(), '2026-01-02T03:00:00.000Z');
  const every = parseSchedule('every 6h');
  assert.ok(every);
  const now = new Date('2026-01-01T10:00:00Z');
  assert.equal(nextDue(every, now).toISOString(), now.toISOString(), 'a new database is due at once');
  assert.equal(nextDue(every, now, new Date('2026-01-01T09:00:00Z')).toISOString(), '2026-01-01T15:00:00.000Z', 'on its grid, not after the drill');
  assert.equal(nextDue(every, now, new Date('2025-12-30T00:00:00Z')).toISOString(), now.toISOString(), 'after an outage: once, now');
  assert.match((await problemsOf({ databases: [{ source: 'postgresql://h/d', schedule: 'twice a day' }] })).join(), /every N m\|h\|d/);
});

test('sizes, config_file relative to the fleet file, and the file limits of a config file', async () => {
  assert.equal(parseSize('500 MiB'), 500 * 1024 ** 2);
  assert.equal(parseSize('1.5k'), 1536);
  assert.equal(parseSize('lots'), null);
  await using d = await scratchDir('fleet-file');
  await writeFile(join(d.path, 'app.yaml'), 'backup:\n  format: custom\nmetadata:\n  team: ops\n');
  await writeFile(join(d.path, 'fleet.yaml'), 'databases:\n  - source: postgresql://h/app\n    config_file: app.yaml\n    config: { metadata: { tier: gold } }\n');
  const f = await loadFleet(join(d.path, 'fleet.yaml'));
  assert.deepEqual(f.databases[0]?.config, { backup: { format: 'custom' }, metadata: { team: 'ops', tier: 'gold' } });
  await writeFile(join(d.path, 'bad.yaml'), 'databases: [');
  await assert.rejects(loadFleet(join(d.path, 'bad.yaml')), (e: unknown) => e instanceof ConfigError && /not valid YAML/.test(e.message));
});

test("a schedule's longest gap: an interval's length, a cron expression's widest spacing", () => {
  const gap = (t: string) => {
    const s = parseSchedule(t);
    assert.ok(s);
    return longestGapMs(s, new Date('2026-01-01T00:00:00Z'));
  };
  assert.equal(gap('every 6h'), 6 * 3_600_000);
  assert.equal(gap('0 3 * * *'), 86_400_000);
  assert.equal(gap('0 3 * * 1,2'), 6 * 86_400_000);
});
