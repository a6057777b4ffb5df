/** `pgdrill status`: per database, "last verified N ago"; exit 1 when the newest drill failed or the newest PASS is too old. */
import { terminalText } from '../../terminal-text.js';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { parseDuration } from '../../config/duration.js';
import { ConfigError } from '../../errors.js';
import { checkFreshness, formatAge } from '../../history/freshness.js';
import type { CliContext } from '../context.js';

/** Register `pgdrill status [--out DIR] [--max-age 26h] [--database NAME] [--json]`. */
export function registerStatus(program: Command, ctx: CliContext): void {
  program
    .command('status')
    .description('per database: when it was last verified; exit 1 when the newest drill failed or the newest PASS is older than --max-age (for cron and monitoring)')
    .option('--out <dir>', 'directory the drills were written into', './drills')
    .option('--max-age <duration>', 'oldest acceptable PASS, e.g. 26h, 90m, 7d', '26h')
    .option('--database <name>', 'only this database')
    .option('--json', 'print the verdict as JSON', false)
    .action(async (o: { out: string; maxAge: string; database?: string; json: boolean }) => {
      const maxAgeMs = parseDuration(o.maxAge);
      if (maxAgeMs === null || maxAgeMs <= 0) throw new ConfigError(`--max-age ${o.maxAge}: expected a duration like 26h, 90m, 7d`);
      const r = await checkFreshness(o.out, { maxAgeMs, database: o.database, logger: ctx.logger });
      if (o.json) {
        process.stdout.write(JSON.stringify({
          ok: r.ok, checked_at: r.checkedAt, max_age_ms: r.maxAgeMs, out: resolve(o.out),
          databases: r.databases.map((d) => ({
            database: d.database, state: d.state, ok: d.ok, reason: d.reason,
            last_pass: d.lastPass ? { run_dir: d.lastPass.runDir, kind: d.lastPass.kind, finished_at: d.lastPass.finishedAt, age_ms: d.lastPassAgeMs } : null,
            newest: { run_dir: d.newest.runDir, kind: d.newest.kind, status: d.newest.status, interrupted: d.newest.interrupted, finished_at: d.newest.finishedAt, failed_checks: d.newest.failedChecks },
          })),
        }, null, 2) + '\n');
      } else if (!r.databases.length) {
        process.stdout.write(`no drills${o.database ? ` of ${o.database}` : ''} in ${resolve(o.out)}: nothing was ever verified\n`);
      } else {
        const width = Math.max(...r.databases.map((d) => d.database.length));
        for (const d of r.databases) process.stdout.write(terminalText(`${(d.ok ? 'OK' : d.state.toUpperCase()).padEnd(6)} ${d.database.padEnd(width)}  ${d.reason}\n`));
        process.stdout.write(r.ok
          ? `status: OK (${r.databases.length} database${r.databases.length === 1 ? '' : 's'} verified within ${formatAge(maxAgeMs)})\n`
          : `status: NOT OK (max age ${formatAge(maxAgeMs)})\n`);
      }
      ctx.exitCode = r.ok ? 0 : 1;
    });
}
