/**
 * Running the recipes of contrib/ and scripts/ as shipped: a command's code and output whatever it returns, the
 * `pgdrill` on PATH that scripts/setup links, tools a test needs (skipped without them, required under CI), and an
 * ExecStart line run as systemd would.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { TestContext } from 'node:test';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);
/** The checkout's root. */
export const ROOT = resolve(import.meta.dirname, '../..');

/** What a command returned: its exit code (-1 when it could not run or was killed) and output. */
export interface ShResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run a command (argument array, no shell); its exit code and output, whatever the code. */
export async function sh(file: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<ShResult> {
  try {
    const r = await exec(file, args, { env: opts.env ?? process.env, cwd: opts.cwd, maxBuffer: 64 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** A directory with `pgdrill` in it, as scripts/setup links it into /usr/local/bin. */
export async function binDir(parent: string): Promise<string> {
  const dir = join(parent, 'bin');
  const r = await sh('bash', [join(ROOT, 'scripts/link-bin'), dir]);
  assert.equal(r.code, 0, r.stderr);
  return dir;
}

/** Is `tool` on PATH? Skips the test when not — except under CI, which must have it. */
export async function requireTool(t: TestContext, tool: string): Promise<boolean> {
  if ((await sh('sh', ['-c', `command -v ${tool}`])).code === 0) return true;
  if (process.env.CI) throw new Error(`${tool} is missing; CI must install it (scripts/setup --with-browser)`);
  t.skip(`${tool} is not installed (scripts/setup --with-browser installs it)`);
  return false;
}

/** The environment systemd gives a root service: HOME and its default PATH, nothing of the test's. */
const SYSTEMD_ENV = { HOME: process.env.HOME ?? '/root', PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };

/** Run one ExecStart command line (paths already moved into the scratch directory) as systemd would, in `cwd`. */
export function runExecStart(line: string, cwd: string): Promise<ShResult> {
  const [file, ...args] = line.split(/\s+/);
  return sh(file!, args, { env: SYSTEMD_ENV, cwd });
}
