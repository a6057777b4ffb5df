/** `--sandbox-major N` and `--target-major N`, shared by run and verify. */
import { InvalidArgumentError, Option, type Command } from 'commander';

function parseMajor(value: string): number {
  if (!/^\d{2}$/.test(value)) throw new InvalidArgumentError('expected a PostgreSQL major version such as 17');
  return Number(value);
}

/** The flags' values. */
export interface MajorOptions {
  readonly sandboxMajor?: number;
  readonly targetMajor?: number;
}

/** Add both flags to a command. */
export function addMajorOptions(cmd: Command, sandboxDefault: string): Command {
  return cmd
    .addOption(new Option('--sandbox-major <N>', `major of the sandbox's server (default: ${sandboxDefault}); never older than the source's major`).argParser(parseMajor))
    .addOption(new Option('--target-major <N>', 'upgrade rehearsal: restore into PostgreSQL N (at least the dump\'s major) and run every check, comparing across versions').argParser(parseMajor));
}
