/**
 * The restored side's read-back (src/fidelity/copy-hash-restored.ts) alone, its ways side by side on one pgbench
 * database: every table read with `COPY … TO STDOUT` and hashed (`c2:`), through node-postgres on a session
 * (`session`) or through psql children for the large tables (`psql`). Each round runs every way once, the order
 * rotating; per run the wall time, the CPU seconds of pgdrill's process (all its threads) and of its children (psql),
 * read from /proc. The hashes of all ways must be equal. Not part of the tests; needs root, like the tests.
 *
 *   npx tsx bench/readback-cost.ts [--scale 50] [--runs 5] [--jobs 1]
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localToolchain } from '../src/toolchain/toolchain.js';
import { resolveSandboxUser } from '../src/exec/os-user.js';
import { runProcess } from '../src/exec/run-process.js';
import { silentLogger } from '../src/logger.js';
import { SandboxCluster } from '../src/sandbox/cluster.js';
import { hashRestoredCopies, UNKNOWN_DUMP_SESSION, type CopyTarget } from '../src/fidelity/copy-hash-restored.js';
import { median } from './timing.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const scale = arg('scale', 50);
const runs = arg('runs', 5);
const jobs = arg('jobs', 1);

/** CPU seconds of this process (all threads) and of its reaped children, from /proc/self/stat. */
async function cpu(): Promise<{ self: number; children: number }> {
  const f = (await readFile('/proc/self/stat', 'utf8')).slice((await readFile('/proc/self/stat', 'utf8')).lastIndexOf(')') + 2).split(' ');
  // Fields 14-17 (utime stime cutime cstime) are at 11-14 after the command's closing parenthesis and state.
  const tick = 100;
  return { self: (Number(f[11]) + Number(f[12])) / tick, children: (Number(f[13]) + Number(f[14])) / tick };
}

const bins = await localToolchain();
const parent = await mkdtemp(join(tmpdir(), 'pgdrill-readback-bench-'));
const cluster = await SandboxCluster.start({ bins, parentDir: parent, osUser: await resolveSandboxUser(), logger: silentLogger, superuser: 'postgres', label: 'bench-readback' });
try {
  await runProcess({ bin: bins.path('psql'), args: ['-X', '-q', '-c', 'CREATE DATABASE bench'], env: cluster.env('postgres') });
  await runProcess({ bin: join(bins.server.bindir, 'pgbench'), args: ['-i', '-s', String(scale), '-q'], env: cluster.env('bench') });
  const targets: CopyTarget[] = [];
  {
    await using db = await cluster.open('bench');
    await db.query('VACUUM ANALYZE');
    const rows = await db.query<{ t: string; cols: string; n: string }>(`
SELECT 'public.' || c.relname AS t, string_agg(a.attname, ', ' ORDER BY a.attnum) AS cols, c.reltuples::bigint::text AS n
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relname LIKE 'pgbench%' AND c.relkind = 'r' GROUP BY c.relname, c.reltuples ORDER BY c.relname`);
    for (const r of rows) targets.push({ table: r.t, columns: r.cols, rows: Number(r.n) });
  }
  const ways: Record<string, { readonly bin: string; readonly env: Record<string, string> } | null> = {
    session: null, psql: { bin: bins.path('psql'), env: cluster.env('bench') },
  };
  const names = Object.keys(ways);
  const seen: Record<string, { wall: number[]; self: number[]; children: number[] }> = {};
  let reference: string | null = null;
  for (let round = 0; round < runs; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(round + k) % names.length]!;
      const [c0, t0] = [await cpu(), performance.now()];
      const out = await hashRestoredCopies(targets, { open: () => cluster.open('bench'), settings: UNKNOWN_DUMP_SESSION, encoding: 'UTF8', jobs, psql: ways[name] });
      const [c1, t1] = [await cpu(), performance.now()];
      const digest = JSON.stringify(out.map((r) => ('hash' in r ? `${r.rows} ${r.hash}` : r.error)));
      if (reference !== null && digest !== reference) throw new Error(`${name}: hashes differ: ${digest} vs ${reference}`);
      reference = digest;
      const s = (seen[name] ??= { wall: [], self: [], children: [] });
      s.wall.push((t1 - t0) / 1000);
      s.self.push(c1.self - c0.self);
      s.children.push(c1.children - c0.children);
      console.log(`round ${round + 1} ${name}: ${((t1 - t0) / 1000).toFixed(2)} s wall, pgdrill CPU ${(c1.self - c0.self).toFixed(2)} s, psql CPU ${(c1.children - c0.children).toFixed(2)} s`);
    }
  }
  console.log(`\nscale ${scale}, ${runs} rounds, jobs ${jobs}; hashes equal across ways: ${reference}`);
  console.log('| way | wall (median) | pgdrill CPU (median) | psql CPU (median) | paired wall / session |');
  console.log('|---|---:|---:|---:|---:|');
  for (const name of names) {
    const s = seen[name]!;
    const ratio = median(s.wall.map((w, i) => w / seen.session!.wall[i]!));
    console.log(`| ${name} | ${median(s.wall).toFixed(2)} s | ${median(s.self).toFixed(2)} s | ${median(s.children).toFixed(2)} s | ${ratio.toFixed(2)} |`);
  }
} finally {
  await cluster.stop();
  await rm(parent, { recursive: true, force: true });
}
