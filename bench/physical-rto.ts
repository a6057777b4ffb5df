/**
 * The physical drill's RTO beside the manual restore it replaces (issue 25): a pgbench source (scale 50 by default)
 * archiving with `pgbackrest archive-push` and `cp` into a plain archive, a pgBackRest full backup and a
 * pg_basebackup taken after `pgbench -i`, then pgbench traffic until ~1 GiB of WAL is archived. Then, side by side in
 * one run (alternating order per round):
 *   manual   `pgbackrest restore` + `pg_ctl start` (recovery to latest) until the copy is promoted — a usable cluster,
 *            nothing checked;
 *   drill    `pgdrill verify pgbackrest:rto` — its report's RTO (restore + replay + checks), restore+replay alone,
 *            and the replay rate;
 *   basebkp  `pgdrill verify BACKUP --wal ARCHIVE` — the same for the pg_basebackup and the plain archive.
 * Prints each run and the paired ratios drill/manual (whole RTO, and restore+replay alone).
 *
 * With `--baseline-cli PATH` (another build's dist/pgdrill.mjs, say main's before a change) the two drills run with it
 * too, in the same round, and the ratios this build / baseline are printed.
 *
 *   npm run bench -- physical [--scale 50] [--wal-mb 1024] [--rounds 1] [--max-traffic-s 900] [--baseline-cli PATH] [--json FILE]
 * Root (the clusters run as the sandbox's OS user), pgbackrest installed (scripts/setup --with-pgbackrest).
 */
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { resolveSandboxUser, type OsUser } from '../src/exec/os-user.js';
import { runProcess } from '../src/exec/run-process.js';
import type { SandboxCluster } from '../src/sandbox/cluster.js';
import { localToolchain } from '../src/toolchain/toolchain.js';
import { startBenchSource } from './bench-source.js';
import { median, time } from './timing.js';

const PGBACKREST = '/usr/bin/pgbackrest';
const ROOT = resolve(import.meta.dirname, '..');

const { values: a } = parseArgs({ options: { scale: { type: 'string', default: '50' }, 'wal-mb': { type: 'string', default: '1024' }, rounds: { type: 'string', default: '1' }, 'max-traffic-s': { type: 'string', default: '900' }, 'baseline-cli': { type: 'string' }, json: { type: 'string' } } });
const scale = Number(a.scale);
const walBytes = Number(a['wal-mb']) * 2 ** 20;

interface DrillTimes { wallMs: number; status: string; rtoMs: number | null; copyMs: number | null; recoveryMs: number | null; checksMs: number | null; replayedBytes: number | null; replayBytesPerS: number | null }

async function ownedDir(path: string, user: OsUser | null): Promise<string> {
  await mkdir(path, { recursive: true, mode: 0o755 });
  if (user) await chown(path, user.uid, user.gid);
  return path;
}

const asUser = (user: OsUser | null) => ({ uid: user?.uid, gid: user?.gid });

/** The source, its pgBackRest stanza and full backup, a pg_basebackup, and the WAL of pgbench traffic, archived. */
async function buildInputs(work: string, user: OsUser | null, pgbin: string): Promise<{ conf: string; basebackup: string; archive: string; walMiB: number; trafficS: number }> {
  const repo = await ownedDir(join(work, 'repo'), user);
  const archive = await ownedDir(join(work, 'archive'), user);
  const etc = await ownedDir(join(work, 'etc'), user);
  const lock = await ownedDir(join(work, 'lock'), user);
  const spool = await ownedDir(join(work, 'spool'), user);
  const conf = join(etc, 'pgbackrest.conf');
  // lz4: archive-push keeps up with the traffic on two shared cores (gz, the default, is ~4x the CPU).
  await writeFile(conf, `[global]\nrepo1-path=${repo}\nrepo1-retention-full=9\nlog-level-file=off\nstart-fast=y\ncompress-type=lz4\nlock-path=${lock}\nspool-path=${spool}\n`, { mode: 0o644 });
  const archiveCommand = `'${PGBACKREST} --config=${conf} --stanza=rto archive-push %p && cp %p ${archive}/%f'`;
  const t0 = performance.now();
  const source = await startBenchSource(scale, work, pgbin, 'phys-bench-source', ['CHECKPOINT'], {
    settings: { archive_mode: 'on', archive_command: archiveCommand, wal_level: 'replica', full_page_writes: 'on', checkpoint_timeout: "'1min'", max_wal_senders: '4' },
    shared: [repo, archive, etc, lock, spool],
  });
  try {
    console.log(`source: pgbench -i -s ${scale} in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    await writeFile(conf, `\n[rto]\npg1-path=${source.dataDir}\npg1-socket-path=${source.socketDir}\npg1-port=${source.port}\npg1-user=postgres\n`, { flag: 'a' });
    const backrest = (...args: string[]) => runProcess({ bin: PGBACKREST, args: [`--config=${conf}`, '--stanza=rto', ...args], ...asUser(user), stdout: 'capture' });
    await backrest('stanza-create');
    await backrest('--type=full', 'backup');
    const basebackup = join(work, 'basebackup');
    await ownedDir(basebackup, user);
    await runProcess({ bin: join(pgbin, 'pg_basebackup'), args: ['-D', basebackup, '-Fp', '-X', 'none', '-c', 'fast', '--no-sync'], env: source.env('postgres'), ...asUser(user) });
    const { walMiB, trafficS } = await traffic(source, pgbin);
    const last = (await sql(source, 'SELECT pg_walfile_name(pg_switch_wal())')).trim();
    for (let i = 0; (await sql(source, `SELECT coalesce(last_archived_wal >= '${last}', false) FROM pg_stat_archiver`)).trim() !== 't'; i++) {
      if (i === 6000) throw new Error(`${last} was never archived`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return { conf, basebackup, archive, walMiB, trafficS };
  } finally {
    await source.stop();
  }
}

async function sql(c: SandboxCluster, q: string): Promise<string> {
  const bins = await localToolchain();
  return (await runProcess({ bin: bins.path('psql'), args: ['-X', '-q', '-At', '-c', q], env: c.env('bench'), stdout: 'capture' })).stdout;
}

/** pgbench (tpcb-like, 4 clients) in 30 s rounds until `walBytes` of WAL are written, or the time cap. */
async function traffic(source: SandboxCluster, pgbin: string): Promise<{ walMiB: number; trafficS: number }> {
  const start = (await sql(source, 'SELECT pg_current_wal_lsn()')).trim();
  const t0 = performance.now();
  let written = 0;
  while (written < walBytes && performance.now() - t0 < Number(a['max-traffic-s']) * 1000) {
    await runProcess({ bin: join(pgbin, 'pgbench'), args: ['-n', '-c', '4', '-j', '2', '-T', '30', 'bench'], env: source.env('bench'), stdout: 'capture' });
    written = Number((await sql(source, `SELECT pg_current_wal_lsn() - '${start}'`)).trim());
    console.log(`traffic: ${(written / 2 ** 20).toFixed(0)} MiB of WAL after ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  return { walMiB: written / 2 ** 20, trafficS: (performance.now() - t0) / 1000 };
}

/** `pgbackrest restore` into a new directory, `pg_ctl start`, until promoted (recovery to latest): a usable cluster. */
async function manual(work: string, conf: string, user: OsUser | null, pgbin: string, n: number): Promise<number> {
  const dir = await ownedDir(join(work, `manual-${n}`), user);
  const data = join(dir, 'data');
  const sock = await ownedDir(join(dir, 'sock'), user);
  const env = { PGHOST: sock, PGPORT: '5432', PGUSER: 'postgres', PGDATABASE: 'postgres' };
  try {
    return await time(async () => {
      await runProcess({ bin: PGBACKREST, args: [`--config=${conf}`, '--stanza=rto', `--pg1-path=${data}`, '--archive-mode=off', `--lock-path=${join(dir, 'lock')}`, 'restore'], ...asUser(user), stdout: 'capture' });
      await writeFile(join(data, 'postgresql.auto.conf'), `listen_addresses = ''\nunix_socket_directories = '${sock}'\nport = 5432\n`, { flag: 'a' });
      const started = await runProcess({ bin: join(pgbin, 'pg_ctl'), args: ['start', '-D', data, '-l', join(dir, 'log'), '-w', '-t', '3600'], ...asUser(user), allowFailure: true });
      if (started.exitCode !== 0) throw new Error(`pg_ctl start failed: ${(await readFile(join(dir, 'log'), 'utf8')).slice(-2000)}`);
      for (;;) {
        const r = await runProcess({ bin: join(pgbin, 'psql'), args: ['-X', '-At', '-c', 'SELECT pg_is_in_recovery()'], env, stdout: 'capture', allowFailure: true });
        if (r.exitCode === 0 && r.stdout.trim() === 'f') return;
        await new Promise((res) => setTimeout(res, 100));
      }
    });
  } finally {
    await runProcess({ bin: join(pgbin, 'pg_ctl'), args: ['stop', '-D', data, '-m', 'immediate'], ...asUser(user), allowFailure: true });
    await rm(dir, { recursive: true, force: true });
  }
}

/** `pgdrill verify ARGS`: its wall time, verdict and the report's physical timings. */
async function drill(work: string, args: string[], n: number, cli = join(ROOT, 'dist/pgdrill.mjs')): Promise<DrillTimes> {
  const out = join(work, `out-${n}`);
  let res: { stdout: string } = { stdout: '' };
  const wallMs = await time(async () => {
    res = await runProcess({ bin: process.execPath, args: [cli, 'verify', ...args, '--out', out, '--json'], stdout: 'capture', allowFailure: true });
  });
  const report = JSON.parse(res.stdout) as { status: string; physical?: { timings: { rto_ms: number | null; copy_ms: number | null; recovery_ms: number | null; checks_ms: number | null }; wal: { replayed_bytes: number | null; replay_bytes_per_s: number | null } } };
  const t = report.physical?.timings;
  await rm(out, { recursive: true, force: true });
  return { wallMs, status: report.status, rtoMs: t?.rto_ms ?? null, copyMs: t?.copy_ms ?? null, recoveryMs: t?.recovery_ms ?? null, checksMs: t?.checks_ms ?? null, replayedBytes: report.physical?.wal.replayed_bytes ?? null, replayBytesPerS: report.physical?.wal.replay_bytes_per_s ?? null };
}

const s = (ms: number | null) => (ms === null ? '?' : `${(ms / 1000).toFixed(1)} s`);
const line = (what: string, d: DrillTimes) => `${what}: ${d.status}, RTO ${s(d.rtoMs)} (restore ${s(d.copyMs)}, replay ${s(d.recoveryMs)}, checks ${s(d.checksMs)}), wall ${s(d.wallMs)}, replayed ${d.replayedBytes === null ? '?' : (d.replayedBytes / 2 ** 20).toFixed(0)} MiB at ${d.replayBytesPerS === null ? '?' : (d.replayBytesPerS / 2 ** 20).toFixed(1)} MiB/s`;

interface Row { manualMs: number; repo: DrillTimes; base: DrillTimes; baselineRepo?: DrillTimes; baselineBase?: DrillTimes }

/** One round: every variant once, the order reversed every other round. */
async function round(work: string, inputs: { conf: string; basebackup: string; archive: string }, user: OsUser | null, pgbin: string, i: number): Promise<Row> {
  const order = ['manual', 'repo', 'base', ...(a['baseline-cli'] ? ['baselineRepo', 'baselineBase'] : [])];
  if (i % 2 === 1) order.reverse();
  const row: Partial<Row> = {};
  const repoArgs = ['pgbackrest:rto', '--pgbackrest-config', inputs.conf];
  const baseArgs = [inputs.basebackup, '--wal', inputs.archive];
  for (const v of order) {
    if (v === 'manual') row.manualMs = await manual(work, inputs.conf, user, pgbin, i);
    if (v === 'repo') row.repo = await drill(work, repoArgs, i);
    if (v === 'base') row.base = await drill(work, baseArgs, i);
    if (v === 'baselineRepo') row.baselineRepo = await drill(work, repoArgs, i, resolve(a['baseline-cli']!));
    if (v === 'baselineBase') row.baselineBase = await drill(work, baseArgs, i, resolve(a['baseline-cli']!));
  }
  const r = row as Row;
  console.log(`round ${i + 1}: manual pgbackrest restore + start to promotion ${s(r.manualMs)}`);
  console.log(`  ${line('pgdrill verify pgbackrest:rto', r.repo)}`);
  console.log(`  ${line('pgdrill verify basebackup --wal', r.base)}`);
  if (r.baselineRepo) console.log(`  ${line('baseline verify pgbackrest:rto', r.baselineRepo)}`);
  if (r.baselineBase) console.log(`  ${line('baseline verify basebackup --wal', r.baselineBase)}`);
  return r;
}

function summarise(rows: readonly Row[]): void {
  const ratio = (f: (r: Row) => number | null, to: (r: Row) => number | null = (r) => r.manualMs) => median(rows.map((r) => (f(r) ?? NaN) / (to(r) ?? NaN))).toFixed(2);
  const restoreReplay = (d: DrillTimes | undefined) => (d && d.copyMs !== null && d.recoveryMs !== null ? d.copyMs + d.recoveryMs : null);
  console.log(`paired ratios (median of ${rows.length}; the machine is shared, under load): drill RTO / manual ${ratio((r) => r.repo.rtoMs)}, drill restore+replay / manual ${ratio((r) => restoreReplay(r.repo))}, drill wall / manual ${ratio((r) => r.repo.wallMs)}; basebackup drill RTO / manual ${ratio((r) => r.base.rtoMs)}`);
  if (rows[0]?.baselineRepo) {
    console.log(`this build / baseline: pgbackrest drill wall ${ratio((r) => r.repo.wallMs, (r) => r.baselineRepo?.wallMs ?? null)}, restore+replay ${ratio((r) => restoreReplay(r.repo), (r) => restoreReplay(r.baselineRepo))}; basebackup drill wall ${ratio((r) => r.base.wallMs, (r) => r.baselineBase?.wallMs ?? null)}, restore+replay ${ratio((r) => restoreReplay(r.base), (r) => restoreReplay(r.baselineBase))}`);
  }
}

async function main(): Promise<void> {
  const user = await resolveSandboxUser();
  const pgbin = (await localToolchain()).server.bindir;
  const work = await mkdtemp(join(tmpdir(), 'pgdrill-physbench-'));
  await chmod(work, 0o755);
  try {
    const inputs = await buildInputs(work, user, pgbin);
    console.log(`inputs: scale ${scale}, ${inputs.walMiB.toFixed(0)} MiB of WAL from pgbench in ${inputs.trafficS.toFixed(0)} s`);
    const rows: Row[] = [];
    for (let i = 0; i < Number(a.rounds); i++) rows.push(await round(work, inputs, user, pgbin, i));
    summarise(rows);
    if (a.json) await writeFile(a.json, JSON.stringify({ scale, walMiB: inputs.walMiB, rows }, null, 2));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
