/**
 * Where a fleet's drill of a tiny database spends its time: `pgdrill run --json` of a one-table database, as a
 * worker runs it (a child process per drill), `--runs` times per variant, alternating the variants so that the
 * machine's load falls on both alike. Per variant: the wall time from spawn to exit, split into the process's
 * start (spawn → the report's run.started_at), the report's stages, and the end (the run's end → exit).
 *
 *   node --import tsx bench/fleet-drill-stages.ts [--runs 5] [--rows 1000] [--variants cache,nocache] [--debug-log FILE]
 *
 * `--debug-log FILE`: the last run's stderr with PGDRILL_DEBUG=1 (timestamped log lines) in FILE.<variant>.
 *
 * Variants: `cache`: the default initdb template cache (src/sandbox/initdb-template.ts: a worker running as root
 * uses it); `nocache`: PGDRILL_CACHE_DIR=off, a fresh initdb per drill. Needs `npm run build` (runs dist/). Not
 * part of the tests.
 */
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from './timing.js';
import { pgdrill, sql, startCluster, urlFor } from './fleet-sim.js';

interface Args { runs: number; rows: number; variants: string[]; debugLog: string | null }

function parseArgs(argv: string[]): Args {
  const a: Args = { runs: 5, rows: 1000, variants: ['cache', 'nocache'], debugLog: null };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = () => argv[++i] ?? '';
    if (k === '--runs') a.runs = Number(v());
    else if (k === '--rows') a.rows = Number(v());
    else if (k === '--variants') a.variants = v().split(',');
    else if (k === '--debug-log') a.debugLog = v();
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

interface Report { status: string; run: { started_at: string; duration_ms: number }; stages: { name: string; duration_ms: number }[] }

/** One drill: its phases in ms (start, each stage, end, wall). */
async function drill(url: string, out: string, variant: string, debugLog: string | null): Promise<Map<string, number>> {
  const env = { ...process.env, ...(variant === 'nocache' ? { PGDRILL_CACHE_DIR: 'off' } : {}), PGDRILL_DEBUG: '1' };
  const cpu0 = await childCpuMs();
  const t0 = Date.now();
  const r = await pgdrill(['run', '--json', '--source', url, '--out', out], env);
  const t1 = Date.now();
  const cpu = (await childCpuMs()) - cpu0;
  const report = JSON.parse(r.stdout) as Report;
  if (report.status !== 'PASS') throw new Error(`the drill did not pass (exit ${r.code}): ${r.stderr.slice(-500)}`);
  if (debugLog) await writeFile(`${debugLog}.${variant}`, r.stderr);
  const started = Date.parse(report.run.started_at);
  const t2 = Date.now();
  await pgdrill(['--version']);
  const m = new Map<string, number>([['process start', started - t0], ['  of which: node and pgdrill loading (`pgdrill --version`, timed beside)', Date.now() - t2]]);
  for (const s of report.stages) m.set(s.name, (m.get(s.name) ?? 0) + s.duration_ms);
  m.set('in the run, outside its stages', report.run.duration_ms - report.stages.reduce((n, s) => n + s.duration_ms, 0));
  m.set('process end', t1 - (started + report.run.duration_ms));
  m.set('wall', t1 - t0);
  m.set('CPU: pgdrill and the programs it waited for (not the sandbox server)', cpu);
  for (const [k, v] of fromLog(r.stderr)) m.set(k, v);
  return m;
}

/** CPU time (user + system, ms) of this process's reaped children and theirs: /proc/self/stat's cutime and cstime. */
async function childCpuMs(): Promise<number> {
  const st = await readFile('/proc/self/stat', 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[13]) + Number(f[14])) * 1000) / 100; // fields 16 and 17, in clock ticks of 1/100 s
}

/** Figures only the debug log has (PGDRILL_DEBUG=1 stamps each line with ms since start): the sandbox's data directory and teardown. */
function fromLog(log: string): Map<string, number> {
  const m = new Map<string, number>();
  const dataDir = /sandbox: data directory from .* in (\d+) ms/.exec(log);
  if (dataDir) m.set('  of which: the sandbox\'s data directory (log)', Number(dataDir[1]));
  const lines = log.split('\n');
  const i = lines.findIndex((l) => /sandbox torn down/.test(l));
  const stamp = (l: string | undefined) => Number(/^\w+ \+(\d+)ms:/.exec(l ?? '')?.[1] ?? NaN);
  if (i > 0) m.set('  of which: the sandbox\'s teardown (log)', stamp(lines[i]) - stamp(lines[i - 1]));
  return m;
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const work = await mkdtemp(join(tmpdir(), 'pgdrill-drill-stages-'));
  await mkdir(join(work, 'clusters'));
  const source = await startCluster(join(work, 'clusters'), 'drill-stages-source');
  try {
    await sql(source, 'postgres', 'CREATE DATABASE tiny');
    await sql(source, 'tiny', `CREATE TABLE item (id int PRIMARY KEY, name text, price numeric); INSERT INTO item SELECT g, md5(g::text), g * 1.5 FROM generate_series(1, ${a.rows}) g`);
    const runs = new Map<string, Map<string, number>[]>(a.variants.map((v) => [v, []]));
    for (let i = 0; i < a.runs; i++) {
      for (const v of a.variants) runs.get(v)!.push(await drill(urlFor(source, 'tiny'), join(work, 'out'), v, i === a.runs - 1 ? a.debugLog : null));
      console.error(`round ${i + 1}/${a.runs} done`);
    }
    const phases = [...new Set([...runs.values()].flatMap((rs) => rs.flatMap((m) => [...m.keys()])))];
    console.log(`| phase | ${a.variants.map((v) => `${v} (median of ${a.runs})`).join(' | ')} |`);
    console.log(`|---|${a.variants.map(() => '---:').join('|')}|`);
    for (const p of phases) console.log(`| ${p} | ${a.variants.map((v) => `${(median(runs.get(v)!.map((m) => m.get(p) ?? 0)) / 1000).toFixed(2)} s`).join(' | ')} |`);
  } finally {
    await source.stop().catch(() => {});
    await rm(work, { recursive: true, force: true });
  }
}

await main();
