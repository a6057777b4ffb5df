/** `pgdrill worker`: run the fleet's drills from the queue until stopped (src/fleet/worker.ts). */
import { terminalText } from '../../terminal-text.js';
import { realpathSync } from 'node:fs';
import { Command, Option } from 'commander';
import { ConfigError } from '../../errors.js';
import { defaultStateDir } from '../../sandbox/state-dir.js';
import { queueUrl } from '../../fleet/coordination.js';
import { workerLog, type WorkerLogFormat } from '../worker-log.js';
import type { CliContext } from '../context.js';

const WORKER_HELP_AFTER = `
Each worker needs its own --out and state directory (PGDRILL_STATE_DIR or --state-dir) on its machine. Passwords of
the sources and of the queue come from the worker's ~/.pgpass, service file or environment, never from the queue.
SIGTERM or SIGINT: the running drills are stopped (each tears its sandbox down) and handed back to the queue; the
worker exits 0. A worker killed with SIGKILL: its drills stop within a second, another worker takes them after the
lease (the fleet file's limits.lease), and the next worker started with the same state directory cleans up.

Logs (stderr): one line when each job starts and one when it ends (database, job id, verdict, duration, cause),
warnings and errors; --log-format json makes each a JSON object. PGDRILL_DEBUG=1 adds pgdrill's info and debug lines.

Exit codes:
  0   stopped by a signal, after handing its drills back
  2   usage error (a password in --queue, a bad flag)
  3   another worker uses this state directory
  4   the coordination database cannot be reached, or the state directory is not private
`;

/** A positive integer flag. */
function positive(what: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${what} must be a positive integer, got "${v}"`);
    return n;
  };
}

/** Register `pgdrill worker`. */
export function registerWorker(program: Command, ctx: CliContext): void {
  program
    .command('worker')
    .description('take drills from the fleet\'s queue and run them (as `pgdrill run`/`verify` in child processes), until SIGTERM')
    .option('--queue <url>', 'libpq URL of the coordination database, no password in it (default: PGDRILL_QUEUE)')
    .option('--concurrency <n>', 'drills at once (default: the fleet file\'s limits.concurrency, else 1)', positive('--concurrency'))
    .option('--out <dir>', 'this worker\'s directory for run directories', './drills')
    .option('--state-dir <dir>', 'this worker\'s state directory (sandbox records; default PGDRILL_STATE_DIR or pgdrill\'s)')
    .addOption(new Option('--poll <ms>', 'idle poll interval').argParser(positive('--poll')).hideHelp())
    .addOption(new Option('--tick <ms>', 'due-drill scheduling interval').argParser(positive('--tick')).hideHelp())
    .addOption(new Option('--maintenance <s>', 'lease expiry check interval').argParser(positive('--maintenance')).hideHelp())
    .addOption(new Option('--disk-poll <ms>', 'disk budget check interval').argParser(positive('--disk-poll')).hideHelp())
    .option('--json', 'print the summary as JSON when the worker stops', false)
    .addOption(new Option('--log-format <format>', 'the log lines on stderr: text, or one JSON object per line').choices(['text', 'json']).default('text'))
    .addHelpText('after', WORKER_HELP_AFTER)
    .action(async (o: { queue?: string; concurrency?: number; out: string; stateDir?: string; poll?: number; tick?: number; maintenance?: number; diskPoll?: number; json: boolean; logFormat: WorkerLogFormat }) => {
      const { runWorker } = await import('../../fleet/worker.js');
      const log = workerLog(o.logFormat, ctx.logger, (line) => void process.stderr.write(`${terminalText(line)}\n`));
      const summary = await runWorker({
        queueUrl: queueUrl(o.queue), outDir: o.out, stateDir: o.stateDir ?? defaultStateDir(), concurrency: o.concurrency,
        pgdrillBin: realpathSync(process.argv[1] ?? 'pgdrill'), signal: ctx.signal, logger: log.logger, onJob: log.onJob,
        pollMs: o.poll, tickMs: o.tick, maintenanceSeconds: o.maintenance, diskPollMs: o.diskPoll,
      });
      if (o.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
      else process.stdout.write(`worker ${summary.worker} stopped: ${summary.drills} drill(s) recorded, ${summary.handedBack} handed back\n`);
      ctx.exitCode = 0;
    });
}
