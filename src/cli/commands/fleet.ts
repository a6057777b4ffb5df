/**
 * `pgdrill fleet …`: the fleet's commands. `fleet sync` (here) turns a fleet file into scheduled drills in the
 * coordination database's queue; the fleet's status and dashboard commands register beside it. The queue modules
 * (pg-boss) are loaded only when a fleet command runs: a drill's start does not pay for them.
 */
import { Command } from 'commander';
import { queueUrl } from '../../fleet/coordination.js';
import type { CliContext } from '../context.js';

/** The `fleet` command group; other fleet commands add themselves to what this returns. */
export function registerFleet(program: Command, ctx: CliContext): Command {
  const fleet = program.command('fleet').description('a fleet of databases drilled by workers on many machines through a job queue in a coordination database (docs/fleet.md)');
  fleet
    .command('sync')
    .description('read a fleet file and bring the queue in line: databases added, changed or removed, and the drills due now queued')
    .requiredOption('--fleet <file>', 'the fleet file (fleet.yaml)')
    .option('--queue <url>', 'libpq URL of the coordination database, no password in it (default: PGDRILL_QUEUE); the password from PGPASSWORD, PGPASSFILE or ~/.pgpass')
    .option('--json', 'print what changed as JSON', false)
    .action(async (o: { fleet: string; queue?: string; json: boolean }) => {
      const { loadFleet } = await import('../../fleet/fleet-file.js');
      const { openQueue } = await import('../../fleet/queue.js');
      const { syncFleet } = await import('../../fleet/fleet-table.js');
      const fleetFile = await loadFleet(o.fleet);
      await using q = await openQueue(queueUrl(o.queue), { supervise: false, onError: (m) => ctx.logger.warn(`queue: ${m}`) });
      const r = await syncFleet(q, fleetFile);
      if (o.json) process.stdout.write(JSON.stringify({ databases: fleetFile.databases.length, ...r }, null, 2) + '\n');
      else {
        process.stdout.write(
          `${fleetFile.databases.length} database(s): ${r.added.length} added, ${r.updated.length} kept or changed, ${r.removed.length} removed; ${r.queued.length} drill(s) queued now\n`,
        );
      }
      ctx.exitCode = 0;
    });
  return fleet;
}
