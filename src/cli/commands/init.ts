/** `pgdrill init`: read a source and write a starter config that pins its identity. */
import { Command } from 'commander';
import { readSourceFacts } from '../../init/source-facts.js';
import { renderStarterConfig } from '../../init/starter-config.js';
import { writeConfigFile } from '../../init/write-config-file.js';
import type { CliContext } from '../context.js';

/** Register `pgdrill init [--source URL] [--out FILE|-] [--force]`. */
export function registerInit(program: Command, ctx: CliContext): void {
  program
    .command('init')
    .description('connect to a source read-only and write a starter config that pins its identity (system_identifier, database)')
    .option('--source <url>', 'libpq URL of the source (default: PG* environment); put the password in PGPASSWORD or .pgpass, not here')
    .option('--out <file>', 'config file to write (never overwritten without --force); - for stdout', 'pgdrill.yaml')
    .option('--force', 'replace --out if it exists', false)
    .addHelpText('after', '\nExample:\n  pgdrill init --source postgresql://drill_ro@db.example.com:5432/app --out /etc/pgdrill/app.yaml\n  pgdrill run --config /etc/pgdrill/app.yaml\n')
    .action(async (o: { source?: string; out: string; force: boolean }) => {
      const facts = await readSourceFacts(o.source, { signal: ctx.signal });
      const text = renderStarterConfig(facts, { url: o.source });
      if (o.out === '-') {
        process.stdout.write(text);
        return;
      }
      await writeConfigFile(o.out, text, { force: o.force });
      process.stdout.write(
        `wrote ${o.out}: database ${JSON.stringify(facts.identity.database)} pinned to system_identifier ${facts.identity.systemIdentifier}\n` +
          `next: pgdrill run --config ${o.out}\n`,
      );
    });
}
