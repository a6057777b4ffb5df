/**
 * The WAL stage's cost alone, before and after the one-pass change (issue 25): on a synthetic archive of N real 16 MiB
 * segments (valid long headers, non-sparse), `checkWalContinuity` (headers only) + `stageWal` (the copy, as before)
 * beside `checkWalContinuity` with `stage: { into }` (check each segment as it is copied), alternating, paired.
 *   node --import tsx bench/wal-stage-cost.ts [--segments 32] [--rounds 3]
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { checkWalContinuity } from '../src/physical/wal-archive.js';
import { formatLsn, segmentFileName } from '../src/physical/wal-names.js';
import { stageWal } from '../src/physical/wal-stage.js';
import { median } from './timing.js';

const { values: a } = parseArgs({ options: { segments: { type: 'string', default: '32' }, rounds: { type: 'string', default: '3' } } });
const SEG = 16 << 20;

async function makeArchive(dir: string, n: number): Promise<void> {
  const page = Buffer.alloc(1 << 20, 7);
  for (let s = 1; s <= n; s++) {
    const fh = await open(join(dir, segmentFileName(1, BigInt(s), SEG)), 'wx', 0o600);
    const h = Buffer.alloc(40);
    h.writeUInt16LE(0xd110, 0);
    h.writeUInt16LE(0x0006, 2);
    h.writeUInt32LE(1, 4);
    h.writeBigUInt64LE(BigInt(s) * BigInt(SEG), 8);
    h.writeBigUInt64LE(7300000000000000001n, 24);
    h.writeUInt32LE(SEG, 32);
    h.writeUInt32LE(8192, 36);
    for (let off = 0; off < SEG; off += page.length) await fh.write(off === 0 ? Buffer.concat([h, page.subarray(40)]) : page, 0, page.length, off);
    await fh.close();
  }
}

async function measure(fn: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const c = process.cpuUsage(c0);
  return { wall: performance.now() - t0, cpu: (c.user + c.system) / 1000 };
}

const root = await mkdtemp(join(tmpdir(), 'pgdrill-walstage-'));
try {
  const archive = join(root, 'archive');
  await (await import('node:fs/promises')).mkdir(archive);
  await makeArchive(archive, Number(a.segments));
  const start = { timeline: 1, lsn: formatLsn(BigInt(SEG) + 0x28n) };
  const before: { wall: number; cpu: number }[] = [];
  const after: { wall: number; cpu: number }[] = [];
  for (let i = 0; i < Number(a.rounds); i++) {
    const runs = [
      async () => before.push(await measure(async () => {
        const r = await checkWalContinuity({ walDir: archive, start });
        if (!r.ok) throw new Error(r.detail);
        await stageWal(archive, segmentFileName(1, 1n, SEG), join(root, `b${i}`), null);
      })),
      async () => after.push(await measure(async () => {
        const r = await checkWalContinuity({ walDir: archive, start, stage: { into: join(root, `a${i}`) } });
        if (!r.ok) throw new Error(r.detail);
      })),
    ];
    for (const run of i % 2 ? runs.reverse() : runs) await run();
    await rm(join(root, `b${i}`), { recursive: true });
    await rm(join(root, `a${i}`), { recursive: true });
  }
  const ms = (xs: number[]) => `${median(xs).toFixed(0)} ms`;
  const ratio = (f: (x: { wall: number; cpu: number }) => number) => median(before.map((b, i) => f(after[i]!) / f(b))).toFixed(2);
  console.log(`${a.segments} segments of 16 MiB, ${a.rounds} rounds (under load): check + stageWal wall ${ms(before.map((x) => x.wall))} cpu ${ms(before.map((x) => x.cpu))}; check-while-copying wall ${ms(after.map((x) => x.wall))} cpu ${ms(after.map((x) => x.cpu))}; paired after/before wall ${ratio((x) => x.wall)}, cpu ${ratio((x) => x.cpu)}`);
} finally {
  await rm(root, { recursive: true, force: true });
}
