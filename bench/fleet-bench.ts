/**
 * `npm run bench -- fleet`: a simulated fleet on one machine standing in for many — small databases across 2 source
 * clusters, drilled by 1, 2 and 3 `pgdrill worker` processes (each with its own --out and state directory) through
 * one coordination database. Per worker count: drills per hour and the p95 drill duration, and the scaling ratio
 * against one worker, measured side by side in one run; then the queue's own overhead per job, two ways: a no-op
 * job's round trip through pg-boss (send, fetch, complete), and, in the rounds, the gap a worker spends between one
 * drill's end and its next drill's start (record, complete, fetch). Not part of the tests.
 *
 *   npm run bench -- fleet [--databases 200] [--workers 1,2,3] [--window SECONDS] [--rows 1000] [--json FILE]
 *
 * `--workers 3,2,1:100`: a round may drill only the first N databases (here: 1 worker, 100 databases), for a
 * worker count whose full pass would take too long. Each round gets a fresh coordination database (`fleet sync` of
 * its fleet file: every database due at once), starts its workers, and ends when every database was drilled once —
 * or, with --window, after that many seconds (drills per hour then counts the drills finished in the window).
 * Workers are stopped with SIGTERM. Each round's row is printed as soon as it ends.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SandboxCluster } from '../src/sandbox/cluster.js';
import { median } from './timing.js';
import {
  gapsBetweenDrills, percentile, sql, startCluster, startSources, startWorker, stopWorkers, syncedQueue, waitForResults,
  writeFleetFile, type SimDatabase, type SimWorker,
} from './fleet-sim.js';

interface RoundSpec { readonly workers: number; readonly databases: number | null }

interface Args {
  databases: number;
  rounds: RoundSpec[];
  windowS: number | null;
  rows: number;
  json: string | null;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { databases: 200, rounds: [1, 2, 3].map((workers) => ({ workers, databases: null })), windowS: null, rows: 1000, json: null };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = () => argv[++i] ?? '';
    if (k === '--databases') a.databases = Number(v());
    else if (k === '--workers') a.rounds = v().split(',').map((s) => ({ workers: Number(s.split(':')[0]), databases: s.includes(':') ? Number(s.split(':')[1]) : null }));
    else if (k === '--window') a.windowS = Number(v());
    else if (k === '--rows') a.rows = Number(v());
    else if (k === '--json') a.json = v();
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

/** One round's figures. */
interface Round {
  readonly workers: number;
  readonly databases: number;
  readonly drills: number;
  readonly failed: number;
  readonly wallS: number;
  readonly drillsPerHour: number;
  readonly p50DrillS: number;
  readonly p95DrillS: number;
  /** Median and p95 of the gaps between a worker's drills, ms (fleet-sim.ts gapsBetweenDrills). */
  readonly gapP50Ms: number;
  readonly gapP95Ms: number;
}

/** One round: a fresh coordination database, `fleet sync`, `n` workers until every database was drilled once (or the window). */
async function round(coord: SandboxCluster, all: readonly SimDatabase[], work: string, spec: RoundSpec, a: Args): Promise<Round> {
  const dbs = all.slice(0, spec.databases ?? all.length);
  const tag = `w${spec.workers}_d${dbs.length}`;
  const db = `coord_${tag}_${Date.now()}`;
  const queue = await syncedQueue(coord, db, await writeFleetFile(join(work, `fleet-${tag}.yaml`), dbs));
  const workers: SimWorker[] = [];
  const t0 = Date.now();
  try {
    for (let i = 0; i < spec.workers; i++) workers.push(await startWorker(queue, join(work, tag), `w${i}`));
    const rows = await waitForResults(coord, db, dbs.length, a.windowS === null ? Infinity : t0 + a.windowS * 1000);
    const wallS = (Date.now() - t0) / 1000;
    const durations = rows.map((r) => r.durationMs / 1000);
    const gaps = gapsBetweenDrills(rows);
    return {
      workers: spec.workers, databases: dbs.length, drills: rows.length, failed: rows.filter((r) => r.verdict !== 'pass').length, wallS,
      drillsPerHour: (rows.length / (a.windowS ?? wallS)) * 3600, p50DrillS: median(durations), p95DrillS: percentile(durations, 95),
      gapP50Ms: median(gaps), gapP95Ms: percentile(gaps, 95),
    };
  } finally {
    await stopWorkers(workers);
  }
}

/** The queue's own cost per job: a no-op job sent, fetched and completed through pg-boss, `n` times in a row. */
async function queueOverhead(coord: SandboxCluster, n: number): Promise<{ medianMs: number; p95Ms: number; n: number }> {
  const db = `coord_noop_${Date.now()}`;
  await sql(coord, 'postgres', `CREATE DATABASE ${db}`);
  const { default: PgBoss } = await import('pg-boss');
  const c = coord.connection(db);
  const boss = new PgBoss({ host: String(c.host), port: Number(c.port), user: 'postgres', database: db, schema: 'bench_queue', supervise: false, schedule: false });
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

const row = (r: Round, base: number) =>
  `| ${r.workers} | ${r.databases} | ${r.drills} | ${r.failed} | ${r.wallS.toFixed(0)} s | ${r.drillsPerHour.toFixed(0)} | ${r.p50DrillS.toFixed(1)} s | ${r.p95DrillS.toFixed(1)} s | ${(r.drillsPerHour / base).toFixed(2)} | ${r.gapP50Ms.toFixed(0)} / ${r.gapP95Ms.toFixed(0)} ms |`;

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const work = await mkdtemp(join(tmpdir(), 'pgdrill-fleet-bench-'));
  const parent = join(work, 'clusters');
  await mkdir(parent);
  const clusters: SandboxCluster[] = [];
  try {
    console.error(`${a.databases} databases across 2 source clusters…`);
    const { clusters: sources, databases } = await startSources(parent, a.databases, a.rows);
    clusters.push(...sources);
    const coord = await startCluster(parent, 'fleet-bench-coordination');
    clusters.push(coord);
    const rounds: Round[] = [];
    console.log(`| workers | databases | drills | not passed | wall | drills per hour | p50 drill | p95 drill | scaling vs 1 worker | gap between drills p50 / p95 |`);
    console.log(`|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`);
    for (const spec of a.rounds) {
      console.error(`${spec.workers} worker(s), ${spec.databases ?? a.databases} databases… (${new Date().toISOString()})`);
      const r = await round(coord, databases, work, spec, a);
      rounds.push(r);
      console.log(row(r, rounds.find((x) => x.workers === 1)?.drillsPerHour ?? rounds[0]!.drillsPerHour));
    }
    const overhead = await queueOverhead(coord, 200);
    console.log(`\nscaling vs 1 worker is against the first 1-worker round (or the first round when there is none).`);
    console.log(`queue overhead per job (pg-boss send + fetch + complete of a no-op job, ${overhead.n} in a row): median ${overhead.medianMs.toFixed(1)} ms, p95 ${overhead.p95Ms.toFixed(1)} ms`);
    if (a.json) await writeFile(a.json, JSON.stringify({ args: a, rounds, overhead }, null, 2));
  } finally {
    for (const c of clusters.reverse()) await c.stop().catch(() => {});
    await rm(work, { recursive: true, force: true });
  }
}

await main();
