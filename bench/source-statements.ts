/**
 * What a drill sends the source, statement by statement: a pgbench source with pg_stat_statements (track = all) and
 * log_connections, one `pgdrill run` (or pg_dump alone), then the statements by total execution time and the
 * connections by database and application. Not part of the tests; the figures behind docs/performance.md's "The
 * drill's fixed cost on the source".
 *
 *   node --import tsx bench/source-statements.ts [run|dump] [--scale 10] [--cli PATH]
 *
 * `--cli`: another build of pgdrill (default: this checkout's dist/pgdrill.mjs).
 */
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { startBenchSource } from './bench-source.js';
import { localToolchain } from '../src/toolchain/toolchain.js';

const args = process.argv.slice(2);
const opt = (k: string, d: string) => (args.includes(k) ? args[args.indexOf(k) + 1] ?? d : d);
const mode = args[0] === 'dump' ? 'dump' : 'run';
const scale = Number(opt('--scale', '10'));
const cli = resolve(opt('--cli', join(import.meta.dirname, '..', 'dist', 'pgdrill.mjs')));

const bins = await localToolchain();
const root = await mkdtemp(join(tmpdir(), 'pgdrill-statements-'));
await chmod(root, 0o755);
const src = await startBenchSource(scale, root, bins.server.bindir, 'statements-source', ['VACUUM ANALYZE', 'CHECKPOINT'], {
  settings: { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all', log_connections: 'on' },
});
try {
  const env = { ...process.env, ...src.env('bench') };
  const psql = (sql: string) => spawnSync(bins.path('psql'), ['-X', '-At', '-d', 'bench', '-c', sql], { env, encoding: 'utf8' }).stdout;
  psql('CREATE EXTENSION pg_stat_statements');
  psql('SELECT pg_stat_statements_reset()');
  const t0 = Date.now();
  if (mode === 'dump') {
    spawnSync(bins.path('pg_dump'), ['--format=plain', `--file=${join(root, 'bench.sql')}`, 'bench'], { env, stdio: 'inherit' });
  } else {
    const url = `postgresql://postgres@/bench?host=${encodeURIComponent(src.socketDir)}&port=${src.port}`;
    const r = spawnSync(process.execPath, ['--expose-gc', cli, 'run', '--source', url, '--out', root, '--json'], { encoding: 'utf8', maxBuffer: 1e9 });
    console.log(`pgdrill run: ${(JSON.parse(r.stdout) as { status: string }).status}`);
  }
  console.log(`wall ${Date.now() - t0} ms`);
  const own = "query NOT LIKE '%pg_stat_statements%'";
  console.log(`total exec ms | calls | statements: ${psql(`SELECT round(sum(total_exec_time)::numeric, 1), sum(calls), count(*) FROM pg_stat_statements WHERE ${own}`).trim()}`);
  console.log(psql(`SELECT round(total_exec_time::numeric, 2) || ' ms x' || calls || '  ' || left(regexp_replace(query, '\\s+', ' ', 'g'), 150)
    FROM pg_stat_statements WHERE ${own} ORDER BY total_exec_time DESC LIMIT 25`));
  const log = await readFile(src.logFile, 'utf8').catch(() => '');
  const counts = new Map<string, number>();
  for (const m of log.matchAll(/connection authorized: user=\S+ database=(\S+)(?: application_name=(\S+))?/g)) {
    const k = `${m[1]} ${m[2] ?? ''}`.trim();
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  console.log(`connections: ${[...counts].map(([k, v]) => `${k} ×${v}`).join('; ')}`);
} finally {
  await src.stop();
  await rm(root, { recursive: true, force: true });
}
