/** Rendering stage progress: a live line on a terminal, plain lines elsewhere (CI, logs). Always on stderr. */
import { formatBytes, formatDuration } from '../config/duration.js';
import type { ProgressCallback } from '../logger.js';

export function progressRenderer(stream: NodeJS.WriteStream = process.stderr, quiet = false): ProgressCallback {
  if (quiet) return () => {};
  const tty = stream.isTTY === true;
  const started = new Map<string, number>();
  let lastDraw = 0;
  return (e) => {
    const now = performance.now();
    if (e.state === 'start') {
      started.set(e.stage, now);
      if (tty) stream.write(`\r\x1b[K▸ ${e.stage} …`);
      else stream.write(`pgdrill: ${e.stage} …\n`);
      return;
    }
    const elapsed = now - (started.get(e.stage) ?? now);
    if (e.state === 'progress') {
      if (!tty || now - lastDraw < 100) return;
      lastDraw = now;
      stream.write(`\r\x1b[K▸ ${e.stage} ${formatDuration(elapsed)}${e.bytes !== undefined ? `  ${formatBytes(e.bytes)}` : ''}${e.message ? `  ${e.message}` : ''}`);
      return;
    }
    const status = (e.status ?? 'pass').toUpperCase();
    const line = `${e.stage} ${status} (${formatDuration(elapsed)})${e.message ? ` — ${e.message}` : ''}`;
    stream.write(tty ? `\r\x1b[K${status === 'FAIL' ? '✗' : '✓'} ${line}\n` : `pgdrill: ${line}\n`);
  };
}
