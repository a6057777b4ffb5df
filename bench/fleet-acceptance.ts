/**
 * `npm run bench -- fleet --acceptance`: issue 26's acceptance, at its full size, as an opt-in run (a 200-database
 * pass takes too long for the test suite, whose test/fleet/queue.test.ts runs the same scenario on 12):
 *
 * - 200 small databases across 2 source clusters; a coordination database on a third cluster whose queue role owns
 *   only its two schemas; `fleet sync`; 3 `pgdrill worker` processes, each with its own --out, state directory and
 *   initdb template cache (PGDRILL_CACHE_DIR), as on three machines.
 * - Period 1: every database drilled exactly once (the results store), never two drills of one database at once
 *   (their start and end times). Mid-pass one worker is killed with SIGKILL in the middle of a drill: that drill's
 *   processes stop, the database is drilled by another worker after the lease — not before the killed drill is gone —
 *   and a worker restarted on the dead one's directories cleans up; at the end `pgdrill cleanup` finds nothing left.
 * - Period 2: one source cluster stopped, a new period for its databases and some of the other's: `fleet status`
 *   shows exactly the stopped cluster's databases failing, the others OK.
 *
 *   npm run bench -- fleet --acceptance [--databases 200] [--workers 3] [--rows 100] [--lease 20s] [--sample 20] [--json FILE]
 *
 * Prints a PASS/FAIL line per check and a summary; exits 1 when any check failed. Not part of the tests.
 */
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SandboxCluster } from '../src/sandbox/cluster.js';
import { isAlive } from '../src/exec/process-liveness.js';
import { descendants, waitFor } from '../test/helpers/safety.js';
import { processesMentioning } from '../test/helpers/leftovers.js';
import { median } from './timing.js';
import {
  percentile, pgdrill, readResults, running, sql, startCluster, startSources, startWorker, stopWorkers, urlFor, waitForResults,
  writeFleetFile, type ResultRow, type SimDatabase, type SimWorker,
} from './fleet-sim.js';

interface Args { databases: number; workers: number; rows: number; lease: string; sample: number; json: string | null }

function parseArgs(argv: string[]): Args {
  const a: Args = { databases: 200, workers: 3, rows: 100, lease: '20s', sample: 20, json: null };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = () => argv[++i] ?? '';
    if (k === '--databases') a.databases = Number(v());
    else if (k === '--workers') a.workers = Number(v());
    else if (k === '--rows') a.rows = Number(v());
    else if (k === '--lease') a.lease = v();
    else if (k === '--sample') a.sample = Number(v());
    else if (k === '--json') a.json = v();
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

/** One verdict of the acceptance. */
interface Check { readonly name: string; readonly ok: boolean; readonly detail: string }

const checks: Check[] = [];
function check(name: string, ok: boolean, detail: string): void {
  checks.push({ name, ok, detail });
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}: ${detail}`);
}

/** The fleet under test. */
interface Fleet {
  readonly work: string;
  readonly sources: SandboxCluster[];
  readonly coord: SandboxCluster;
  readonly dbs: readonly SimDatabase[];
  readonly queue: string;
  readonly workers: SimWorker[];
  readonly workerFlags: readonly string[];
}

const COORD_DB = 'fleet';
const results = (f: Fleet) => readResults(f.coord, COORD_DB);
const workerId = (w: SimWorker) => `${hostname()}:${w.proc.pid}`;

/** Sources, the coordination database with a queue role that owns only its schemas, the fleet file, `fleet sync`. */
async function setUp(a: Args, work: string, clusters: SandboxCluster[]): Promise<Omit<Fleet, 'workers' | 'workerFlags'>> {
  const parent = join(work, 'clusters');
  await mkdir(parent);
  const { clusters: sources, databases } = await startSources(parent, a.databases, a.rows);
  clusters.push(...sources);
  const coord = await startCluster(parent, 'fleet-acceptance-coordination');
  clusters.push(coord);
  await sql(coord, 'postgres', 'CREATE ROLE fleet_queue LOGIN');
  await sql(coord, 'postgres', `CREATE DATABASE ${COORD_DB}`);
  await sql(coord, COORD_DB, 'REVOKE ALL ON SCHEMA public FROM PUBLIC; CREATE SCHEMA pgdrill_queue AUTHORIZATION fleet_queue; CREATE SCHEMA pgdrill_fleet AUTHORIZATION fleet_queue');
  const queue = urlFor(coord, COORD_DB).replace('postgres@', 'fleet_queue@');
  const fleetFile = await writeFleetFile(join(work, 'fleet.yaml'), databases, `limits: { lease: ${a.lease}, max_duration: 10m }\n`);
  const sync = await pgdrill(['fleet', 'sync', '--fleet', fleetFile, '--queue', queue, '--json']);
  const queued = sync.code === 0 ? (JSON.parse(sync.stdout) as { queued: string[] }).queued.length : 0;
  check('fleet sync queues every database', queued === a.databases, `exit ${sync.code}, ${queued} of ${a.databases} queued ${sync.code === 0 ? '' : sync.stderr.slice(-300)}`);
  return { work, sources, coord, dbs: databases, queue };
}

const spawnWorker = (f: Fleet, name: string) => startWorker(f.queue, f.work, name, { extra: f.workerFlags, ownCache: true });

/** What the SIGKILL left behind, and what became of its drill. */
interface Kill { readonly victim: SimWorker; readonly database: string; readonly jobId: string; readonly killedAt: number; readonly goneAt: number; readonly restarted: SimWorker }

/** The drill a worker is in now (started and not finished since `from` in its log), or null. */
function currentDrill(w: SimWorker, from: number): { database: string; jobId: string } | null {
  const log = w.log.slice(from);
  const started = [...log.matchAll(/: (\S+): run started \(job ([0-9a-f-]+)\)/g)].at(-1);
  if (!started) return null;
  const database = started[1]!;
  const after = log.slice(started.index + started[0].length);
  return new RegExp(`: ${database}: (PASS|FAIL|error|stopped)`).test(after) ? null : { database, jobId: started[2]! };
}

/** SIGKILL the first worker 1.5 s into a drill; wait for that drill's processes to end; restart a worker on its directories. */
async function killMidDrill(f: Fleet): Promise<Kill> {
  const victim = f.workers[0]!;
  for (;;) {
    const from = victim.log.length;
    const drill = await waitFor('the victim in a drill', async () => currentDrill(victim, from), 300_000, 100);
    const procs = await waitFor('its drill processes', async () => { const d = await descendants(victim.proc.pid!); return d.length ? d : null; }, 30_000, 50);
    await new Promise((r) => setTimeout(r, 1500));
    if (currentDrill(victim, from)?.jobId !== drill.jobId) continue; // it finished meanwhile: take the next one
    victim.proc.kill('SIGKILL');
    await victim.exited;
    const killedAt = Date.now();
    await waitFor('the killed drill\'s processes to end', async () => procs.every((p) => !isAlive(p)), 120_000, 100);
    const goneAt = Date.now();
    const restarted = await spawnWorker(f, victim.name);
    await waitFor('the restarted worker up', async () => /slot\(s\)/.test(restarted.log), 120_000, 100);
    const idx = f.workers.indexOf(victim);
    f.workers[idx] = restarted;
    console.error(`killed ${victim.name} (pid ${victim.proc.pid}) in ${drill.database}'s drill; its processes gone ${goneAt - killedAt} ms later`);
    return { victim, database: drill.database, jobId: drill.jobId, killedAt, goneAt, restarted };
  }
}

/** What the restarted worker's start found and removed, and that nothing of the killed drill runs or stays in its state directory. */
async function checkKillAftermath(k: Kill): Promise<void> {
  // What the start-up cleanup did; what it refused (other programs' clusters in the shared temp directory) only counted.
  const lines = k.restarted.log.split('\n').filter((l) => l.includes('cleanup:')).map((l) => l.replace(/^\w+ \+\d+ms: /, ''));
  const refused = lines.filter((l) => /^cleanup: refused /.test(l)).length;
  const cleaned = [...lines.filter((l) => !/^cleanup: refused /.test(l)), ...(refused ? [`${refused} item(s) not pgdrill's refused and left alone`] : [])];
  const running = await processesMentioning(`fleet-job-${k.jobId}`);
  const files = (await readdir(k.victim.state)).filter((n) => n.includes(k.jobId));
  check('SIGKILL mid-drill: the killed drill stopped and the restarted worker cleaned up', running.length === 0 && files.length === 0,
    `${k.database}'s drill processes ended ${((k.goneAt - k.killedAt) / 1000).toFixed(1)} s after the kill; processes of its job now: ${running.length}; its files in the state directory: ${files.length}; the restarted worker's start-up cleanup: ${cleaned.length ? cleaned.join(' | ') : 'nothing to do'}`);
}

/** Per database, its results sorted by start; true when no two overlap. */
function noOverlap(rows: readonly ResultRow[]): { ok: boolean; bad: string[] } {
  const by = new Map<string, ResultRow[]>();
  for (const r of rows) by.set(r.database, [...(by.get(r.database) ?? []), r]);
  const bad: string[] = [];
  for (const [db, rs] of by) {
    const s = [...rs].sort((x, y) => x.startedMs - y.startedMs);
    for (let i = 1; i < s.length; i++) if (s[i]!.startedMs < s[i - 1]!.finishedMs) bad.push(db);
  }
  return { ok: bad.length === 0, bad };
}

/** Period 1's verdicts: each database once, all passed, no overlap, the killed database redone elsewhere after the kill. */
function checkPeriod1(f: Fleet, rows: readonly ResultRow[], k: Kill, wallS: number): void {
  const count = new Map<string, number>();
  for (const r of rows) count.set(r.database, (count.get(r.database) ?? 0) + 1);
  const notOnce = f.dbs.filter((d) => count.get(d.name) !== 1).map((d) => `${d.name}×${count.get(d.name) ?? 0}`);
  check('period 1: every database drilled exactly once', notOnce.length === 0 && rows.length === f.dbs.length, `${rows.length} results for ${f.dbs.length} databases${notOnce.length ? `; not once: ${notOnce.slice(0, 10).join(', ')}` : ''}`);
  const notPassed = rows.filter((r) => r.verdict !== 'pass');
  check('period 1: every drill passed', notPassed.length === 0, notPassed.slice(0, 5).map((r) => `${r.database} ${r.verdict} exit ${r.exitCode}`).join(', ') || `${rows.length} pass`);
  const overlap = noOverlap(rows);
  check('period 1: no database drilled twice at once', overlap.ok, overlap.ok ? 'no two drills of one database overlap in time' : `overlaps: ${overlap.bad.join(', ')}`);
  const redo = rows.find((r) => r.database === k.database);
  const ok = !!redo && redo.verdict === 'pass' && redo.worker !== workerId(k.victim) && redo.startedMs >= k.goneAt;
  check('SIGKILL mid-drill: its database drilled by another worker, after the killed drill was gone', ok,
    redo ? `${k.database}: ${redo.verdict} by ${redo.worker} (the killed worker was ${workerId(k.victim)}), started ${((redo.startedMs - k.killedAt) / 1000).toFixed(1)} s after the kill (after the lease and a maintenance pass)` : `${k.database}: no result`);
  const durations = rows.map((r) => r.durationMs / 1000);
  const perWorker = [...new Set(rows.map((r) => r.worker))].map((w) => rows.filter((r) => r.worker === w).length);
  console.log(`period 1: ${rows.length} drills in ${wallS.toFixed(0)} s (${((rows.length / wallS) * 3600).toFixed(0)} drills per hour), p50 ${median(durations).toFixed(1)} s, p95 ${percentile(durations, 95).toFixed(1)} s; drills per worker process: ${perWorker.join(', ')}`);
}

/** Period 2: the second source cluster stopped; its databases and `sample` of the first's due again. */
async function unreachableSource(f: Fleet, a: Args, before: number): Promise<void> {
  await f.sources[1]!.stop();
  const down = f.dbs.filter((d) => d.side === 1).map((d) => d.name);
  const up = f.dbs.filter((d) => d.side === 0).slice(0, a.sample).map((d) => d.name);
  await sql(f.coord, COORD_DB, `UPDATE pgdrill_queue.fleet_database SET next_due = now() WHERE id IN (${[...down, ...up].map((n) => `'${n}'`).join(', ')})`);
  const rows = (await waitForResults(f.coord, COORD_DB, before + down.length + up.length, Date.now() + 3_600_000)).slice(before);
  const wrongDown = rows.filter((r) => down.includes(r.database) && (r.verdict !== 'error' || r.exitCode !== 4));
  const wrongUp = rows.filter((r) => !down.includes(r.database) && r.verdict !== 'pass');
  check('period 2: the stopped cluster\'s drills end in error (exit 4), the others pass', rows.length === down.length + up.length && !wrongDown.length && !wrongUp.length,
    `${rows.length} drills: ${rows.filter((r) => down.includes(r.database)).length} of the stopped cluster's (${wrongDown.length} not error/4), ${rows.filter((r) => !down.includes(r.database)).length} of the other's (${wrongUp.length} not pass)`);
  const status = await pgdrill(['fleet', 'status', '--queue', f.queue, '--json']);
  const states = new Map((JSON.parse(status.stdout || '{"databases":[]}') as { databases: { database: string; state: string }[] }).databases.map((d) => [d.database, d.state]));
  const wrong = f.dbs.filter((d) => states.get(d.name) !== (d.side === 1 ? 'failing' : 'ok')).map((d) => `${d.name}=${states.get(d.name)}`);
  check('fleet status: exactly the stopped cluster\'s databases FAIL, the others are OK (exit 1)', status.code === 1 && wrong.length === 0,
    `exit ${status.code}; ${[...states.values()].filter((s) => s === 'failing').length} failing, ${[...states.values()].filter((s) => s === 'ok').length} ok${wrong.length ? `; wrong: ${wrong.slice(0, 10).join(', ')}` : ''}`);
}

/** SIGTERM every worker (each exits 0), then `pgdrill cleanup` on each worker's directories finds nothing to remove. */
async function checkEnd(f: Fleet, all: readonly ResultRow[]): Promise<void> {
  const codes = await Promise.all(f.workers.map(async (w) => { if (running(w.proc)) w.proc.kill('SIGTERM'); return w.exited; }));
  check('SIGTERM: every worker exits 0', codes.every((c) => c === 0), `exit codes ${codes.join(', ')}`);
  const left: string[] = [];
  for (const w of f.workers) {
    const r = await pgdrill(['cleanup', '--json', '--out', w.out], { ...process.env, PGDRILL_STATE_DIR: w.state });
    const items = (JSON.parse(r.stdout) as { items: { kind: string; action: string; path: string }[] }).items.filter((i) => ['removed', 'would_remove', 'failed'].includes(i.action));
    left.push(...items.map((i) => `${w.name}: ${i.action} ${i.kind} ${i.path}`));
    left.push(...(await readdir(w.state)).filter((n) => n.startsWith('fleet-job-')).map((n) => `${w.name}: ${n}`));
  }
  const procs = await processesMentioning(join(f.work, 'w'));
  check('nothing left behind: pgdrill cleanup finds nothing, no job file, no process of a worker', !left.length && !procs.length, left.length || procs.length ? `${left.join(' | ')} processes: ${procs.join(', ')}` : `${f.workers.length} workers' out and state directories clean`);
  const overlap = noOverlap(all);
  check('both periods: no database drilled twice at once', overlap.ok, overlap.ok ? `${all.length} results, no overlap` : `overlaps: ${overlap.bad.join(', ')}`);
}

/** Period 1 with its SIGKILL, then period 2 with a source down, then the end. */
async function drive(f: Fleet, a: Args): Promise<void> {
  const t0 = Date.now();
  for (let i = 0; i < a.workers; i++) f.workers.push(await spawnWorker(f, `w${i}`));
  await waitForResults(f.coord, COORD_DB, Math.min(10, Math.floor(a.databases / 4)));
  const k = await killMidDrill(f);
  await checkKillAftermath(k);
  const period1 = await waitForResults(f.coord, COORD_DB, a.databases, Date.now() + 3 * 3_600_000);
  const wallS = (Date.now() - t0) / 1000;
  checkPeriod1(f, period1, k, wallS);
  await unreachableSource(f, a, period1.length);
  await checkEnd(f, await results(f));
  if (a.json) await writeFile(a.json, JSON.stringify({ args: a, wallS, checks, results: await results(f) }, null, 2));
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const work = await mkdtemp(join(tmpdir(), 'pgdrill-fleet-acceptance-'));
  const clusters: SandboxCluster[] = [];
  const workers: SimWorker[] = [];
  const started = new Date();
  try {
    console.error(`${a.databases} databases across 2 source clusters, ${a.workers} workers… (${started.toISOString()})`);
    const f: Fleet = { ...(await setUp(a, work, clusters)), workers, workerFlags: ['--tick', '5000', '--poll', '1000', '--maintenance', '2'] };
    await drive(f, a);
  } catch (err) {
    check('the run completed', false, String((err as Error)?.stack ?? err));
  } finally {
    await stopWorkers(workers);
    for (const c of clusters.reverse()) await c.stop().catch(() => {});
    await rm(work, { recursive: true, force: true });
  }
  const failed = checks.filter((c) => !c.ok);
  console.log(`\nfleet acceptance (${a.databases} databases, 2 source clusters, ${a.workers} workers), ${started.toISOString()} – ${new Date().toISOString()}: ${failed.length ? `FAIL (${failed.length} of ${checks.length} checks failed)` : `PASS (${checks.length} checks)`}`);
  process.exitCode = failed.length ? 1 : 0;
}

await main();
