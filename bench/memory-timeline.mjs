/**
 * A preload that samples pgdrill's own memory every 250 ms into a file, to see *when* in a drill the peak RSS
 * (report `run.peak_rss_bytes`) is reached and what it is made of. Per line, in MB: milliseconds since the process
 * started (the clock of PGDRILL_DEBUG's `+…ms`, so lines set against run.log's), rss, its anonymous and file-backed
 * parts (file: node's own binary and libraries, ~45 MB and flat), heapUsed, heapTotal, V8's new space as committed
 * (young generation: two semi-spaces, the bin line's --max-semi-space-size), external, arrayBuffers, the process's
 * threads and VmHWM. Not a test.
 *
 *   PGDRILL_MEMORY_TIMELINE=/tmp/mem.txt PGDRILL_DEBUG=1 node --expose-gc --max-semi-space-size=8 \
 *     --import ./bench/memory-timeline.mjs dist/pgdrill.mjs run …
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';

const file = process.env.PGDRILL_MEMORY_TIMELINE;
if (file) {
  const mb = (x) => (x / 1048576).toFixed(0);
  const kb = (status, key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0) * 1024;
  setInterval(() => {
    const m = process.memoryUsage();
    const s = readFileSync('/proc/self/status', 'utf8');
    const young = getHeapSpaceStatistics().find((x) => x.space_name === 'new_space')?.space_size ?? 0;
    appendFileSync(file, `${Math.round(performance.now())} rss=${mb(m.rss)} anon=${mb(kb(s, 'RssAnon'))} file=${mb(kb(s, 'RssFile'))} heapUsed=${mb(m.heapUsed)} heapTotal=${mb(m.heapTotal)} young=${mb(young)} ext=${mb(m.external)} ab=${mb(m.arrayBuffers)} threads=${kb(s, 'Threads') / 1024} hwm=${mb(kb(s, 'VmHWM'))}\n`);
  }, 250).unref();
}
