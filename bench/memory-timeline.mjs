/**
 * A preload that samples pgdrill's own memory every 250 ms into a file, to see *when* in a drill the peak RSS
 * (report `run.peak_rss_bytes`) is reached and whether it is V8's heap or not: milliseconds since start, rss,
 * heapUsed, heapTotal, external, arrayBuffers (MB) and VmHWM (MB). Compare the times with run.log's. Not a test.
 *
 *   PGDRILL_MEMORY_TIMELINE=/tmp/mem.txt node --expose-gc --import ./bench/memory-timeline.mjs dist/pgdrill.mjs run …
 */
import { appendFileSync, readFileSync } from 'node:fs';

const file = process.env.PGDRILL_MEMORY_TIMELINE;
if (file) {
  const t0 = Date.now();
  const mb = (x) => (x / 1048576).toFixed(0);
  const hwm = () => Number(/^VmHWM:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024;
  setInterval(() => {
    const m = process.memoryUsage();
    appendFileSync(file, `${Date.now() - t0} rss=${mb(m.rss)} heapUsed=${mb(m.heapUsed)} heapTotal=${mb(m.heapTotal)} ext=${mb(m.external)} ab=${mb(m.arrayBuffers)} hwm=${mb(hwm())}\n`);
  }, 250).unref();
}
