/** `pgdrill history`: the drills in an out directory, newest first, as a table, JSON, or an HTML dashboard. */
import { terminalText } from '../../terminal-text.js';
import { rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { formatBytes, formatDuration } from '../../config/duration.js';
import { ConfigError } from '../../errors.js';
import { readHistory, type HistoryEntry } from '../../history/read-history.js';
import { renderHistoryHtml } from '../../report/history-html.js';
import type { CliContext } from '../context.js';

/** "2026-11-27 23:33:17Z". */
function shortUtc(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** The text table: one line per drill, columns padded to their widest cell. */
export function formatHistoryTable(entries: readonly HistoryEntry[]): string {
  const head = ['STARTED (UTC)', 'DATABASE', 'KIND', 'STATUS', 'SIZE', 'DURATION', 'SHA256'];
  const rows = entries.map((e) => [
    shortUtc(e.startedAt),
    e.database,
    e.kind,
    `${e.status}${e.interrupted ? ' (interrupted)' : ''}`,
    e.sizeBytes === null ? '-' : formatBytes(e.sizeBytes),
    formatDuration(e.durationMs),
    e.sha256 ?? '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const right = new Set([4, 5]);
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

/** Register `pgdrill history [--out DIR] [--json] [--html]`. */
export function registerHistory(program: Command, ctx: CliContext): void {
  program
    .command('history')
    .description('list the drills in an out directory, newest first; --html writes <out>/index.html, a dashboard linking every report')
    .option('--out <dir>', 'directory the drills were written into', './drills')
    .option('--json', 'print the drills as a JSON array', false)
    .option('--html', 'write <out>/index.html and print its path', false)
    .action(async (o: { out: string; json: boolean; html: boolean }) => {
      const { entries, skipped } = await readHistory(o.out, { logger: ctx.logger });
      if (o.html) {
        const path = join(resolve(o.out), 'index.html');
        await writeFile(`${path}.tmp`, renderHistoryHtml(entries, o.out, skipped), { mode: 0o600 }).catch((err: NodeJS.ErrnoException) => {
          throw err.code === 'ENOENT' ? new ConfigError(`${resolve(o.out)} does not exist: give --out the directory your drills were written into`, [], { cause: err }) : err;
        });
        await rename(`${path}.tmp`, path);
        process.stdout.write(`${path}\n`);
      } else if (o.json) {
        process.stdout.write(JSON.stringify(entries, null, 2) + '\n');
      } else if (!entries.length) {
        process.stdout.write(`no drills in ${resolve(o.out)}${skipped.length ? ` (${skipped.length} directories skipped)` : ''}\n`);
      } else {
        process.stdout.write(terminalText(formatHistoryTable(entries)));
      }
      ctx.exitCode = 0;
    });
}
