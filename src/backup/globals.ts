/**
 * The roles beside the dump: pg_dump writes no CREATE ROLE (roles are cluster-global). pg_dumpall
 * `--globals-only --no-role-passwords` (readable without superuser), falling back to `--roles-only`; when even
 * that is refused, the result says so and the report carries it as a named note — never silently.
 */
import { createWriteStream } from 'node:fs';
import { rm, rename } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { ToolError } from '../errors.js';
import type { Toolchain } from '../toolchain/toolchain.js';
import { startProcess } from '../exec/run-process.js';
import type { Logger } from '../logger.js';
import { HashingStream } from './hashing-stream.js';

/** What was captured of the globals. */
export interface GlobalsResult {
  readonly mode: 'globals-only' | 'roles-only' | 'none';
  readonly path: string | null;
  readonly sha256: string | null;
  readonly sizeBytes: number;
  /** Why something was not captured, for the report. */
  readonly note: string | null;
  readonly args: readonly string[];
}

async function dumpall(o: CaptureGlobalsOptions, flag: string): Promise<{ sha256: string; size: number; args: string[] }> {
  const args = [flag, '--no-role-passwords', '--no-password'];
  const partial = `${o.path}.partial`;
  const proc = startProcess({ bin: o.bins.path('pg_dumpall'), args, env: o.env, stdout: 'pipe', signal: o.signal });
  const hasher = new HashingStream([], undefined, false); // a few KB: hashed inline, no worker to start
  try {
    await Promise.all([pipeline(proc.stdout!, hasher, createWriteStream(partial, { mode: 0o600 })), proc.done]);
    await rename(partial, o.path);
    return { sha256: await hasher.digest(), size: hasher.bytes, args };
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
}

export interface CaptureGlobalsOptions {
  readonly bins: Toolchain;
  readonly env: Readonly<Record<string, string>>;
  readonly path: string;
  readonly signal?: AbortSignal;
  readonly logger: Logger;
}

/** Capture roles (and tablespaces, with --globals-only). Never throws for a permission problem: it reports it. */
export async function captureGlobals(o: CaptureGlobalsOptions): Promise<GlobalsResult> {
  const failures: string[] = [];
  for (const [mode, flag] of [['globals-only', '--globals-only'], ['roles-only', '--roles-only']] as const) {
    try {
      const r = await dumpall(o, flag);
      return {
        mode, path: o.path, sha256: r.sha256, sizeBytes: r.size, args: r.args,
        note: failures.length ? `--globals-only was refused (${failures[0]}); captured roles only` : null,
      };
    } catch (err) {
      if (!(err instanceof ToolError)) throw err;
      const why = err.stderrTail.trim().split('\n').pop() ?? err.message;
      failures.push(why);
      o.logger.warn(`pg_dumpall ${flag} failed: ${why}`);
    }
  }
  return {
    mode: 'none', path: null, sha256: null, sizeBytes: 0, args: [],
    note: `roles could not be captured (${failures.join('; ')}); roles referenced by the dump were recreated in the sandbox as NOLOGIN placeholders`,
  };
}
