/**
 * `npm run bench -- fleet`: a simulated fleet on one machine standing in for many — small databases across 2 source
 * clusters, drilled by 1, 2 and 3 `pgdrill worker` processes (each with its own --out and state directory) through
 * one coordination database. Per worker count: drills per hour and the p95 drill duration, and the scaling ratio
 * against one worker, measured side by side in one run; then the queue's own overhead per job (a no-op job's round
 * trip through pg-boss: send, fetch, complete). Not part of the tests.
 *
 *   npm run bench -- fleet [--databases 200] [--workers 1,2,3] [--window SECONDS] [--rows 1000] [--json FILE]
 *
 * Each round gets a fresh coordination database (`fleet sync` of the same fleet file: every database due at once),
 * starts its workers, and ends when every database was drilled once — or, with --window, after that many seconds
 * (drills per hour then counts the drills finished in the window). Workers are stopped with SIGTERM. Every database
 * is a copy of one template (CREATE DATABASE … TEMPLATE: cheap) with one table of --rows rows.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { localToolchain } from '../src/toolchain/toolchain.js';
import { resolveSandboxUser } from '../src/exec/os-user.js';
import { runProcess } from '../src/exec/run-process.js';
import { silentLogger } from '../src/logger.js';
import { SandboxCluster } from '../src/sandbox/cluster.js';
import { median } from './timing.js';
import { runCli as pgdrill } from '../test/helpers/cli.js';

const ROOT = resolve(import.meta.dirname, '..');
const CLI = join(ROOT, 'dist/pgdrill.mjs');

interface Args {
  databases: number;
  workers: number[];
  windowS: number | null;
  rows: number;
  json: string | null;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { databases: 200, workers: [1, 2, 3], windowS: null, rows: 1000, json: null };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = () => argv[++i] ?? '';
    if (k === '--databases') a.databases = Number(v());
    else if (k === '--workers') a.workers = v().split(',').map(Number);
    else if (k === '--window') a.windowS = Number(v());
    else if (k === '--rows') a.rows = Number(v());
    else if (k === '--json') a.json = v();
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

/** The p-th percentile (nearest rank) of `xs`; NaN for none. */
function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : NaN;
}

/** Two source clusters holding `n` databases between them, each a copy of a template with one table. */
async function startSources(parent: string, n: number, rows: number): Promise<{ clusters: SandboxCluster[]; urls: string[] }> {
  const bins = await localToolchain();
  const osUser = await resolveSandboxUser();
  const clusters: SandboxCluster[] = [];
  const urls: string[] = [];
  for (const side of [0, 1]) {
    const c = await SandboxCluster.start({ bins, parentDir: parent, osUser, logger: silentLogger, superuser: 'postgres', label: `fleet-bench-source-${side}` });
    clusters.push(c);
    const psql = (db: string, sql: string) => runProcess({ bin: bins.path('psql'), args: ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql], env: c.env(db) });
    await psql('postgres', 'CREATE DATABASE tmpl');
    await psql('tmpl', `CREATE TABLE item (id int PRIMARY KEY, name text, price numeric); INSERT INTO item SELECT g, md5(g::text), g * 1.5 FROM generate_series(1, ${rows}) g`);
    for (let i = side; i < n; i += 2) {
      await psql('postgres', `CREATE DATABASE db${i} TEMPLATE tmpl`);
      urls.push(c.url(`db${i}`).replace('pgdrill@', 'postgres@'));
    }
  }
  return { clusters, urls };
}

/** One round's figures. */
interface Round {
  readonly workers: number;
  readonly drills: number;
  readonly failed: number;
  readonly wallS: number;
  readonly drillsPerHour: number;
  readonly p50DrillS: number;
  readonly p95DrillS: number;
}

/** Wait until `want` results are recorded, or the deadline passes; returns the results' durations and verdicts. */
async function waitForResults(client: pg.Client, want: number, deadline: number): Promise<{ duration_ms: string; verdict: string }[]> {
  for (;;) {
    const r = await client.query<{ duration_ms: string; verdict: string }>('SELECT duration_ms, verdict FROM pgdrill_fleet.results').catch(() => ({ rows: [] }));
    if (r.rows.length >= want || Date.now() >= deadline) return r.rows;
    await new Promise((res) => setTimeout(res, 2000));
  }
}

/** Stop workers with SIGTERM and wait for them to exit. */
async function stopWorkers(workers: readonly ChildProcess[]): Promise<void> {
  await Promise.all(workers.map((w) => new Promise<void>((res) => {
    if (w.exitCode !== null || w.signalCode !== null) return res();
    w.once('exit', () => res());
    w.kill('SIGTERM');
  })));
}

/** One round: a fresh coordination database, `fleet sync`, `n` workers until every database was drilled once (or the window). */
async function round(coord: SandboxCluster, fleetFile: string, work: string, n: number, a: Args): Promise<Round> {
  const db = `coord_w${n}_${Date.now()}`;
  await runProcess({ bin: (await localToolchain()).path('psql'), args: ['-X', '-q', '-c', `CREATE DATABASE ${db}`], env: coord.env('postgres') });
  const queue = coord.url(db).replace('pgdrill@', 'postgres@');
  const sync = await pgdrill(['fleet', 'sync', '--fleet', fleetFile, '--queue', queue]);
  if (sync.code !== 0) throw new Error(`fleet sync exited ${sync.code}: ${sync.stderr}`);
  const client = new pg.Client(coord.connection(db));
  await client.connect();
  const workers: ChildProcess[] = [];
  const t0 = Date.now();
  try {
    for (let i = 0; i < n; i++) {
      const dir = join(work, `w${n}-${i}`);
      await mkdir(join(dir, 'state'), { recursive: true, mode: 0o700 });
      workers.push(spawn(process.execPath, ['--expose-gc', CLI, 'worker', '--queue', queue, '--out', join(dir, 'out'), '--state-dir', join(dir, 'state'), '--concurrency', '1'], { stdio: 'ignore' }));
    }
    const deadline = a.windowS === null ? Infinity : t0 + a.windowS * 1000;
    const rows = await waitForResults(client, a.databases, deadline);
    const wallS = (Date.now() - t0) / 1000;
    const durations = rows.map((r) => Number(r.duration_ms) / 1000);
    return {
      workers: n, drills: rows.length, failed: rows.filter((r) => r.verdict !== 'pass').length, wallS,
      drillsPerHour: (rows.length / (a.windowS ?? wallS)) * 3600, p50DrillS: median(durations), p95DrillS: percentile(durations, 95),
    };
  } finally {
    await stopWorkers(workers);
    await client.end();
  }
}

/** The queue's own cost per job: a no-op job sent, fetched and completed through pg-boss, `n` times in a row. */
async function queueOverhead(coord: SandboxCluster, n: number): Promise<{ medianMs: number; p95Ms: number; n: number }> {
  const db = `coord_noop_${Date.now()}`;
  await runProcess({ bin: (await localToolchain()).path('psql'), args: ['-X', '-q', '-c', `CREATE DATABASE ${db}`], env: coord.env('postgres') });
  const { default: PgBoss } = await import('pg-boss');
  const c = coord.connection(db);
  const boss = new PgBoss({ host: String(c.host), port: Number(c.port), user: String(c.user), database: db, schema: 'bench_queue', supervise: false, schedule: false });
  boss.on('error', () => {});
  await boss.start();
  try {
    await boss.createQueue('noop');
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await boss.send('noop', { i });
      const [job] = await boss.fetch('noop');
      if (!job) throw new Error('the no-op job was not fetched');
      await boss.complete('noop', job.id);
      times.push(performance.now() - t0);
    }
    return { medianMs: median(times), p95Ms: percentile(times, 95), n };
  } finally {
    await boss.stop({ graceful: false });
  }
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const work = await mkdtemp(join(tmpdir(), 'pgdrill-fleet-bench-'));
  const parent = join(work, 'clusters');
  await mkdir(parent);
  const clusters: SandboxCluster[] = [];
  try {
    console.error(`${a.databases} databases across 2 source clusters…`);
    const { clusters: sources, urls } = await startSources(parent, a.databases, a.rows);
    clusters.push(...sources);
    const coord = await SandboxCluster.start({ bins: await localToolchain(), parentDir: parent, osUser: await resolveSandboxUser(), logger: silentLogger, superuser: 'postgres', label: 'fleet-bench-coordination' });
    clusters.push(coord);
    const fleetFile = join(work, 'fleet.yaml');
    await writeFile(fleetFile, `databases:\n${urls.map((u, i) => `  - { name: db${i}, source: "${u}", schedule: daily }`).join('\n')}\n`);
    const rounds: Round[] = [];
    for (const n of a.workers) {
      console.error(`${n} worker(s)…`);
      rounds.push(await round(coord, fleetFile, work, n, a));
    }
    const overhead = await queueOverhead(coord, 200);
    const base = rounds.find((r) => r.workers === 1)?.drillsPerHour ?? rounds[0]?.drillsPerHour ?? NaN;
    console.log(`| workers | drills | not passed | wall | drills per hour | p50 drill | p95 drill | scaling vs 1 worker |`);
    console.log(`|---:|---:|---:|---:|---:|---:|---:|---:|`);
    for (const r of rounds) {
      console.log(`| ${r.workers} | ${r.drills} | ${r.failed} | ${r.wallS.toFixed(0)} s | ${r.drillsPerHour.toFixed(0)} | ${r.p50DrillS.toFixed(1)} s | ${r.p95DrillS.toFixed(1)} s | ${(r.drillsPerHour / base).toFixed(2)} |`);
    }
    console.log(`\nqueue overhead per job (pg-boss send + fetch + complete of a no-op job, ${overhead.n} in a row): median ${overhead.medianMs.toFixed(1)} ms, p95 ${overhead.p95Ms.toFixed(1)} ms`);
    if (a.json) await writeFile(a.json, JSON.stringify({ args: a, rounds, overhead }, null, 2));
  } finally {
    for (const c of clusters.reverse()) await c.stop().catch(() => {});
    await rm(work, { recursive: true, force: true });
  }
}

await main();
