/**
 * The source URL means what it means to libpq: for each URL (and service file, and PG* environment), pgdrill's own
 * session and the tools it starts (psql run with the spec's environment, as pg_dump is) reach the database, role,
 * port and settings that real `psql URL` reaches — `?dbname=` wins over the path, `?user=`, `?port=`, `?options=`,
 * `?service=` count; what psql refuses, pgdrill refuses. A drill of `…/postgres?dbname=mid` drills `mid`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { bins, psql, scratchDir, startSource } from '../helpers/clusters.js';
import { createAppDatabase } from '../helpers/safety.js';
import { runProcess } from '../../src/exec/run-process.js';
import { DbSession } from '../../src/pg/client.js';
import { resolveSource } from '../../src/source/connection.js';
import { ConfigError } from '../../src/errors.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { ReportSchema } from '../../src/report/model.js';

const SQL = "select current_database() AS db, current_user AS usr, current_setting('port') AS port, current_setting('work_mem') AS mem";

describe('libpq URL parameters: pgdrill connects where psql connects', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  let sock: string;
  let port: number;
  let services: string;
  before(async () => {
    dir = await scratchDir();
    source = await startSource({ parentDir: dir.path });
    sock = encodeURIComponent(source.socketDir);
    port = source.port;
    await createAppDatabase(source, 'mid');
    await psql(source, 'postgres', { sql: 'CREATE ROLE other LOGIN; GRANT pg_read_all_data TO other' });
    await psql(source, 'postgres', { sql: 'CREATE DATABASE "my db"' });
    services = join(dir.path, 'services.conf');
    await writeFile(services, `# test services\n[mid]\nhost=${source.socketDir}\nport=${port}\ndbname=mid\nuser=postgres\n\n[other]\nhost=${source.socketDir}\nport=${port}\nuser=other\ndbname=postgres\n`);
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  /** What real psql reaches with `url` (no URL: the environment alone), or ERROR. */
  async function viaPsql(url: string | undefined, env: Record<string, string>): Promise<string> {
    const b = await bins();
    const r = await runProcess({
      bin: b.path('psql'), args: ['-X', '-At', '-F', '|', '-w', '-c', SQL, ...(url ? [url] : [])],
      env: { PATH: process.env.PATH ?? '', HOME: dir.path, ...env }, stdout: 'capture', allowFailure: true,
    });
    return r.exitCode === 0 ? r.stdout.trim() : 'ERROR';
  }

  /** What pgdrill's own session reaches, and what its tools reach (psql given the spec's environment, no URL). */
  async function viaPgdrill(url: string | undefined, env: Record<string, string>): Promise<{ session: string; tools: string }> {
    let spec: ReturnType<typeof resolveSource>;
    try {
      spec = resolveSource(url, { HOME: dir.path, ...env });
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      return { session: 'ERROR', tools: 'ERROR' };
    }
    let session = 'ERROR';
    try {
      await using db = await DbSession.open({ ...spec.connection, connectionTimeoutMillis: 5000 });
      const row = (await db.query<Record<string, string>>(SQL))[0]!;
      session = Object.values(row).join('|');
      assert.equal(await db.value('SHOW application_name'), 'pgdrill');
      assert.equal(await db.value('SHOW default_transaction_read_only'), 'on', 'the URL\'s options never replace the read-only default');
    } catch (err) {
      if (err instanceof assert.AssertionError) throw err;
    }
    const b = await bins();
    const r = await runProcess({ bin: b.path('psql'), args: ['-X', '-At', '-F', '|', '-w', '-c', SQL], env: { PATH: process.env.PATH ?? '', ...spec.toolEnv }, stdout: 'capture', allowFailure: true });
    return { session, tools: r.exitCode === 0 ? r.stdout.trim() : 'ERROR' };
  }

  const cases: [string, (s: string, p: number) => string | undefined, Record<string, string>, string][] = [
    ['?dbname= wins over the path', (s, p) => `postgresql://postgres@/postgres?host=${s}&port=${p}&dbname=mid`, {}, 'mid|postgres'],
    ['?user= wins over the user info', (s, p) => `postgresql://postgres@/mid?host=${s}&port=${p}&user=other`, {}, 'mid|other'],
    ['?port= wins over the authority\'s port', (s, p) => `postgresql://postgres@${s}:1/mid?port=${p}`, {}, 'mid|postgres'],
    ['?host= wins over the authority\'s host', (s, p) => `postgresql://postgres@nowhere.invalid:${p}/mid?host=${s}`, {}, 'mid|postgres'],
    ['a percent-encoded socket directory as host, and a percent-encoded database name', (s, p) => `postgresql://postgres@${s}:${p}/my%20db`, {}, 'my db|postgres'],
    ['?options= reach the session (pgdrill\'s own options still apply)', (s, p) => `postgresql://postgres@/mid?host=${s}&port=${p}&options=-c%20work_mem%3D3MB`, {}, 'mid|postgres|*|3MB'],
    ['?sslmode=disable over a socket', (s, p) => `postgresql://postgres@/mid?host=${s}&port=${p}&sslmode=disable`, {}, 'mid|postgres'],
    ['?sslmode=require over a socket (libpq uses no TLS on a Unix socket)', (s, p) => `postgresql://postgres@/mid?host=${s}&port=${p}&sslmode=require`, {}, 'mid|postgres'],
    ['?application_name= (pgdrill\'s sessions stay "pgdrill")', (s, p) => `postgresql://postgres@/mid?host=${s}&port=${p}&application_name=other`, {}, 'mid|postgres'],
    ['PG* variables without a URL', () => undefined, { PGHOST: '<sock>', PGPORT: '<port>', PGUSER: 'other', PGDATABASE: 'mid' }, 'mid|other'],
    ['?service= from PGSERVICEFILE', () => 'postgresql://?service=mid', { PGSERVICEFILE: '' }, 'mid|postgres'],
    ['the URL wins over its service', () => 'postgresql:///postgres?service=other', { PGSERVICEFILE: '' }, 'postgres|other'],
    ['PGSERVICE without a URL', () => undefined, { PGSERVICEFILE: '', PGSERVICE: 'other' }, 'postgres|other'],
    ['a database that does not exist: both fail', (s, p) => `postgresql://postgres@/postgres?host=${s}&port=${p}&dbname=nope`, {}, 'ERROR'],
    ['a service that is not defined: both fail', () => 'postgresql://?service=nope', { PGSERVICEFILE: '' }, 'ERROR'],
    ['an unknown query parameter: both refuse', (s, p) => `postgresql://postgres@/mid?host=${s}&port=${p}&colour=blue`, {}, 'ERROR'],
  ];
  for (const [name, make, env, expected] of cases) {
    test(name, async () => {
      const url = make(sock, port);
      const e = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, k === 'PGSERVICEFILE' ? services : v === '<sock>' ? source.socketDir : v === '<port>' ? String(port) : v]));
      const want = await viaPsql(url, e);
      if (expected === 'ERROR') assert.equal(want, 'ERROR', 'psql refuses it too');
      else {
        const [db, user, , mem] = expected.split('|');
        assert.match(want, new RegExp(`^${db}\\|${user}\\|${port}\\|${mem && mem !== '*' ? mem : '\\w+'}$`), 'the case means what the test says to psql');
      }
      const got = await viaPgdrill(url, e);
      assert.deepEqual(got, { session: want, tools: want });
    });
  }

  test('a drill of …/postgres?dbname=mid drills mid', async () => {
    const r = await runCli(['run', '--source', `postgresql://postgres@/postgres?host=${sock}&port=${port}&dbname=mid`, '--out', join(dir.path, 'out'), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = ReportSchema.parse(JSON.parse(r.stdout));
    assert.equal(report.source.database, 'mid');
    assert.ok(report.tables.some((t) => t.name === 'orders' && t.restored_rows === 2000), JSON.stringify(report.tables.map((t) => t.name)));
  });
});
