/**
 * The source's CPU per session of a drill, exactly: a pgbench source with `log_statement_stats` (the server logs each
 * statement's getrusage, and the backend's running total), then `pgdrill run` and pg_dump alone, alternating, and
 * each session's CPU — its backend's total at its last statement, login included — by role: the guard, the
 * footprint meter, the dump snapshot (catalog facts), pg_dumpall, pg_dump, the proof. Not part of the tests; the
 * figures behind docs/performance.md's "The drill's fixed cost on the source".
 *
 *   node --import tsx bench/source-sessions.ts [--scale 10] [--runs 5] [--cli PATH] [--cli2 PATH]
 *
 * `--cli`: the build to drill with (default: this checkout's dist/pgdrill.mjs); `--cli2`: a second build, run in
 * the same rounds (each round: pg_dump alone, then the builds, the order rotating).
 */
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { startBenchSource } from './bench-source.js';
import { localToolchain } from '../src/toolchain/toolchain.js';
import { median } from './timing.js';

const args = process.argv.slice(2);
const opt = (k: string, d: string | null) => (args.includes(k) ? args[args.indexOf(k) + 1] ?? d : d);
const scale = Number(opt('--scale', '10'));
const runs = Number(opt('--runs', '5'));
const clis = [opt('--cli', join(import.meta.dirname, '..', 'dist', 'pgdrill.mjs'))!, opt('--cli2', null)].filter((c): c is string => c !== null).map((c) => resolve(c));

/** One backend's statements: the CPU of each, and the backend's running total at the last one. */
interface Session { pid: string; totalMs: number; statements: string[] }

/** The sessions of a stretch of the server log written with `log_line_prefix = '%p|'` and log_statement_stats. */
function sessionsOf(log: string): Session[] {
  const byPid = new Map<string, Session>();
  const entries = log.split(/\n(?=\d+\|)/);
  for (let i = 0; i < entries.length; i++) {
    const m = /^(\d+)\|DETAIL: {2}! system usage stats:\n\t!\t[\d.]+ s user, [\d.]+ s system[^\n]*\n\t!\t\[([\d.]+) s user, ([\d.]+) s system total\]/.exec(entries[i]!);
    if (!m) continue;
    const next = entries[i + 1] ?? '';
    const sql = next.startsWith(`${m[1]}|STATEMENT:  `) ? next.slice(`${m[1]}|STATEMENT:  `.length).replace(/\s+/g, ' ').trim() : '';
    const s = byPid.get(m[1]!) ?? { pid: m[1]!, totalMs: 0, statements: [] };
    s.totalMs = (Number(m[2]) + Number(m[3])) * 1000;
    s.statements.push(sql);
    byPid.set(m[1]!, s);
  }
  return [...byPid.values()];
}

/** What a session of a drill is, by what it sent. */
function roleOf(s: Session, all: readonly Session[]): string {
  const has = (re: RegExp) => s.statements.some((q) => re.test(q));
  if (has(/^COPY .* TO stdout/)) return 'pg_dump';
  if (has(/pg_export_snapshot\(\)/)) return 'snapshot';
  if (has(/backend_start/)) return 'meter';
  if (has(/rolcanlogin|FROM pg_catalog\.pg_roles|pg_authid/) && !has(/md5\(string_agg/)) return 'pg_dumpall';
  if (has(/md5\(string_agg/)) return s === all.filter((x) => x.statements.some((q) => /md5\(string_agg/.test(q))).at(-1) && s.statements.length <= 3 ? 'proof' : 'guard';
  return 'other';
}

const bins = await localToolchain();
const root = await mkdtemp(join(tmpdir(), 'pgdrill-sessions-'));
await chmod(root, 0o755);
const src = await startBenchSource(scale, root, bins.server.bindir, 'sessions-source', ['VACUUM ANALYZE', 'CHECKPOINT'], {
  settings: { log_statement_stats: 'on', log_line_prefix: "'%p|'" },
});
const results: Record<string, Record<string, number[]>> = {};
const add = (variant: string, role: string, ms: number) => ((results[variant] ??= {})[role] ??= []).push(ms);
try {
  const env = { ...process.env, ...src.env('bench') };
  const url = `postgresql://postgres@/bench?host=${encodeURIComponent(src.socketDir)}&port=${src.port}`;
  const variants = ['dump', ...clis.map((_, i) => `cli${i + 1}`)];
  for (let round = 0; round < runs; round++) {
    const order = [variants[0]!, ...variants.slice(1).map((_, i, a) => a[(i + round) % a.length]!)];
    for (const v of order) {
      const before = (await readFile(src.logFile, 'utf8')).length;
      if (v === 'dump') {
        spawnSync(bins.path('pg_dump'), ['--format=plain', `--file=${join(root, 'bench.sql')}`, 'bench'], { env, stdio: 'inherit' });
      } else {
        const r = spawnSync(process.execPath, [clis[Number(v.slice(3)) - 1]!, 'run', '--source', url, '--out', join(root, 'out'), '--json'], { encoding: 'utf8', maxBuffer: 1e9 });
        const status = (JSON.parse(r.stdout || '{}') as { status?: string }).status;
        if (status !== 'PASS') throw new Error(`${v}: ${status}\n${r.stderr}`);
      }
      await new Promise((res) => setTimeout(res, 300));
      const sessions = sessionsOf((await readFile(src.logFile, 'utf8')).slice(before));
      const byRole: Record<string, number> = {};
      for (const s of sessions) byRole[roleOf(s, sessions)] = (byRole[roleOf(s, sessions)] ?? 0) + s.totalMs;
      for (const [role, ms] of Object.entries(byRole)) add(v, role, ms);
      const extra = Object.entries(byRole).filter(([r]) => r !== 'pg_dump').reduce((a, [, ms]) => a + ms, 0);
      if (v !== 'dump') add(v, 'beyond pg_dump', extra);
      console.log(`round ${round + 1} ${v}: ${Object.entries(byRole).map(([r, ms]) => `${r} ${ms.toFixed(1)}`).join(', ')} ms`);
    }
    await rm(join(root, 'out'), { recursive: true, force: true });
  }
  console.log(`\nscale ${scale}, ${runs} rounds, medians of the source's CPU per session (ms, login included; log_statement_stats)`);
  const roles = ['guard', 'meter', 'snapshot', 'pg_dumpall', 'pg_dump', 'proof', 'other', 'beyond pg_dump'];
  console.log(`| variant | ${roles.join(' | ')} | (beyond pg_dump) / pg_dump alone |`);
  console.log(`|---|${roles.map(() => '---:').join('|')}|---:|`);
  const dumpAlone = median(results.dump?.pg_dump ?? [0]);
  for (const [v, r] of Object.entries(results)) {
    const name = v === 'dump' ? 'pg_dump alone' : clis[Number(v.slice(3)) - 1]!;
    const ratio = r['beyond pg_dump'] ? `${(1 + median(r['beyond pg_dump']) / dumpAlone).toFixed(3)}` : '—';
    console.log(`| ${name} | ${roles.map((k) => (r[k] ? median(r[k]).toFixed(1) : '—')).join(' | ')} | ${ratio} |`);
  }
} finally {
  await src.stop();
  await rm(root, { recursive: true, force: true });
}
