/**
 * What the fidelity checks cost, on pagila (../shared/data) and on pgbench scale 10 (1M pgbench_accounts rows):
 * drills by default and with --deep plus `source.witness: hashes` (since the witness defaults to none, --deep alone
 * hashes nothing on the source), medians of N runs, per check and per side.
 *
 * - content hashes: the source side runs in the dump snapshot's session after the counts, while pg_dump streams,
 *   so it lengthens the backup stage only when it outlasts pg_dump; the restored side runs in the fidelity stage
 *   (parallel sessions).
 * - catalog: one query per area on each side; round trip: two schema-only pg_dumps (the source's overlaps the
 *   backup) and a streamed compare; amcheck: pg_amcheck --heapallindexed on the restored copy.
 *
 * Run (as root, like the tests): npx tsx bench/fidelity-cost.ts [runs=3] [datasets=pagila,pgbench10]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { localToolchain } from '../src/toolchain/toolchain.js';
import { resolveSandboxUser } from '../src/exec/os-user.js';
import { runProcess } from '../src/exec/run-process.js';
import { silentLogger } from '../src/logger.js';
import { SandboxCluster } from '../src/sandbox/cluster.js';
import { runDrill } from '../src/drill/run-drill.js';
import type { Report } from '../src/report/model.js';
import { median } from './timing.js';

const runs = Number(process.argv[2] ?? 3);
const datasets = (process.argv[3] ?? 'pagila,pgbench10').split(',');
const SHARED = process.env.PGDRILL_SHARED_DATA ?? resolve(import.meta.dirname, '../../shared/data');

const bins = await localToolchain();
const parent = await mkdtemp(join(tmpdir(), 'pgdrill-fidelity-bench-'));
const source = await SandboxCluster.start({ bins, parentDir: parent, osUser: await resolveSandboxUser(), logger: silentLogger, superuser: 'postgres', label: 'bench-source' });
const psql = (db: string, args: string[]) => runProcess({ bin: bins.path('psql'), args: ['-X', '-q', '-v', 'ON_ERROR_STOP=1', ...args], env: source.env(db), stdout: 'capture' });
try {
  for (const ds of datasets) {
    if (ds === 'pagila') {
      await psql('postgres', ['-c', 'CREATE DATABASE pagila']);
      await psql('pagila', ['-f', join(SHARED, 'pagila/pagila-schema.sql'), '-f', join(SHARED, 'pagila/pagila-data.sql')]);
    } else if (ds === 'pgbench10') {
      await psql('postgres', ['-c', 'CREATE DATABASE pgbench10']);
      await runProcess({ bin: join(bins.server.bindir, 'pgbench'), args: ['-i', '-s', '10', '-q'], env: source.env('pgbench10') });
    } else throw new Error(`unknown dataset ${ds}`);
    const url = source.url(ds).replace('pgdrill@', 'postgres@');
    const rows: Record<string, number[]> = {};
    const add = (k: string, v: number | null | undefined) => void (v !== null && v !== undefined && (rows[k] ??= []).push(v));
    const stage = (r: Report, name: string) => r.stages.find((s) => s.name === name)?.duration_ms;
    for (let i = 0; i < runs; i++) {
      for (const deep of [false, true]) {
        const config = { backup: { overlap: false }, ...(deep ? { source: { witness: 'hashes' as const } } : {}) };
        const { report: r } = await runDrill({ source: url, outDir: join(parent, `${ds}-${i}-${deep}`), deep, config });
        if (r.status !== 'PASS') throw new Error(`${ds}: drill FAILED: ${r.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`).join('; ')}`);
        const f = r.fidelity!;
        const k = deep ? 'deep' : 'plain';
        add(`${k}: drill total`, r.run.duration_ms);
        add(`${k}: backup stage (pg_dump + source-side capture)`, stage(r, 'backup'));
        add(`${k}: fidelity stage (restored side)`, stage(r, 'fidelity'));
        add(`${k}: catalog, source side (in the snapshot)`, f.catalog?.source_ms);
        add(`${k}: catalog, restored side`, f.catalog?.restored_ms);
        add(`${k}: round trip (both schema dumps + compare)`, f.round_trip?.ms);
        add(`${k}: amcheck`, f.amcheck?.ms);
        if (deep) {
          add('deep: content hashes, source side (all tables)', f.hashes?.source_ms);
          add('deep: content hashes, restored side (all tables)', f.hashes?.restored_ms);
          // The largest by the copy's exact count: source_rows is null whenever a witness did not count.
          const big = [...r.tables].sort((a, b) => (b.restored_rows ?? 0) - (a.restored_rows ?? 0))[0]!;
          add(`deep: hash of the largest table ${big.schema}.${big.name} (${big.restored_rows} rows), source`, big.hash_ms);
          add(`deep: hash of the largest table ${big.schema}.${big.name} (${big.restored_rows} rows), restored`, big.restored_hash_ms);
        }
      }
    }
    console.log(`\n${ds} — medians of ${runs} run(s), ms (overlap off, so the stages are apart)`);
    for (const [k, v] of Object.entries(rows)) console.log(`  ${k.padEnd(78)} ${String(median(v)).padStart(7)}   [${v.join(', ')}]`);
  }
} finally {
  await source.stop();
  await rm(parent, { recursive: true, force: true });
}
