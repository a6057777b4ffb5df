/**
 * Paired A/B runs of pgdrill builds or node flags on one source: does a performance device pay? Each variant is a
 * command line that runs `pgdrill` (e.g. `node --expose-gc dist/pgdrill.mjs` against `node dist/pgdrill.mjs`, or two
 * builds); every round runs each variant once, the order rotating, so that the noise of a shared machine lands on
 * both sides of a pair. Per run: wall time, pgdrill's peak RSS (report `run.peak_rss_bytes`), the CPU seconds of
 * pgdrill's own process (all its threads, not its children: a preload records `process.cpuUsage()` at exit).
 * Not part of the tests. Needs root, like the tests (the clusters run as other OS users).
 *
 *   npx tsx bench/paired-builds.ts (--scale N | --tables N) [--runs 5] NAME='node [flags] path/to/pgdrill.mjs' …
 *
 * `--scale N`: a pgbench source of scale N (plain dump, the bytes path); `--tables N`: N tables of 3 rows each (the
 * objects path, like test/perf/objects-memory.test.ts).
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localToolchain } from '../src/toolchain/toolchain.js';
import { resolveSandboxUser } from '../src/exec/os-user.js';
import { runProcess } from '../src/exec/run-process.js';
import { silentLogger } from '../src/logger.js';
import type { Report } from '../src/report/model.js';
import { SandboxCluster } from '../src/sandbox/cluster.js';
import { median } from './timing.js';

interface Variant { readonly name: string; readonly argv: readonly string[] }
interface Run { readonly variant: string; readonly round: number; readonly seconds: number; readonly peakRss: number; readonly cpu: number; readonly stages: Readonly<Record<string, number>> }

function parseArgs(argv: string[]): { scale: number | null; tables: number | null; runs: number; variants: Variant[] } {
  const a = { scale: null as number | null, tables: null as number | null, runs: 5, variants: [] as Variant[] };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    if (k === '--scale') a.scale = Number(argv[++i]);
    else if (k === '--tables') a.tables = Number(argv[++i]);
    else if (k === '--runs') a.runs = Number(argv[++i]);
    else if (/^\w+=/.test(k)) a.variants.push({ name: k.slice(0, k.indexOf('=')), argv: k.slice(k.indexOf('=') + 1).split(' ').filter(Boolean) });
    else throw new Error(`unknown argument ${k}`);
  }
  if ((a.scale === null) === (a.tables === null) || a.variants.length < 2) throw new Error('usage: (--scale N | --tables N) [--runs R] A=\'cmd\' B=\'cmd\' …');
  return a;
}

async function startSource(parent: string, scale: number | null, tables: number | null): Promise<SandboxCluster> {
  const bins = await localToolchain();
  const settings = tables ? { max_locks_per_transaction: String(Math.max(64, Math.ceil(tables / 10))) } : undefined;
  const c = await SandboxCluster.start({ bins, parentDir: parent, osUser: await resolveSandboxUser(), logger: silentLogger, superuser: 'postgres', label: 'bench-source', settings });
  const sql = (db: string, text: string) => runProcess({ bin: bins.path('psql'), args: ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', text], env: c.env(db) });
  await sql('postgres', 'CREATE DATABASE bench');
  if (scale) await runProcess({ bin: join(bins.server.bindir, 'pgbench'), args: ['-i', '-q', '-s', String(scale), 'bench'], env: c.env('bench') });
  if (tables) {
    await sql('bench', `DO $$ BEGIN FOR i IN 1..${tables} LOOP
      EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, v text)', i);
      EXECUTE format('INSERT INTO t%s SELECT g, md5(g::text) FROM generate_series(1, 3) g', i);
    END LOOP; END $$`);
  }
  return c;
}

/** One drill by `v`; pgdrill's own CPU seconds come from a preload that writes process.cpuUsage() at exit. */
async function runOnce(v: Variant, url: string, work: string, preload: string): Promise<Omit<Run, 'variant' | 'round'>> {
  const cpuFile = join(work, 'cpu.json');
  const [cmd, ...rest] = v.argv;
  const args = [...rest.slice(0, -1), '--import', preload, rest.at(-1)!, 'run', '--source', url, '--out', join(work, 'out'), '--json'];
  const t0 = performance.now();
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((res, rej) => {
    const child = spawn(cmd!, args, { env: { ...process.env, PGDRILL_BENCH_CPU: cpuFile }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', rej);
    child.on('close', (c) => res({ code: c, stdout: out, stderr: err }));
  });
  const seconds = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`${v.name} exited ${code}: ${stderr.slice(-2000)}`);
  const report = JSON.parse(stdout) as Report;
  const cpu = JSON.parse(await readFile(cpuFile, 'utf8')) as { user: number; system: number };
  const stages: Record<string, number> = {};
  for (const s of report.stages) stages[s.name] = (stages[s.name] ?? 0) + s.duration_ms / 1000;
  return { seconds, peakRss: report.run.peak_rss_bytes ?? NaN, cpu: (cpu.user + cpu.system) / 1e6, stages };
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const root = await mkdtemp(join(tmpdir(), 'pgdrill-paired-'));
  await chmod(root, 0o755);
  const preload = join(root, 'cpu-at-exit.mjs');
  await writeFile(preload, "import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => writeFileSync(process.env.PGDRILL_BENCH_CPU, JSON.stringify(process.cpuUsage())));\n");
  const what = a.scale ? `pgbench scale ${a.scale}` : `${a.tables} tables`;
  console.error(`paired runs on ${what}: ${a.runs} round(s) of ${a.variants.map((v) => v.name).join(', ')}`);
  await mkdir(join(root, 'src'));
  const source = await startSource(join(root, 'src'), a.scale, a.tables);
  const runs: Run[] = [];
  try {
    const url = `postgresql://postgres@/bench?host=${encodeURIComponent(source.socketDir)}&port=${source.port}`;
    for (let round = 0; round < a.runs; round++) {
      for (let i = 0; i < a.variants.length; i++) {
        const v = a.variants[(i + round) % a.variants.length]!;
        const work = await mkdtemp(join(root, `${v.name}-`));
        try {
          const r = { variant: v.name, round, ...(await runOnce(v, url, work, preload)) };
          runs.push(r);
          console.error(`  round ${round + 1} ${v.name}: ${r.seconds.toFixed(2)} s, pgdrill CPU ${r.cpu.toFixed(2)} s, peak RSS ${(r.peakRss / 1048576).toFixed(0)} MB; stages ${Object.entries(r.stages).map(([k, x]) => `${k} ${x.toFixed(1)}`).join(', ')}`);
        } finally {
          await rm(work, { recursive: true, force: true });
        }
      }
    }
  } finally {
    await source.stop();
    await rm(root, { recursive: true, force: true });
  }
  const base = a.variants[0]!.name;
  const of = (n: string) => runs.filter((r) => r.variant === n);
  const pairs = (n: string, k: 'seconds' | 'cpu' | 'peakRss') => of(n).map((r) => r[k] / of(base).find((b) => b.round === r.round)![k]);
  console.log(`| ${what} | wall (median) | pgdrill CPU (median) | peak RSS (median, max) | paired wall / ${base} | paired CPU / ${base} |`);
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const v of a.variants) {
    const rs = of(v.name);
    const mb = (x: number) => `${(x / 1048576).toFixed(0)} MB`;
    console.log(`| ${v.name} (\`${v.argv.join(' ')}\`) | ${median(rs.map((r) => r.seconds)).toFixed(2)} s | ${median(rs.map((r) => r.cpu)).toFixed(2)} s | ${mb(median(rs.map((r) => r.peakRss)))}, ${mb(Math.max(...rs.map((r) => r.peakRss)))} | ${median(pairs(v.name, 'seconds')).toFixed(3)} | ${median(pairs(v.name, 'cpu')).toFixed(3)} |`);
  }
  // Where the time goes, per stage (report.stages), and each round's paired wall ratio: the spread, not only the median.
  const names = [...new Set(runs.flatMap((r) => Object.keys(r.stages)))];
  console.log(`\n| stage medians (s) | ${names.join(' | ')} |`);
  console.log(`|---|${names.map(() => '---:').join('|')}|`);
  for (const v of a.variants) console.log(`| ${v.name} | ${names.map((n) => median(of(v.name).map((r) => r.stages[n] ?? 0)).toFixed(2)).join(' | ')} |`);
  for (const v of a.variants.slice(1)) console.log(`\npaired wall ${v.name} / ${base}, per round: ${pairs(v.name, 'seconds').map((x) => x.toFixed(2)).join(', ')}`);
}

await main();
