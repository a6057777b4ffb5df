/** `pgdrill run`: a drill of a live source. */
import { Command, Option } from 'commander';
import { loadConfig, validateConfig } from '../../config/load.js';
import { runDrill } from '../../drill/run-drill.js';
import { progressRenderer } from '../progress.js';
import { renderSummary } from '../summary.js';
import type { CliContext } from '../main.js';

export function registerRun(program: Command, ctx: CliContext): void {
  program
    .command('run')
    .description('drill a live source: guard, fresh read-only backup, content check, isolated restore, teardown, report')
    .option('--source <url>', 'libpq URL of the source (default: PG* environment); put the password in PGPASSWORD or .pgpass, not here')
    .option('--config <file>', 'YAML config: pins, expectations, metadata')
    .option('--out <dir>', 'directory for run directories (default: config out, else ./drills)')
    .addOption(new Option('--format <format>', 'dump format').choices(['plain', 'custom', 'directory']))
    .option('--keep', 'leave the sandbox running and print how to connect', false)
    .option('--json', 'print report.json on stdout', false)
    .action(async (o: { source?: string; config?: string; out?: string; format?: 'plain' | 'custom' | 'directory'; keep: boolean; json: boolean }) => {
      const config = o.config ? await loadConfig(o.config) : validateConfig({});
      const result = await runDrill({
        source: o.source, config, outDir: o.out, format: o.format, keep: o.keep, kind: 'run',
        signal: ctx.signal, logger: ctx.logger, progress: progressRenderer(process.stderr, o.json), argv: ctx.argv,
      });
      if (o.json) process.stdout.write(JSON.stringify(result.report, null, 2) + '\n');
      else process.stdout.write(renderSummary(result.report, result.runDir));
      ctx.exitCode = result.exitCode;
    });
}
