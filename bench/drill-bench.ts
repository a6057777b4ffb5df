/**
 * `npm run bench`: how long a pgdrill drill takes against (a) the manual procedure of the closeout record
 * (bench/manual-drill.sh) and (c) the bare lower bound, initdb + `pg_dump | psql` (bench/bare-pipe.sh), on pgbench
 * sources; pgdrill's own peak RSS; and the CPU seconds the whole machine spent on each run. Not part of the tests. The plain-dump scanner has its own micro-benchmark
 * (bench/scanner-throughput.ts).
 *
 *   npm run bench [-- --scales 10,50] [--large] [--runs 3] [--variants a,a_fast,b,c] [--keep-work] [--json FILE]
 *
 * Each scale gets a fresh source cluster (`pgbench -i -s N`). Runs alternate between the variants (the order
 * rotates every round) so that a slow moment of the machine does not land on one variant only; each variant
 * runs `--runs` times per scale and the table shows medians. The paired ratios below it (each round's b over the
 * same round's a, a′ and c) are the robust figure when the machine's speed drifts during the bench.
 *
 * Variants:
 *   a       the manual procedure with PostgreSQL's default settings, as the record's operator ran it
 *   a_fast  the same procedure with durability off in the throwaway cluster (pgdrill's sandbox settings)
 *   b       `pgdrill run --source … --json` (plain format, exact counts, every check of a default drill)
 *   c       initdb + start with the sandbox settings, `pg_dump | psql`, stop + delete
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { localToolchain } from '../src/toolchain/toolchain.js';
import type { Report } from '../src/report/model.js';
import { SandboxCluster } from '../src/sandbox/cluster.js';
import { startBenchSource } from './bench-source.js';
import { median } from './timing.js';

type Variant = 'a' | 'a_fast' | 'b' | 'c';
const ROOT = resolve(import.meta.dirname, '..');

interface Args {
  scales: number[];
  runs: number;
  variants: Variant[];
  keepWork: boolean;
  json: string | null;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { scales: [10, 50], runs: 3, variants: ['a', 'a_fast', 'b', 'c'], keepWork: false, json: null };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = () => argv[++i] ?? '';
    if (k === '--scales') a.scales = v().split(',').map(Number);
    else if (k === '--large') a.scales.push(200);
    else if (k === '--runs') a.runs = Number(v());
    else if (k === '--variants') a.variants = v().split(',') as Variant[];
    else if (k === '--keep-work') a.keepWork = true;
    else if (k === '--json') a.json = v();
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

interface RunResult {
  readonly variant: Variant;
  readonly scale: number;
  readonly seconds: number;
  /** Phase marks of the shell variants, or pgdrill's stage durations (seconds). */
  readonly phases: Record<string, number>;
  readonly peakRss: number | null;
  readonly dumpBytes: number | null;
  /** CPU seconds the whole machine spent busy during the run (/proc/stat: user+nice+system+irq+softirq). */
  readonly cpuSeconds: number | null;
  /** The round it ran in (0-based): runs of one round are adjacent in time. */
  readonly round?: number;
}

/** Busy CPU time of the whole machine so far, in seconds (Linux /proc/stat), or null elsewhere. */
async function machineBusySeconds(): Promise<number | null> {
  const stat = await readFile('/proc/stat', 'utf8').catch(() => null);
  const f = stat?.split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number);
  if (!f || f.length < 7) return null;
  const [user, nice, system, , , irq, softirq] = f as [number, number, number, number, number, number, number];
  return (user + nice + system + irq + softirq) / 100; // USER_HZ
}

/** Spawn and wait; returns wall seconds and stdout. Throws on a non-zero exit (a failed run is not a timing). */
function timed(cmd: string, args: string[], env: Record<string, string>, cwd: string): Promise<{ seconds: number; stdout: string }> {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', rej);
    child.on('close', (code) => {
      const seconds = (performance.now() - t0) / 1000;
      if (code !== 0) rej(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
      else res({ seconds, stdout });
    });
  });
}

function phasesOf(stdout: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of stdout.matchAll(/^phase (\S+) ([\d.]+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

async function runVariant(v: Variant, scale: number, source: SandboxCluster, pgbin: string, workRoot: string): Promise<RunResult> {
  const c0 = await machineBusySeconds();
  const r = await runVariantTimed(v, scale, source, pgbin, workRoot);
  const c1 = await machineBusySeconds();
  return { ...r, cpuSeconds: c0 === null || c1 === null ? null : c1 - c0 };
}

async function runVariantTimed(v: Variant, scale: number, source: SandboxCluster, pgbin: string, workRoot: string): Promise<Omit<RunResult, 'cpuSeconds'>> {
  const work = await mkdtemp(join(workRoot, `${v}-`));
  await chmod(work, 0o755); // the throwaway cluster's OS user reads the dump and creates its directories here
  const srcEnv = { PGHOST: source.socketDir, PGPORT: String(source.port), PGUSER: 'postgres', PGDATABASE: 'bench', PGBIN: pgbin, WORK: work };
  try {
    if (v === 'a' || v === 'a_fast') {
      const r = await timed('bash', [join(ROOT, 'bench/manual-drill.sh')], { ...srcEnv, FAST: v === 'a_fast' ? '1' : '0' }, work);
      return { variant: v, scale, seconds: r.seconds, phases: phasesOf(r.stdout), peakRss: null, dumpBytes: null };
    }
    if (v === 'c') {
      const r = await timed('bash', [join(ROOT, 'bench/bare-pipe.sh')], srcEnv, work);
      return { variant: v, scale, seconds: r.seconds, phases: phasesOf(r.stdout), peakRss: null, dumpBytes: null };
    }
    const url = `postgresql://postgres@/bench?host=${encodeURIComponent(source.socketDir)}&port=${source.port}`;
    // node's flags as on the bundle's bin line (`node --expose-gc`: the CLI's GC devices, docs/performance.md)
    const r = await timed(process.execPath, ['--expose-gc', join(ROOT, 'dist/pgdrill.mjs'), 'run', '--source', url, '--out', work, '--json'], {}, work);
    const report = JSON.parse(r.stdout) as Report;
    if (report.status !== 'PASS') throw new Error(`pgdrill run did not PASS: ${report.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`).join('; ')}`);
    const phases: Record<string, number> = {};
    for (const s of report.stages) phases[s.name] = (phases[s.name] ?? 0) + s.duration_ms / 1000;
    return { variant: v, scale, seconds: r.seconds, phases, peakRss: report.run.peak_rss_bytes ?? null, dumpBytes: report.backup.size_bytes };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '—');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '—');
const mb = (x: number | null) => (x === null ? '—' : `${(x / 1024 / 1024).toFixed(0)} MB`);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const bins = await localToolchain();
  const pgbin = bins.server.bindir;
  const workRoot = await mkdtemp(join(tmpdir(), 'pgdrill-bench-'));
  await chmod(workRoot, 0o755);
  const results: RunResult[] = [];
  console.error(`pgdrill bench: scales ${args.scales.join(', ')}, ${args.runs} run(s) per variant (${args.variants.join(', ')}), work in ${workRoot}`);
  try {
    for (const scale of args.scales) {
      await mkdir(join(workRoot, 'sources'), { recursive: true });
      console.error(`scale ${scale}: pgbench -i …`);
      const source = await startBenchSource(scale, join(workRoot, 'sources'), pgbin, `bench-source-${scale}`);
      try {
        for (let round = 0; round < args.runs; round++) {
          const order = args.variants.map((_, i) => args.variants[(i + round) % args.variants.length]!);
          for (const v of order) {
            const r = { ...(await runVariant(v, scale, source, pgbin, workRoot)), round };
            results.push(r);
            console.error(`  scale ${scale} round ${round + 1} ${v}: ${r.seconds.toFixed(2)} s, machine CPU ${r.cpuSeconds?.toFixed(1) ?? '—'} s${r.peakRss ? `, peak RSS ${mb(r.peakRss)}` : ''}  ${JSON.stringify(Object.fromEntries(Object.entries(r.phases).map(([k, x]) => [k, Number(x.toFixed(2))])))}`);
          }
        }
      } finally {
        await source.stop();
      }
    }
  } finally {
    if (!args.keepWork) await rm(workRoot, { recursive: true, force: true });
  }
  // The table.
  const lines: string[] = [];
  lines.push('| scale | dump | (a) manual | (a′) manual, durability off | (b) pgdrill | (c) bare pipe | b/a | b/a′ | b/c | pgdrill peak RSS |');
  lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const scale of args.scales) {
    const of = (v: Variant) => results.filter((r) => r.scale === scale && r.variant === v);
    const m = (v: Variant) => median(of(v).map((r) => r.seconds));
    const rss = of('b').map((r) => r.peakRss).filter((x): x is number => x !== null);
    const dump = of('b')[0]?.dumpBytes ?? null;
    lines.push(`| ${scale} | ${mb(dump)} | ${f1(m('a'))} s | ${f1(m('a_fast'))} s | ${f1(m('b'))} s | ${f1(m('c'))} s | ${f2(m('b') / m('a'))} | ${f2(m('b') / m('a_fast'))} | ${f2(m('b') / m('c'))} | ${rss.length ? `${mb(median(rss))} (max ${mb(Math.max(...rss))})` : '—'} |`);
  }
  lines.push('');
  // Each round's b over the same round's other variant: runs of one round are adjacent in time, so a machine whose
  // speed drifts during the bench moves both sides of a pair together (the medians above can drift apart).
  const paired = (scale: number, v: Variant) => {
    const of = (x: Variant) => new Map(results.filter((r) => r.scale === scale && r.variant === x).map((r) => [r.round, r.seconds]));
    const b = of('b');
    const other = of(v);
    return [...b].filter(([k]) => other.has(k)).map(([k, x]) => x / other.get(k)!);
  };
  lines.push('Paired ratios (each round\'s b over the same round\'s run; median, then every round): ' + args.scales.map((scale) =>
    `scale ${scale}: ${(['a', 'a_fast', 'c'] as const).filter((v) => args.variants.includes(v) && args.variants.includes('b')).map((v) => {
      const xs = paired(scale, v);
      return `b/${v === 'a_fast' ? 'a′' : v} ${f2(median(xs))} (${xs.map(f2).join(', ')})`;
    }).join(', ')}`).join('; '));
  lines.push('Machine CPU seconds per run (medians; all processes: pg_dump, both servers, psql, pgdrill): ' + args.scales.map((scale) =>
    `scale ${scale}: ${args.variants.map((v) => `${v} ${f1(median(results.filter((r) => r.scale === scale && r.variant === v && r.cpuSeconds !== null).map((r) => r.cpuSeconds!)))}`).join(', ')}`).join('; '));
  lines.push('Medians of pgdrill\'s stages (s): ' + args.scales.map((scale) => {
    const bs = results.filter((r) => r.scale === scale && r.variant === 'b');
    const names = [...new Set(bs.flatMap((r) => Object.keys(r.phases)))];
    return `scale ${scale}: ${names.map((n) => `${n} ${f2(median(bs.map((r) => r.phases[n] ?? 0)))}`).join(', ')}`;
  }).join('; '));
  for (const v of ['a', 'a_fast', 'c'] as const) {
    lines.push(`Medians of ${v}'s phase marks (s since start): ` + args.scales.map((scale) => {
      const rs = results.filter((r) => r.scale === scale && r.variant === v);
      const names = [...new Set(rs.flatMap((r) => Object.keys(r.phases)))];
      return `scale ${scale}: ${names.map((n) => `${n} ${f2(median(rs.map((r) => r.phases[n] ?? 0)))}`).join(', ')}`;
    }).join('; '));
  }
  console.log(lines.join('\n'));
  if (args.json) await writeFile(args.json, JSON.stringify({ args, results }, null, 2));
}

await main();
