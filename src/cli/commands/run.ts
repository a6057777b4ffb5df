/** `pgdrill run`: a drill of a live source. */
import { Command, Option } from 'commander';
import { loadConfig, validateConfig } from '../../config/load.js';
import { runDrill } from '../../drill/run-drill.js';
import { progressRenderer } from '../progress.js';
import { renderSummary } from '../summary.js';
import { addMajorOptions, type MajorOptions } from '../major-options.js';
import type { CliContext } from '../context.js';

/** Examples and exit codes under `pgdrill run --help`: what a user scheduling a drill needs (docs/exit-codes.md). */
const RUN_HELP_AFTER = `
Examples:
  pgdrill init --source postgresql://drill_ro@db.example.com:5432/app --out app.yaml   # a config pinning the source
  pgdrill run --config app.yaml --out /var/lib/pgdrill/drills
  pgdrill run --source postgresql://drill_ro@db.example.com/app --deep   # password: PGPASSWORD or ~/.pgpass
  pgdrill run --config app.yaml --metrics /var/lib/prometheus/node-exporter/pgdrill.prom && pgdrill status --max-age 26h

Exit codes:
  0        PASS: every check passed
  1        FAIL: a check failed (report.md says which and why)
  2        usage or config error
  3        a guard refused before anything was done (identity mismatch, out inside a data directory, same drill running)
  4        environment: PostgreSQL programs missing, source unreachable, sandbox would not start, disk full
  70       internal error: a bug in pgdrill, never a verdict on the backup (the stack is in run.log)
  129/130/143  interrupted by SIGHUP/SIGINT/SIGTERM, after teardown
`;

export function registerRun(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('run')
    .description('drill a live source: guard, fresh read-only backup, content check, isolated restore, teardown, report')
    .option('--source <url>', 'libpq URL of the source (default: PG* environment); put the password in PGPASSWORD or .pgpass, not here')
    .option('--config <file>', 'YAML config: pins, expectations, metadata')
    .option('--out <dir>', 'directory for run directories (default: config out, else ./drills)')
    .addOption(new Option('--format <format>', 'dump format').choices(['plain', 'custom', 'directory']))
    .option('--keep', 'leave the sandbox running and print how to connect', false)
    .option('--deep', 'also check that every heap tuple has its index entry (pg_amcheck --heapallindexed) and compare every large object\'s bytes with the source\'s (table contents are compared from the dump\'s own stream in every drill; the source\'s own row hashes: source.witness: hashes)', false)
    .option('--junit <file>', 'write JUnit XML (one test case per check)')
    .option('--metrics <file>', 'update a Prometheus textfile-collector file (atomic; other databases kept)')
    .option('--json', 'print report.json on stdout', false);
  addMajorOptions(cmd, "the source's")
    .addHelpText('after', RUN_HELP_AFTER)
    .action(async (o: MajorOptions & { source?: string; config?: string; out?: string; format?: 'plain' | 'custom' | 'directory'; keep: boolean; deep: boolean; json: boolean; junit?: string; metrics?: string }) => {
      const config = o.config ? await loadConfig(o.config) : validateConfig({});
      const result = await runDrill({
        source: o.source, config, outDir: o.out, format: o.format, keep: o.keep, deep: o.deep, kind: 'run', junit: o.junit, metrics: o.metrics, sandboxMajor: o.sandboxMajor, targetMajor: o.targetMajor,
        signal: ctx.signal, logger: ctx.logger, progress: progressRenderer(process.stderr, o.json), argv: ctx.argv,
      });
      if (o.json) process.stdout.write(JSON.stringify(result.report, null, 2) + '\n');
      else process.stdout.write(renderSummary(result.report, result.runDir));
      ctx.exitCode = result.exitCode;
    });
}
