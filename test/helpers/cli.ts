/** Drive the built CLI as a user would: spawn it, read its exit code, stdout and stderr. */
import { resolve } from 'node:path';
import { spawnOutput, type ProcessOutput } from './spawn-output.js';

/** The built command, as package.json's "bin" names it (scripts/bundle-cli.mjs). */
export const CLI = resolve(import.meta.dirname, '../../dist/pgdrill.mjs');
/** Node's flags on the bundle's bin line (`#!/usr/bin/env -S node --expose-gc --max-semi-space-size=8`): the CLI's process-level tuning. */
export const CLI_NODE_FLAGS: readonly string[] = ['--expose-gc', '--max-semi-space-size=8'];

export type CliRun = ProcessOutput;

/** Run `pgdrill ARGS` as its bin line does; `onStderr` can signal the process (tests of Ctrl-C). */
export function runCli(args: string[], opts: { env?: Record<string, string>; cwd?: string; onStderr?: (s: string, pid: number) => void } = {}): Promise<CliRun> {
  return spawnOutput(process.execPath, [...CLI_NODE_FLAGS, CLI, ...args], { env: { ...process.env, ...opts.env }, cwd: opts.cwd, onStderr: opts.onStderr });
}
