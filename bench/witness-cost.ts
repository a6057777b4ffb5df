/**
 * What `source.witness` costs the source, in CPU: the source cluster's processes (the postmaster's own time and
 * that of every backend it has reaped, /proc/<postmaster>/stat utime+stime+cutime+cstime) across a `pg_dump` of the
 * database alone, and across a drill with each witness (`none`, `counts`, `hashes`). Side by side in one run,
 * alternating, medians; the ratios against pg_dump alone are the point.
 *
 * Run (as root, like the tests): npx tsx bench/witness-cost.ts [runs=3] [scales=10,50]
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localToolchain } from '../src/toolchain/toolchain.js';
import { resolveSandboxUser } from '../src/exec/os-user.js';
import { runProcess } from '../src/exec/run-process.js';
import { silentLogger } from '../src/logger.js';
import { SandboxCluster } from '../src/sandbox/cluster.js';
import { runDrill } from '../src/drill/run-drill.js';
import { median } from './timing.js';

const runs = Number(process.argv[2] ?? 3);
const scales = (process.argv[3] ?? '10,50').split(',').map(Number);
const TICKS = 100; // USER_HZ

const bins = await localToolchain();
const parent = await mkdtemp(join(tmpdir(), 'pgdrill-witness-bench-'));
const source = await SandboxCluster.start({ bins, parentDir: parent, osUser: await resolveSandboxUser(), logger: silentLogger, superuser: 'postgres', label: 'bench-source' });

/** CPU seconds of the source cluster so far: the postmaster and every child it has reaped (backends of ended sessions). */
async function sourceCpu(): Promise<number> {
  const pid = (await readFile(join(source.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]!.trim();
  const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /, '').split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICKS;
}

/** Let the backends of ended sessions exit and be reaped before reading. */
const settle = () => new Promise((r) => setTimeout(r, 500));

try {
  for (const scale of scales) {
    const db = `pgbench${scale}`;
    await runProcess({ bin: bins.path('psql'), args: ['-X', '-q', '-c', `CREATE DATABASE ${db}`], env: source.env('postgres') });
    await runProcess({ bin: join(bins.server.bindir, 'pgbench'), args: ['-i', '-s', String(scale), '-q'], env: source.env(db) });
    const url = source.url(db).replace('pgdrill@', 'postgres@');
    const cpu: Record<string, number[]> = {};
    const measure = async (k: string, fn: () => Promise<unknown>) => {
      await settle();
      const before = await sourceCpu();
      await fn();
      await settle();
      (cpu[k] ??= []).push((await sourceCpu()) - before);
    };
    for (let i = 0; i < runs; i++) {
      await measure('pg_dump alone', () => runProcess({ bin: bins.path('pg_dump'), args: ['-f', join(parent, `${db}.sql`), db], env: source.env(db) }));
      for (const witness of ['none', 'counts', 'hashes'] as const) {
        await measure(`drill, source.witness: ${witness}`, async () => {
          const { report } = await runDrill({ source: url, outDir: join(parent, `${db}-${i}-${witness}`), config: { source: { witness } } });
          if (report.status !== 'PASS') throw new Error(`drill FAILED: ${report.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`).join('; ')}`);
        });
      }
    }
    const base = median(cpu['pg_dump alone']!);
    console.log(`\npgbench scale ${scale} — source CPU seconds, medians of ${runs}`);
    for (const [k, v] of Object.entries(cpu)) console.log(`  ${k.padEnd(34)} ${median(v).toFixed(2).padStart(6)} s  ${(median(v) / base).toFixed(2)}×   [${v.map((x) => x.toFixed(2)).join(', ')}]`);
  }
} finally {
  await source.stop();
  await rm(parent, { recursive: true, force: true });
}
