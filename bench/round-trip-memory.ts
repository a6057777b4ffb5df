/**
 * The round trip's comparison alone (compareSchemaDumps) on two schema dumps: its time and its peak heap (heapUsed
 * sampled every 5 ms), to see what it costs beside a drill's other checks. Take the dumps from a drill's run
 * directory (`fidelity/source-schema.sql`, `fidelity/restored-schema.sql`). Not a test.
 *
 *   node --expose-gc --import tsx bench/round-trip-memory.ts SOURCE.sql RESTORED.sql
 */
import { compareSchemaDumps } from '../src/fidelity/round-trip.js';

const [source, restored] = process.argv.slice(2);
if (!source || !restored) throw new Error('usage: node --expose-gc --import tsx bench/round-trip-memory.ts SOURCE.sql RESTORED.sql');
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run node with --expose-gc');
const mb = (x: number) => `${(x / 1048576).toFixed(1)} MB`;
gc();
const before = process.memoryUsage().heapUsed;
let peak = before;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 5);
const t0 = performance.now();
const r = await compareSchemaDumps(source, restored);
const ms = performance.now() - t0;
clearInterval(sampler);
peak = Math.max(peak, process.memoryUsage().heapUsed);
console.log(`equal ${r.equal}, ${r.lines_compared} lines: ${ms.toFixed(0)} ms, heap ${mb(before)} before, ${mb(peak)} at its peak`);
