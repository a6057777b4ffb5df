/**
 * The simulated fleet the fleet benches share (bench/fleet-bench.ts, bench/fleet-acceptance.ts): source clusters
 * holding many one-table databases, a coordination database per round, `pgdrill` and `pgdrill worker` processes
 * run as a user runs them, and the figures read back from the results store. Not part of the tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { localToolchain } from '../src/toolchain/toolchain.js';
import { resolveSandboxUser } from '../src/exec/os-user.js';
import { runProcess } from '../src/exec/run-process.js';
import { silentLogger } from '../src/logger.js';
import { SandboxCluster } from '../src/sandbox/cluster.js';
import { CLI, CLI_NODE_FLAGS, runCli } from '../test/helpers/cli.js';


/** The p-th percentile (nearest rank) of `xs`; NaN for none. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : NaN;
}

/** Run `pgdrill ARGS` as its bin line does (the tests' one spawn-and-collect); resolves with its exit code and output. */
export function pgdrill(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runCli(args, { env: Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined)) });
}

/** A cluster of the bench, superuser `postgres`, started as the tests start theirs. */
export async function startCluster(parent: string, label: string): Promise<SandboxCluster> {
  return SandboxCluster.start({ bins: await localToolchain(), parentDir: parent, osUser: await resolveSandboxUser(), logger: silentLogger, superuser: 'postgres', label });
}

/** Run SQL on a cluster's database through psql, stopping at the first error; its unaligned output. */
export async function sql(c: SandboxCluster, db: string, text: string): Promise<string> {
  const bins = await localToolchain();
  const r = await runProcess({ bin: bins.path('psql'), args: ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-c', text], env: c.env(db), stdout: 'capture' });
  return r.stdout;
}

/** A URL of a cluster's database for the `postgres` superuser (no password: the socket trusts it). */
export const urlFor = (c: SandboxCluster, db: string): string => c.url(db).replace('pgdrill@', 'postgres@');

/** One database of the simulated fleet: `db<i>` on source cluster `i % 2`. */
export interface SimDatabase { readonly name: string; readonly side: number; readonly url: string }

/** Two source clusters holding `n` databases between them (db0, db2, … on the first), each a copy of a one-table template. */
export async function startSources(parent: string, n: number, rows: number): Promise<{ clusters: SandboxCluster[]; databases: SimDatabase[] }> {
  const clusters: SandboxCluster[] = [];
  for (const side of [0, 1]) {
    const c = await startCluster(parent, `fleet-bench-source-${side}`);
    clusters.push(c);
    await sql(c, 'postgres', 'CREATE DATABASE tmpl');
    await sql(c, 'tmpl', `CREATE TABLE item (id int PRIMARY KEY, name text, price numeric); INSERT INTO item SELECT g, md5(g::text), g * 1.5 FROM generate_series(1, ${rows}) g`);
  }
  const databases: SimDatabase[] = [];
  for (let i = 0; i < n; i++) {
    const c = clusters[i % 2]!;
    await sql(c, 'postgres', `CREATE DATABASE db${i} TEMPLATE tmpl`);
    databases.push({ name: `db${i}`, side: i % 2, url: urlFor(c, `db${i}`) });
  }
  return { clusters, databases };
}

/** Write a fleet file of `databases` (`header`: YAML before `databases:`, e.g. limits); returns its path. */
export async function writeFleetFile(path: string, databases: readonly SimDatabase[], header = ''): Promise<string> {
  await writeFile(path, `${header}databases:\n${databases.map((d) => `  - { name: ${d.name}, source: "${d.url}", schedule: daily }`).join('\n')}\n`);
  return path;
}

/** A fresh coordination database on `coord`, and `fleet sync` of the fleet file into it; returns its queue URL. */
export async function syncedQueue(coord: SandboxCluster, name: string, fleetFile: string): Promise<string> {
  await sql(coord, 'postgres', `CREATE DATABASE ${name}`);
  const queue = urlFor(coord, name);
  const sync = await pgdrill(['fleet', 'sync', '--fleet', fleetFile, '--queue', queue]);
  if (sync.code !== 0) throw new Error(`fleet sync exited ${sync.code}: ${sync.stderr}`);
  return queue;
}

/** A `pgdrill worker` process with its own out and state directories under `dir`, its stderr kept in `log`. */
export interface SimWorker {
  readonly name: string;
  readonly out: string;
  readonly state: string;
  readonly proc: ChildProcess;
  log: string;
  /** Resolves with the exit code (null: ended by a signal). */
  readonly exited: Promise<number | null>;
}

/** Options of startWorker. */
export interface SimWorkerOptions {
  /** More flags (--tick, --poll, --maintenance). */
  readonly extra?: readonly string[];
  /** Give the worker its own initdb template cache (`<name>-cache`, PGDRILL_CACHE_DIR), as a worker on its own machine has; default: the default cache. */
  readonly ownCache?: boolean;
}

/** Start a worker (`--concurrency 1`) with its out and state directories `<dir>/<name>-out`, `-state`. PGDRILL_DEBUG=1 logs its jobs. */
export async function startWorker(queue: string, dir: string, name: string, o: SimWorkerOptions = {}): Promise<SimWorker> {
  const out = join(dir, `${name}-out`);
  const state = join(dir, `${name}-state`);
  await mkdir(state, { recursive: true, mode: 0o700 });
  const cache = o.ownCache ? { PGDRILL_CACHE_DIR: join(dir, `${name}-cache`) } : {};
  const proc = spawn(process.execPath, [...CLI_NODE_FLAGS, CLI, 'worker', '--queue', queue, '--out', out, '--state-dir', state, '--concurrency', '1', ...(o.extra ?? [])], {
    env: { ...process.env, PGDRILL_DEBUG: '1', ...cache }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const w: SimWorker = { name, out, state, proc, log: '', exited: new Promise((r) => proc.once('close', (code) => r(code))) };
  proc.stderr?.on('data', (d) => (w.log += d));
  return w;
}

/** Whether a child process is still running. */
export const running = (p: ChildProcess): boolean => p.exitCode === null && p.signalCode === null;

/** Stop workers with SIGTERM and wait for them to exit. */
export async function stopWorkers(workers: readonly SimWorker[]): Promise<void> {
  for (const w of workers) if (running(w.proc)) w.proc.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exited));
}

/** A row of pgdrill_fleet.results, times in ms since the epoch. */
export interface ResultRow { readonly database: string; readonly worker: string; readonly verdict: string; readonly exitCode: number | null; readonly startedMs: number; readonly finishedMs: number; readonly durationMs: number }

/** Every result recorded in the coordination database `db` (empty when its results schema is not there yet). */
export async function readResults(coord: SandboxCluster, db: string): Promise<ResultRow[]> {
  const out = await sql(coord, db, `SELECT coalesce(json_agg(json_build_object('database', database_key, 'worker', worker, 'verdict', verdict, 'exitCode', exit_code,
    'startedMs', extract(epoch FROM started_at) * 1000, 'finishedMs', extract(epoch FROM finished_at) * 1000, 'durationMs', duration_ms) ORDER BY started_at), '[]')
    FROM pgdrill_fleet.results`).catch(() => '[]');
  return JSON.parse(out) as ResultRow[];
}

/** Wait until at least `want` results are recorded (or `until` says stop, or the deadline passes); polls every 2 s. */
export async function waitForResults(coord: SandboxCluster, db: string, want: number, deadline = Infinity): Promise<ResultRow[]> {
  for (;;) {
    const rows = await readResults(coord, db);
    if (rows.length >= want || Date.now() >= deadline) return rows;
    await new Promise((res) => setTimeout(res, 2000));
  }
}

/**
 * The queue's cost per job as the workers saw it: on each worker, the gaps between one drill's end and its next
 * drill's start (record the result, complete the job, fetch the next, write its config) — the time a slot is not
 * drilling while jobs are waiting. Gaps longer than `cap` ms (an idle slot polling an empty queue) are left out.
 */
export function gapsBetweenDrills(rows: readonly ResultRow[], cap = 10_000): number[] {
  const byWorker = new Map<string, ResultRow[]>();
  for (const r of rows) byWorker.set(r.worker, [...(byWorker.get(r.worker) ?? []), r]);
  const gaps: number[] = [];
  for (const rs of byWorker.values()) {
    const s = [...rs].sort((x, y) => x.startedMs - y.startedMs);
    for (let i = 1; i < s.length; i++) {
      const g = s[i]!.startedMs - s[i - 1]!.finishedMs;
      if (g >= 0 && g <= cap) gaps.push(g);
    }
  }
  return gaps;
}
