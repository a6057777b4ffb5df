/**
 * `npm run bench -- footprint`: what a drill costs production, in the source cluster's CPU seconds — the sum of
 * utime + stime of every process of the source cluster (the postmaster, its live children, and the children it
 * reaped meanwhile: its cutime + cstime), from /proc before and after — for pg_dump alone, `pgdrill run` (default)
 * and `pgdrill run --deep`, side by side in one run on pgbench sources, with the ratios to pg_dump alone; and the
 * wall time of `--deep` against the default drill. Not part of the tests; targets in docs/performance.md.
 *
 *   npm run bench -- footprint [--scales 10,50] [--runs 3] [--variants dump,run,deep,none,rt-pg-dump] [--pin] [--json FILE] [--cli PATH]
 *
 * `--pin` stands the source on its own host: every process of the source cluster on CPU 0, pg_dump and pgdrill (and
 * so the drill's sandbox) on CPU 1. Co-located on shared cores, the source's backend spends more CPU per byte when
 * the restore and the checks run beside it (caches, sibling threads) — a cost of the bench machine, not of what the
 * drill asks of the source.
 *
 * `--cli` runs another build of pgdrill (default: this checkout's dist/pgdrill.mjs), e.g. a `git archive` of main.
 *
 * Each scale gets a fresh source (`pgbench -i -s N`, then CHECKPOINT and a VACUUM ANALYZE so that no hint-bit or
 * autovacuum work of the load lands on the first variant). Runs alternate between the variants, the order rotating
 * every round; the table shows medians, and the paired ratios (each round's run over the same round's pg_dump) are
 * the robust figure when the machine's speed drifts. The drill's own report (`production.footprint`) is printed
 * beside, as a check of what each report says against what the cluster spent, and the database's rows and blocks read
 * (pg_stat_database): work counted, not timed, so it does not drift with the machine's load.
 */
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { localToolchain } from '../src/toolchain/toolchain.js';
import type { Report } from '../src/report/model.js';
import { SandboxCluster } from '../src/sandbox/cluster.js';
import { startBenchSource } from './bench-source.js';
import { median } from './timing.js';

/**
 * `none`: `pgdrill run` with `source.witness: none` (builds that have it): nothing read on the source beside pg_dump.
 * `rt-pg-dump`: `pgdrill run` with PGDRILL_ROUND_TRIP_FROM_DUMP=0: the round trip's source side a schema-only pg_dump
 * in the snapshot, as before it was read from the dump (the default `run` reads it from the dump).
 */
type Variant = 'dump' | 'run' | 'deep' | 'none' | 'rt-pg-dump';
const ROOT = resolve(import.meta.dirname, '..');
const HZ = 100; // USER_HZ: the unit of /proc/PID/stat's times

interface Args { scales: number[]; runs: number; variants: Variant[]; json: string | null; cli: string; pin: boolean }

function parseArgs(argv: string[]): Args {
  const a: Args = { scales: [10, 50], runs: 3, variants: ['dump', 'run', 'deep'], json: null, cli: join(ROOT, 'dist/pgdrill.mjs'), pin: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = () => argv[++i] ?? '';
    if (k === '--scales') a.scales = v().split(',').map(Number);
    else if (k === '--runs') a.runs = Number(v());
    else if (k === '--variants') a.variants = v().split(',') as Variant[];
    else if (k === '--json') a.json = v();
    else if (k === '--cli') a.cli = resolve(v());
    else if (k === '--pin') a.pin = true;
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

/** [utime + stime, cutime + cstime, ppid] of a process, in seconds; null when it is gone. */
async function procTimes(pid: number): Promise<{ own: number; reaped: number; ppid: number } | null> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (!text) return null;
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ').map(Number);
  return { ppid: f[1]!, own: (f[11]! + f[12]!) / HZ, reaped: (f[13]! + f[14]!) / HZ };
}

/** CPU seconds the source cluster has spent so far: the postmaster's own and reaped children's, and its live children's. */
async function clusterCpuSeconds(postmaster: number): Promise<number> {
  const pm = await procTimes(postmaster);
  if (!pm) throw new Error(`the source's postmaster ${postmaster} is gone`);
  let total = pm.own + pm.reaped;
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = await procTimes(Number(name));
    // Every process of a cluster is the postmaster's child (backends, parallel workers, background processes).
    if (p && p.ppid === postmaster) total += p.own;
  }
  return total;
}

interface RunResult { variant: Variant; scale: number; round: number; seconds: number; sourceCpu: number; reads: DbReads; reported: Report['production']['footprint'] | null }

/** pg_stat_database's counters of the drilled database: rows returned + fetched, and blocks read + hit — work, not time. */
interface DbReads { rows: number; blocks: number }

/** The counters now (after a pause: a backend reports its counters when it ends or at most once a second). */
async function dbReads(source: SandboxCluster, psqlBin: string): Promise<DbReads> {
  await new Promise((r) => setTimeout(r, 1100));
  const out = await spawnWait(psqlBin, ['-X', '-At', '-F', ' ', '-c', "SELECT pg_stat_clear_snapshot(); SELECT tup_returned + tup_fetched, blks_read + blks_hit FROM pg_stat_database WHERE datname = 'bench'"], { PGHOST: source.socketDir, PGPORT: String(source.port), PGUSER: 'postgres', PGDATABASE: 'postgres' });
  const [rows, blocks] = out.trim().split('\n').pop()!.split(' ').map(Number);
  return { rows: rows!, blocks: blocks! };
}

/**
 * The source cluster's own background CPU (checkpointer, walwriter, autovacuum launcher, …), in CPU seconds per wall
 * second, measured with nothing connected. A drill's window on the source lasts its whole wall time (the proof runs
 * at the end) while pg_dump alone lasts seconds, so the raw ratio charges the drill for background work the cluster
 * does anyway; the "net" columns subtract rate × wall from both sides.
 */
async function idleRate(postmaster: number, seconds: number): Promise<number> {
  const c0 = await clusterCpuSeconds(postmaster);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  return ((await clusterCpuSeconds(postmaster)) - c0) / seconds;
}
const IDLE_SECONDS = 30;

function spawnWait(cmd: string, args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', rej);
    child.on('close', (code) => (code === 0 ? res(out) : rej(new Error(`${cmd} exited ${code}: ${err.slice(-2000)}`))));
  });
}

/** Pin every process of the source cluster (the postmaster, its threads and its children so far) to CPU 0; later children inherit it. */
async function pinSource(postmaster: number): Promise<void> {
  const pids = [postmaster];
  for (const name of await readdir('/proc')) if (/^\d+$/.test(name) && (await procTimes(Number(name)))?.ppid === postmaster) pids.push(Number(name));
  for (const pid of pids) await spawnWait('taskset', ['-a', '-c', '-p', '0', String(pid)], {});
}

/** The command, on CPU 1 when pinned. */
function onClientCpu(pin: boolean, cmd: string, args: string[]): [string, string[]] {
  return pin ? ['taskset', ['-c', '1', cmd, ...args]] : [cmd, args];
}

async function runOnce(v: Variant, source: SandboxCluster, pgDump: string, work: string, cli: string, pin: boolean): Promise<{ report: Report | null }> {
  if (v === 'dump') {
    // pg_dump as pgdrill runs it by default: plain format, to a file.
    await spawnWait(...onClientCpu(pin, pgDump, ['--format=plain', `--file=${join(work, 'bench.sql')}`, 'bench']), { PGHOST: source.socketDir, PGPORT: String(source.port), PGUSER: 'postgres' });
    return { report: null };
  }
  const url = `postgresql://postgres@/bench?host=${encodeURIComponent(source.socketDir)}&port=${source.port}`;
  const config = join(work, 'witness-none.yaml');
  if (v === 'none') await writeFile(config, 'source:\n  witness: none\n');
  const extra = v === 'deep' ? ['--deep'] : v === 'none' ? ['--config', config] : [];
  const out = await spawnWait(...onClientCpu(pin, process.execPath, ['--expose-gc', cli, 'run', '--source', url, '--out', work, '--json', ...extra]), v === 'rt-pg-dump' ? { PGDRILL_ROUND_TRIP_FROM_DUMP: '0' } : {});
  const report = JSON.parse(out) as Report;
  if (report.status !== 'PASS') throw new Error(`pgdrill run${v === 'deep' ? ' --deep' : ''} did not PASS: ${report.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`).join('; ')}`);
  return { report };
}

async function measure(v: Variant, scale: number, round: number, source: SandboxCluster, pgDump: string, workRoot: string, cli: string, pin: boolean): Promise<RunResult> {
  const psqlBin = join(dirname(pgDump), 'psql');
  const work = await mkdtemp(join(workRoot, `${v}-`));
  await chmod(work, 0o755);
  const postmaster = Number((await readFile(join(source.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  try {
    const r0 = await dbReads(source, psqlBin);
    const c0 = await clusterCpuSeconds(postmaster);
    const t0 = performance.now();
    const { report } = await runOnce(v, source, pgDump, work, cli, pin);
    const seconds = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 300)); // the postmaster reaps the last backends
    const sourceCpu = (await clusterCpuSeconds(postmaster)) - c0;
    const r1 = await dbReads(source, psqlBin);
    return { variant: v, scale, round, seconds, sourceCpu, reads: { rows: r1.rows - r0.rows, blocks: r1.blocks - r0.blocks }, reported: report?.production.footprint ?? null };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '—');
const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');

function table(args: Args, results: RunResult[], idle: ReadonlyMap<number, number>): string {
  const lines = [
    '| scale | pg_dump alone: source CPU | run: source CPU | --deep: source CPU | run / pg_dump | --deep / pg_dump | paired run / pg_dump | paired --deep / pg_dump | wall: run | wall: --deep | --deep / run wall (paired) | report says run / --deep (drill / pg_dump alone) | idle background | net of it, paired: run / --deep | rows read: pg_dump alone | run / pg_dump, --deep / pg_dump (rows; blocks) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const notes: string[] = [];
  for (const scale of args.scales) {
    const of = (v: Variant) => results.filter((r) => r.scale === scale && r.variant === v);
    const cpu = (v: Variant) => median(of(v).map((r) => r.sourceCpu));
    const wall = (v: Variant) => median(of(v).map((r) => r.seconds));
    const paired = (a: Variant, b: Variant, key: 'sourceCpu' | 'seconds') => {
      const bs = new Map(of(b).map((r) => [r.round, r[key]]));
      return median(of(a).filter((r) => bs.has(r.round)).map((r) => r[key] / bs.get(r.round)!));
    };
    const rate = idle.get(scale) ?? 0;
    const netPaired = (a: Variant) => {
      const ds = new Map(of('dump').map((r) => [r.round, r.sourceCpu - rate * r.seconds]));
      return median(of(a).filter((r) => ds.has(r.round)).map((r) => (r.sourceCpu - rate * r.seconds) / ds.get(r.round)!));
    };
    const reads = (v: Variant, k: keyof DbReads) => median(of(v).map((r) => r.reads[k])) / median(of('dump').map((r) => r.reads[k]));
    const said = (v: Variant) => f2(median(of(v).flatMap((r) => (r.reported?.cpu.ratio_to_pg_dump ? [r.reported.cpu.ratio_to_pg_dump] : []))));
    if (of('rt-pg-dump').length) notes.push(`scale ${scale}: run with the round trip's source side a schema-only pg_dump (PGDRILL_ROUND_TRIP_FROM_DUMP=0): source CPU ${f2(cpu('rt-pg-dump'))} s, ${f2(cpu('rt-pg-dump') / cpu('dump'))}× pg_dump alone (paired ${f2(paired('rt-pg-dump', 'dump', 'sourceCpu'))}); default run paired ${f2(paired('run', 'dump', 'sourceCpu'))}; run / this, paired ${f2(paired('run', 'rt-pg-dump', 'sourceCpu'))}`);
    if (of('none').length) notes.push(`scale ${scale}: run with source.witness none: source CPU ${f2(cpu('none'))} s, ${f2(cpu('none') / cpu('dump'))}× pg_dump alone (paired ${f2(paired('none', 'dump', 'sourceCpu'))}), wall ${f2(wall('none'))} s; report says ${said('none')}`);
    lines.push(`| ${scale} | ${f2(cpu('dump'))} s | ${f2(cpu('run'))} s | ${f2(cpu('deep'))} s | ${f2(cpu('run') / cpu('dump'))} | ${f2(cpu('deep') / cpu('dump'))} | ${f2(paired('run', 'dump', 'sourceCpu'))} | ${f2(paired('deep', 'dump', 'sourceCpu'))} | ${f2(wall('run'))} s | ${f2(wall('deep'))} s | ${f2(paired('deep', 'run', 'seconds'))} | ${said('run')} / ${said('deep')} | ${(rate * 1000).toFixed(1)} ms/s | ${f2(netPaired('run'))} / ${f2(netPaired('deep'))} | ${median(of('dump').map((r) => r.reads.rows))} | ${f3(reads('run', 'rows'))}, ${f3(reads('deep', 'rows'))} (${f3(reads('run', 'blocks'))}, ${f3(reads('deep', 'blocks'))}) |`);
  }
  return [...lines, ...(notes.length ? ['', ...notes] : [])].join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const bins = await localToolchain();
  const pgbin = bins.server.bindir;
  const workRoot = await mkdtemp(join(tmpdir(), 'pgdrill-footprint-'));
  await chmod(workRoot, 0o755);
  const results: RunResult[] = [];
  const idle = new Map<number, number>();
  console.error(`source footprint bench: scales ${args.scales.join(', ')}, ${args.runs} run(s) per variant (${args.variants.join(', ')})${args.pin ? ', source on CPU 0, clients on CPU 1' : ''}, pgdrill ${args.cli}, work in ${workRoot}`);
  try {
    for (const scale of args.scales) {
      await mkdir(join(workRoot, 'sources'), { recursive: true });
      console.error(`scale ${scale}: pgbench -i …`);
      const source = await startBenchSource(scale, join(workRoot, 'sources'), pgbin, `footprint-source-${scale}`, ['VACUUM ANALYZE', 'CHECKPOINT']);
      try {
        const postmaster = Number((await readFile(join(source.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
        if (args.pin) await pinSource(postmaster);
        const before = await idleRate(postmaster, IDLE_SECONDS);
        for (let round = 0; round < args.runs; round++) {
          for (const v of args.variants.map((_, i) => args.variants[(i + round) % args.variants.length]!)) {
            const r = await measure(v, scale, round, source, bins.path('pg_dump'), workRoot, args.cli, args.pin);
            results.push(r);
            console.error(`  scale ${scale} round ${round + 1} ${v}: source CPU ${r.sourceCpu.toFixed(2)} s, wall ${r.seconds.toFixed(2)} s, ${r.reads.rows} rows and ${r.reads.blocks} blocks read${r.reported ? `; report: ${r.reported.summary}` : ''}`);
          }
        }
        const after = await idleRate(postmaster, IDLE_SECONDS);
        idle.set(scale, (before + after) / 2);
        console.error(`  scale ${scale}: idle background ${(before * 1000).toFixed(1)} ms/s before the rounds, ${(after * 1000).toFixed(1)} ms/s after`);
      } finally {
        await source.stop();
      }
    }
  } finally {
    await rm(workRoot, { recursive: true, force: true });
  }
  console.log(table(args, results, idle));
  if (args.json) await writeFile(args.json, JSON.stringify({ args, results, idle: Object.fromEntries(idle) }, null, 2));
}

await main();
