/** Drive the built CLI as a user would: spawn it, read its exit code, stdout and stderr. */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

/** The built command, as package.json's "bin" names it (scripts/bundle-cli.mjs). */
export const CLI = resolve(import.meta.dirname, '../../dist/pgdrill.mjs');
/** Node's flags on the bundle's bin line (`#!/usr/bin/env -S node --expose-gc --max-semi-space-size=8`): the CLI's process-level tuning. */
export const CLI_NODE_FLAGS: readonly string[] = ['--expose-gc', '--max-semi-space-size=8'];

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly pid: number;
}

/** Run `pgdrill ARGS` as its bin line does; `onSpawn` can signal the process (tests of Ctrl-C). */
export function runCli(args: string[], opts: { env?: Record<string, string>; cwd?: string; onStderr?: (s: string, pid: number) => void } = {}): Promise<CliRun> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [...CLI_NODE_FLAGS, CLI, ...args], { env: { ...process.env, ...opts.env }, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      opts.onStderr?.(String(d), child.pid!);
    });
    child.on('error', rej);
    child.on('close', (code, signal) => res({ code, signal, stdout, stderr, pid: child.pid! }));
  });
}
