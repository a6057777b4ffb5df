/**
 * `pgdrill cleanup`: stop and remove sandboxes whose pgdrill died (SIGKILL, crash) — only those pgdrill recorded in
 * its state directory (PGDRILL_STATE_DIR) — stale drill locks, and the partial dumps and checked WAL copies of such drills.
 */
import { terminalText } from '../../terminal-text.js';
import { Command } from 'commander';
import { cleanupOrphans } from '../../sandbox/orphans.js';
import type { CliContext } from '../context.js';

/** Register `pgdrill cleanup [--out DIR…] [--include-kept] [--dry-run] [--json]`; exit 1 when something could not be removed. */
export function registerCleanup(program: Command, ctx: CliContext): void {
  program
    .command('cleanup')
    .description('stop and remove orphaned sandboxes (their pgdrill is gone) that pgdrill recorded creating, stale drill locks, partial dumps and checked WAL copies (wal-checked) of drills that are gone; anything not provably pgdrill\'s is reported as refused and left alone')
    .option('--out <dir...>', 'out directories to scan (default ./drills); the temp directory is always scanned')
    .option('--include-kept', 'also remove sandboxes left running with --keep', false)
    .option('--dry-run', 'only list what would be removed', false)
    .option('--json', 'print the result as JSON', false)
    .action(async (o: { out?: string[]; includeKept: boolean; dryRun: boolean; json: boolean }) => {
      const r = await cleanupOrphans({ outDirs: o.out, includeKept: o.includeKept, dryRun: o.dryRun });
      if (o.json) {
        process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      } else {
        for (const i of r.items) process.stdout.write(terminalText(`${i.action.padEnd(12)} ${i.kind.padEnd(10)} ${i.path}\n${' '.repeat(13)}${i.reason}\n`));
        process.stdout.write(`${r.removed} removed, ${r.failed} failed, ${r.refused} refused, ${r.items.length - r.removed - r.failed - r.refused} left alone\n`);
      }
      ctx.exitCode = r.failed ? 1 : 0;
    });
}
