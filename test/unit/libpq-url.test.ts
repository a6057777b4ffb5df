/** libpq's URL grammar (fe-connect.c) and the redaction of URLs, parseable or not. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LibpqUrlError, parseLibpqUrl, redactUrl, redactUrlsIn } from '../../src/source/libpq-url.js';
import { connectError, resolveSource, sessionSettingsText, withOwnSessionsJitOff } from '../../src/source/connection.js';
import { userInfo } from 'node:os';
import { scratchDir } from '../helpers/clusters.js';
import { ConfigError } from '../../src/errors.js';

test('parses as libpq does: user info to the first @, password after the first :, query parameters win', () => {
  assert.deepEqual(parseLibpqUrl('postgresql://u:p#w?x:y@h:5433/db?dbname=mid&sslmode=disable'),
    { user: 'u', password: 'p#w?x:y', host: 'h', port: '5433', dbname: 'mid', sslmode: 'disable' });
  assert.deepEqual(parseLibpqUrl('postgres://%2Ftmp%2Fs/my%20db+x'), { host: '/tmp/s', dbname: 'my db+x' });
  assert.deepEqual(parseLibpqUrl('postgresql://[::1]:5432,h2/db'), { host: '::1,h2', port: '5432,', dbname: 'db' });
  assert.deepEqual(parseLibpqUrl('postgresql://?service=s&ssl=true'), { service: 's', sslmode: 'require' });
  assert.deepEqual(parseLibpqUrl('postgresql:///'), {});
});

test('what libpq refuses, and the ambiguous unencoded @, is refused without quoting the URL', () => {
  const secret = 'S3cr3t';
  for (const url of [
    `postgresql://u:${secret}%zz@h/db`, `postgresql://u:${secret}%00@h/db`, `postgresql://u:a@${secret}@h/db`,
    `postgresql://u:a/${secret}@h/db`, `postgresql://h/db?password=${secret}&x`, `postgresql://h/db?password=a=${secret}`,
    'postgresql://[::1/db',
  ]) {
    assert.throws(() => parseLibpqUrl(url), (e: Error) => e instanceof LibpqUrlError && !e.message.includes(secret), url);
    assert.throws(() => resolveSource(url, {}), (e: Error) => e instanceof ConfigError && !e.message.includes(secret) && /percent-encode/.test(e.message), url);
  }
  assert.throws(() => parseLibpqUrl('postgresql://h/db?colour=blue'), /invalid URI query parameter "colour"/);
});

test('redaction: everything between :// and the last @, and password= values, parseable or not', () => {
  assert.equal(redactUrl('postgresql://u:p@ss/w#rd?x@h:5/db?sslmode=require'), 'postgresql://u:***@h:5/db?sslmode=require');
  assert.equal(redactUrl('postgresql://u@h/db'), 'postgresql://u@h/db');
  assert.equal(redactUrl('postgresql://h/db?user=u&password=a&b=c&sslmode=disable'), 'postgresql://h/db?user=u&password=***&sslmode=disable');
  assert.equal(redactUrlsIn('source "postgresql://u:a@b@h/db" and postgres://v:c@h2/x.'), 'source "postgresql://u:***@h/db" and postgres://v:***@h2/x.');
});

test('a service file and PG* variables give pgdrill\'s session what the tools get; several hosts are refused', () => {
  const s = resolveSource(undefined, { PGHOST: '/s', PGPORT: '5433', PGUSER: 'u', PGDATABASE: 'd', PGPASSWORD: 'pw' });
  assert.deepEqual([s.connection.host, s.connection.port, s.connection.user, s.connection.database, s.connection.password], ['/s', 5433, 'u', 'd', 'pw']);
  const t = resolveSource('postgresql://u@h/db?options=-c%20work_mem%3D3MB&application_name=x', { PGHOST: 'elsewhere' });
  assert.equal(t.toolEnv.PGHOST, 'h');
  assert.equal(t.toolEnv.PGAPPNAME, 'pgdrill');
  assert.match(t.toolEnv.PGOPTIONS!, /^-c work_mem=3MB -c default_transaction_read_only=on /);
  assert.throws(() => resolveSource('postgresql://h1,h2/db', {}), /several hosts/);
  assert.throws(() => resolveSource('postgresql://h/db?keepalives=0', {}), /keepalives are not supported/);
});

test('no source given: the connect error lists what libpq\'s defaults and the PG* environment gave, socket first', async () => {
  await using d = await scratchDir();
  const enoent = Object.assign(new Error('connect ENOENT'), { code: 'ENOENT' });
  // Nothing set: the default socket directory, port 5432, the OS user, a database named after it.
  const none = resolveSource(undefined, {});
  const me = userInfo().username;
  assert.deepEqual(none.defaults, [
    "Unix socket /var/run/postgresql/.s.PGSQL.5432 (PGHOST unset: libpq's default socket directory, tried first as psql does)",
    'port 5432 (PGPORT unset: the default)',
    `user ${me} (PGUSER unset: the OS user)`,
    `database ${me} (PGDATABASE unset: the user name)`,
  ]);
  assert.equal(none.redacted, `postgresql://${me}@/${me}?host=/var/run/postgresql&port=5432 (libpq defaults and the PG* environment)`);
  const msg = connectError(none, enoent, (s) => s).message;
  assert.match(msg, /^cannot connect to the source: connect ENOENT\. No source was given .* libpq's defaults and the PG\* environment:\n  - Unix socket \/var\/run\/postgresql\/\.s\.PGSQL\.5432 \(PGHOST unset/);
  assert.match(msg, /Give --source postgresql:\/\/USER@HOST:PORT\/DBNAME/);
  assert.doesNotMatch(msg, /postgresql:\/\/@\//);
  // Set in the environment: each named with its variable; a socket directory without a socket is said so.
  const env = resolveSource(undefined, { PGHOST: d.path, PGPORT: '5499', PGUSER: 'app', PGDATABASE: 'shop' });
  const e = connectError(env, enoent, (s) => s).message;
  assert.ok(e.includes(`  - Unix socket ${d.path}/.s.PGSQL.5499 (PGHOST) — no socket there: no server listens in that directory\n  - port 5499 (PGPORT)\n  - user app (PGUSER)\n  - database shop (PGDATABASE)`), e);
  assert.match(resolveSource(undefined, { PGHOST: 'db.example.com' }).defaults![0]!, /^host db\.example\.com \(PGHOST\)$/);
  // With a URL the message is about the URL, as before.
  const url = resolveSource('postgresql://app@db/shop', { PGHOST: 'elsewhere' });
  assert.equal(url.defaults, null);
  assert.match(connectError(url, enoent, (s) => s).message, /^cannot connect to the source postgresql:\/\/app@db\/shop: connect ENOENT\. Check the URL/);
});

test("jit=off joins pgdrill's own sessions' options on PostgreSQL 11+, never the tools' PGOPTIONS, and a 10 is left alone", () => {
  const spec = resolveSource('postgresql://app@db/shop?options=-c%20work_mem%3D8MB', {});
  const on = withOwnSessionsJitOff(spec, 11);
  assert.match(String(on.connection.options), /^-c work_mem=8MB -c default_transaction_read_only=on .* -c jit=off$/);
  assert.equal(on.toolEnv.PGOPTIONS, spec.toolEnv.PGOPTIONS);
  assert.doesNotMatch(on.toolEnv.PGOPTIONS!, /jit/);
  assert.match(sessionSettingsText(on), /\(pgdrill's own sessions also -c jit=off\) application_name=pgdrill$/);
  assert.equal(withOwnSessionsJitOff(spec, 10), spec);
  assert.doesNotMatch(sessionSettingsText(spec), /jit/);
});
