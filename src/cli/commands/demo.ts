/** `pgdrill demo`: the whole drill against a throwaway, seeded local source. */
import { Command, Option } from 'commander';
import { runDemo } from '../../demo/run-demo.js';
import { progressRenderer } from '../progress.js';
import { renderSummary } from '../summary.js';
import type { CliContext } from '../context.js';

export function registerDemo(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description('start a throwaway "production" cluster seeded like a real app, drill it end to end, remove it')
    .option('--out <dir>', 'directory for the run directory', './drills')
    .addOption(new Option('--format <format>', 'dump format').choices(['plain', 'custom', 'directory']).default('plain'))
    .option('--keep', 'leave the restored sandbox running', false)
    .option('--junit <file>', 'write JUnit XML (one test case per check)')
    .option('--metrics <file>', 'update a Prometheus textfile-collector file (atomic; other databases kept)')
    .option('--json', 'print report.json on stdout', false)
    .action(async (o: { out: string; format: 'plain' | 'custom' | 'directory'; keep: boolean; json: boolean; junit?: string; metrics?: string }) => {
      const r = await runDemo({ outDir: o.out, format: o.format, keep: o.keep, junit: o.junit, metrics: o.metrics, signal: ctx.signal, logger: ctx.logger, progress: progressRenderer(process.stderr, o.json), argv: ctx.argv });
      if (o.json) process.stdout.write(JSON.stringify(r.report, null, 2) + '\n');
      else {
        process.stdout.write(renderSummary(r.report, r.runDir));
        process.stdout.write(`  config      ${r.configPath}\n  demo source removed: ${r.sourceTeardown}\n`);
      }
      ctx.exitCode = r.exitCode;
    });
}
