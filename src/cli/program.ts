/**
 * The `pgdrill` command tree: every command with its flags, without running anything. main.ts parses argv with it;
 * scripts/gen-commands-reference.ts writes docs/reference/commands.md from it, so the reference cannot drift.
 */
import { Command, Option } from 'commander';
import { PGDRILL_VERSION } from '../version.js';
import type { CliContext } from './context.js';
import { registerRun } from './commands/run.js';
import { registerDemo } from './commands/demo.js';
import { registerInspect } from './commands/inspect.js';
import { registerHistory } from './commands/history.js';
import { registerVerify } from './commands/verify.js';
import { registerStatus } from './commands/status.js';
import { registerCleanup } from './commands/cleanup.js';
import { registerInit } from './commands/init.js';
import { registerServer } from './commands/server.js';
import { registerFleet } from './commands/fleet.js';
import { registerWorker } from './commands/worker.js';
import { registerFleetStatus } from './commands/fleet-status.js';
import { registerFleetReport } from './commands/fleet-report.js';

/** The program with every command registered; `writeErr` receives commander's own messages (usage errors, help). */
export function buildProgram(ctx: CliContext, writeErr: (s: string) => void = (s) => void process.stderr.write(s)): Command {
  const program = new Command('pgdrill')
    .description('Restore drills for PostgreSQL: prove that a backup restores, and that production was not touched.')
    .version(PGDRILL_VERSION)
    .exitOverride()
    .configureOutput({ writeErr })
    .showHelpAfterError();
  registerRun(program, ctx);
  registerDemo(program, ctx);
  registerInspect(program, ctx);
  registerHistory(program, ctx);
  registerVerify(program, ctx);
  registerStatus(program, ctx);
  registerCleanup(program, ctx);
  registerInit(program, ctx);
  registerServer(program, ctx);
  const fleet = registerFleet(program, ctx);
  registerFleetStatus(fleet, ctx);
  registerFleetReport(fleet, ctx);
  registerWorker(program, ctx);
  program.addOption(new Option('--debug', 'verbose logs on stderr').hideHelp());
  return program;
}
