/**
 * Secrets: a source that requires a password (scram-sha-256). Whether the password comes in the URL or in
 * PGPASSWORD, it never appears in any child process's argv (polled from /proc while the drill runs), in the
 * environment of anything that talks to the sandbox, in any file of the run directory (run.log, reports,
 * globals…), on stdout (--json) or stderr, nor in the error of a failed login; connection strings are shown
 * redacted. And the sandbox listens on no TCP port.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI, CLI_NODE_FLAGS, runCli, type CliRun } from '../helpers/cli.js';
import { psql, scratchDir, startSource } from '../helpers/clusters.js';
import { createAppDatabase, descendants, holdLock } from '../helpers/safety.js';
import { DbSession } from '../../src/pg/client.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { ReportSchema } from '../../src/report/model.js';

const SECRET = `Pw!${randomBytes(6).toString('hex')}#Zq`;

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const n of await readdir(dir)) {
    const p = join(dir, n);
    if ((await stat(p)).isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(p);
  }
  return out;
}

/**
 * Run the CLI while polling /proc every 10 ms: every command line of every process but pgdrill itself, and the
 * environment of pgdrill's descendants (with their command lines).
 */
async function runWatched(args: string[], env: Record<string, string>, onPgDumpSeen: () => Promise<void>): Promise<{ run: CliRun; argvs: Map<number, string>; envs: { cmd: string; env: string }[]; ownArgv: string }> {
  const argvs = new Map<number, string>();
  const envs: { cmd: string; env: string }[] = [];
  let cliPid = 0;
  let done = false;
  const poll = (async () => {
    while (!done) {
      for (const p of await readdir('/proc')) {
        if (!/^\d+$/.test(p) || Number(p) === cliPid) continue;
        const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
        if (cmd) argvs.set(Number(p), cmd.replace(/\0/g, ' '));
      }
      if (cliPid) {
        for (const d of await descendants(cliPid)) {
          const e = await readFile(`/proc/${d}/environ`, 'utf8').catch(() => '');
          const cmd = await readFile(`/proc/${d}/cmdline`, 'utf8').catch(() => '');
          if (cmd) envs.push({ cmd: cmd.replace(/\0/g, ' '), env: e });
          if (/pg_dump\0.*--snapshot=/.test(cmd) && !/--schema-only/.test(cmd) && e) await onPgDumpSeen();
        }
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  // Debug logs reach stderr from the start: they tell pgdrill's pid early (and must be free of the secret too).
  const run = await runCli(args, { env: { ...env, PGDRILL_DEBUG: '1' }, onStderr: (_s, pid) => void (cliPid = pid) });
  done = true;
  await poll;
  const ownArgv = argvs.get(run.pid) ?? '';
  argvs.delete(run.pid);
  return { run, argvs, envs, ownArgv };
}

function assertNoSecret(where: string, text: string): void {
  for (const form of [SECRET, encodeURIComponent(SECRET)]) assert.ok(!text.includes(form), `the password appears in ${where}`);
}

describe('secrets', () => {
  let dir: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  let base: string;
  let slowLocks: string;
  before(async () => {
    dir = await scratchDir();
    slowLocks = join(dir.path, 'slow-locks.yaml');
    await writeFile(slowLocks, 'backup:\n  lock_wait_timeout: 60s\n');
    source = await startSource({ parentDir: dir.path, settings: { password_encryption: "'scram-sha-256'" } });
    await createAppDatabase(source, 'vault');
    await psql(source, 'postgres', { sql: `CREATE ROLE drill_pw LOGIN PASSWORD '${SECRET}'; GRANT pg_read_all_data TO drill_pw;` });
    // drill_pw must authenticate with its password; the test's own superuser keeps trust.
    await writeFile(join(source.dataDir, 'pg_hba.conf'), 'local all drill_pw,odd_pw0,odd_pw1,odd_pw2,odd_pw3,odd_pw4,odd_pw5 scram-sha-256\nlocal all all trust\nlocal replication all trust\n');
    await psql(source, 'postgres', { sql: 'SELECT pg_reload_conf()' });
    base = `@/vault?host=${encodeURIComponent(source.socketDir)}&port=5432`;
    await assert.rejects(DbSession.open({ ...source.connection('vault'), user: 'drill_pw' }), /password/, 'without the password drill_pw is refused');
  });
  after(async () => {
    await source?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  async function assertDrillKeptSecret(how: string, args: string[], env: Record<string, string>, out: string): Promise<void> {
    // pg_dump of a small database is over in a blink: hold it at its LOCK TABLE until the watch has seen it.
    const holder = await holdLock(source, 'vault', 'public.orders');
    let watched: Awaited<ReturnType<typeof runWatched>>;
    try {
      watched = await runWatched([...args, '--config', slowLocks, '--out', out, '--json'], env, () => holder.release());
    } finally {
      await holder.release();
    }
    const { run, argvs, envs, ownArgv } = watched;
    assert.equal(run.code, 0, run.stderr);
    assert.ok(argvs.size > 10, 'processes were seen');
    const tools = envs.filter((e) => /(^|\/)(pg_dump|pg_dumpall|psql|pg_ctl|postgres|initdb|pg_restore|pg_amcheck) /.test(e.cmd));
    assert.ok(tools.some((e) => /pg_dump .*--snapshot=/.test(e.cmd)), 'pg_dump was seen running');
    // The watch is not blind: it sees the password where it is meant to be — pg_dump's PGPASSWORD, and pgdrill's
    // own argv when the user put it in the URL.
    assert.ok(tools.some((e) => /pg_dump .*--snapshot=/.test(e.cmd) && e.env.includes(`PGPASSWORD=${SECRET}`)));
    assert.equal(ownArgv.includes(encodeURIComponent(SECRET)), how === 'url');
    // A child caught between fork and exec still shows pgdrill's own command line and environment (the kernel's copy
    // of what pgdrill was started with): that is pgdrill itself, holding what the user gave it.
    const forkOfPgdrill = (cmd: string) => cmd.startsWith(`${[process.execPath, ...CLI_NODE_FLAGS, CLI].join(' ')} `);
    for (const [pid, cmd] of argvs) if (!forkOfPgdrill(cmd)) assertNoSecret(`the argv of pid ${pid} (${cmd.slice(0, 80)}) [${how}]`, cmd);
    // Only the programs that talk to the source get it, through their environment (PGPASSWORD), never the sandbox's.
    // (pg_dumpall checks its pg_dump's version through a shell, `sh -c "<bindir>/pg_dump" -V`, which inherits its
    // environment for the few milliseconds it runs: part of pg_dumpall, seen when the watch happens to poll then.)
    const talksToSource = (cmd: string) => /(^|\/)(pg_dump|pg_dumpall) /.test(cmd) || /^sh -c "[^"]*\/pg_dump" -V\s*$/.test(cmd);
    for (const e of envs) if (!talksToSource(e.cmd) && !forkOfPgdrill(e.cmd)) assertNoSecret(`the environment of ${e.cmd.slice(0, 80)} [${how}]`, e.env);
    assertNoSecret(`stdout (--json) [${how}]`, run.stdout);
    assertNoSecret(`stderr [${how}]`, run.stderr);
    const report = ReportSchema.parse(JSON.parse(run.stdout));
    for (const f of await filesUnder(report.run.dir)) assertNoSecret(`${f} [${how}]`, await readFile(f, 'latin1'));
    assert.equal(report.source.user, 'drill_pw');
    assert.match(report.source.url!, how === 'url' ? /^postgresql:\/\/drill_pw:\*\*\*@\/vault\?/ : /^postgresql:\/\/drill_pw@\/vault\?/);
    if (how === 'url') assert.ok(report.run.argv.some((a) => a.includes('drill_pw:***@')), report.run.argv.join(' '));
    // The sandbox listened on its private socket only.
    const iso = report.checks.find((c) => c.name === 'restore.isolation')!;
    assert.equal(iso.status, 'pass');
    assert.equal(iso.evidence?.listen_addresses, '');
    assert.deepEqual(iso.evidence?.tcp_listeners, []);
  }

  test('a password in the URL never leaks', async () => {
    await assertDrillKeptSecret('url', ['run', '--source', `postgresql://drill_pw:${encodeURIComponent(SECRET)}${base}`], {}, join(dir.path, 'out-url'));
  });

  test('a password in PGPASSWORD never leaks (not even to pgdrill\'s argv)', async () => {
    await assertDrillKeptSecret('env', ['run', '--source', `postgresql://drill_pw${base}`], { PGPASSWORD: SECRET }, join(dir.path, 'out-env'));
  });

  test('passwords with @ / # ? % : — encoded or not, never in stdout, stderr, run.log or a report', async () => {
    // Each password is two random halves around the character: neither half may show anywhere (a leak of "the
    // part after the first @" is a leak too). Unencoded, libpq reads #, ? and : as part of the password; @, / and a
    // % that starts no %XX make the URL mean something else: pgdrill refuses it (exit 2), redacted, saying how to encode.
    const users: string[] = [];
    try {
      for (const [i, ch] of ['@', '/', '#', '?', '%', ':'].entries()) {
        const [a, b] = [randomBytes(5).toString('hex'), randomBytes(5).toString('hex')];
        const pw = `A${a}${ch}Z${b}`;
        const user = `odd_pw${i}`;
        users.push(user);
        await psql(source, 'postgres', { sql: `CREATE ROLE ${user} LOGIN PASSWORD '${pw}'; GRANT pg_read_all_data TO ${user};` });
        for (const encoded of [true, false]) {
          const form = encoded ? encodeURIComponent(pw) : pw;
          const out = join(dir.path, `out-odd-${i}-${encoded}`);
          const r = await runCli(['run', '--source', `postgresql://${user}:${form}@/vault?host=${encodeURIComponent(source.socketDir)}&port=5432`, '--out', out, '--json'], { env: { PGDRILL_DEBUG: '1' } });
          const what = `${JSON.stringify(ch)} ${encoded ? 'encoded' : 'unencoded'}`;
          const parses = encoded || '#?:'.includes(ch);
          assert.equal(r.code, parses ? 0 : 2, `${what}: ${r.stderr.slice(-600)}`);
          if (!parses) {
            assert.match(r.stderr, new RegExp(`cannot parse --source URL "postgresql://${user}:\\*\\*\\*@/vault\\?host=[^"]*": .*percent-encode reserved characters .*@ as %40, / as %2F`), what);
          }
          const texts: [string, string][] = [['stdout', r.stdout], ['stderr', r.stderr]];
          if (parses) {
            const report = ReportSchema.parse(JSON.parse(r.stdout));
            assert.equal(report.source.user, user, what);
            for (const f of await filesUnder(report.run.dir)) texts.push([f, await readFile(f, 'latin1')]);
            assert.ok(texts.some(([f]) => f.endsWith('run.log')) && texts.some(([f]) => f.endsWith('report.html')));
          }
          for (const [where, text] of texts) for (const half of [a, b]) assert.ok(!text.includes(half), `${what}: part of the password in ${where}`);
        }
      }
    } finally {
      // Roles of the source own nothing the other tests count; drop them so the source is as the other tests expect.
      for (const u of users) await psql(source, 'postgres', { sql: `DROP ROLE IF EXISTS ${u}` });
    }
  });

  test('a wrong password: exit 4, the error names the failure, never the password', async () => {
    const wrong = `${SECRET}-wrong`;
    for (const [args, env] of [
      [['run', '--source', `postgresql://drill_pw:${encodeURIComponent(wrong)}${base}`], {}],
      [['run', '--source', `postgresql://drill_pw${base}`], { PGPASSWORD: wrong }],
    ] as const) {
      const r = await runCli([...args, '--out', join(dir.path, 'out-wrong'), '--json'], { env: { ...env } });
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, /cannot connect to the source postgresql:\/\/drill_pw(:\*\*\*)?@\/vault\?.*password authentication failed for user "drill_pw"/);
      for (const form of [wrong, encodeURIComponent(wrong), SECRET]) assert.ok(!r.stderr.includes(form) && !r.stdout.includes(form));
    }
  });
});
