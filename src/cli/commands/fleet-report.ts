/** `pgdrill fleet report`: the fleet's dashboard (--html) and Prometheus metrics (--metrics) from the coordination database. */
import { resolve } from 'node:path';
import { Command } from 'commander';
import { ConfigError } from '../../errors.js';
import { openCoordination, queueUrl } from '../../fleet/coordination.js';
import { renderFleetHtml } from '../../fleet/fleet-html.js';
import { writeFleetMetrics } from '../../fleet/fleet-metrics.js';
import { fleetStatus } from '../../fleet/fleet-status.js';
import { resultsSince } from '../../fleet/results-store.js';
import { assertOutputPath, writeFileAtomic } from '../../outputs/atomic-file.js';
import type { CliContext } from '../context.js';
import { parseMaxAge } from './fleet-status.js';

/** Register `pgdrill fleet report --queue URL [--html FILE] [--metrics FILE] [--days N] [--max-age D]` under `fleet`. */
export function registerFleetReport(fleet: Command, ctx: CliContext): void {
  fleet
    .command('report')
    .description('write the fleet\'s dashboard (--html, one self-contained page) and Prometheus metrics (--metrics, one series per database) from the coordination database')
    .option('--queue <url>', 'libpq URL of the coordination database, no password in it (default: PGDRILL_QUEUE); the password from PGPASSWORD, PGPASSFILE or ~/.pgpass')
    .option('--html <file>', 'write the dashboard to this file')
    .option('--metrics <file>', "write the fleet's metrics to this file (node_exporter's textfile collector: a .prom file in its directory)")
    .option('--days <n>', 'how many days of drills the dashboard shows', '30')
    .option('--max-age <duration>', 'oldest acceptable PASS for every database (default: per database, by its schedule; as fleet status)')
    .addHelpText('after', '\nExit codes: 0 written (whatever the fleet\'s state: fleet status is the check), 2 bad flags, 4 the coordination database unreachable or without pgdrill_fleet.\n')
    .action(async (o: { queue?: string; html?: string; metrics?: string; days: string; maxAge?: string }) => {
      if (!o.html && !o.metrics) throw new ConfigError('fleet report: give --html FILE, --metrics FILE, or both');
      const days = Number(o.days);
      if (!Number.isInteger(days) || days < 1) throw new ConfigError(`--days ${o.days}: expected a whole number of days, 1 or more`);
      const maxAgeMs = parseMaxAge(o.maxAge);
      await assertOutputPath('--html', o.html);
      await assertOutputPath('--metrics', o.metrics);
      await using coord = await openCoordination(queueUrl(o.queue), { signal: ctx.signal });
      const status = await fleetStatus(coord.client, { maxAgeMs });
      if (o.html) {
        const recent = await resultsSince(coord.client, new Date(Date.parse(status.checkedAt) - days * 86_400_000));
        await writeFileAtomic(o.html, renderFleetHtml(status, recent, { queue: coord.redacted, days }));
        process.stdout.write(`${resolve(o.html)}\n`);
      }
      if (o.metrics) {
        await writeFleetMetrics(o.metrics, status);
        process.stdout.write(`${resolve(o.metrics)}\n`);
      }
      ctx.exitCode = 0;
    });
}
