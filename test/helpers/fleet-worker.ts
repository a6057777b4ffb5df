/** A `pgdrill worker` process for the fleet tests, and the queue's drill jobs read back from the coordination database. */
import { spawn, type ChildProcess } from 'node:child_process';
import { CLI, CLI_NODE_FLAGS } from './cli.js';
import { psql } from './clusters.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';

/** A running worker: its directories, process, everything it wrote (stdout and stderr), and its exit. */
export interface TestWorker {
  readonly out: string;
  readonly state: string;
  readonly proc: ChildProcess;
  log: string;
  readonly exited: Promise<number | null>;
}

/** Start a worker polling fast (tick 1 s, poll 300 ms, maintenance 1 s); `extra` flags after those. */
export function startWorker(queueUrl: string, out: string, state: string, extra: string[] = [], env: Record<string, string> = {}): TestWorker {
  const proc = spawn(process.execPath, [...CLI_NODE_FLAGS, CLI, 'worker', '--queue', queueUrl, '--out', out, '--state-dir', state, '--tick', '1000', '--poll', '300', '--maintenance', '1', ...extra], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const w: TestWorker = { out, state, proc, log: '', exited: new Promise((r) => proc.on('close', (code) => r(code))) };
  proc.stdout?.on('data', (d) => (w.log += d));
  proc.stderr?.on('data', (d) => (w.log += d));
  return w;
}

/** One drill job of the queue, as pg-boss 10 keeps it. */
export interface JobRow {
  readonly id: string;
  readonly key: string;
  readonly state: string;
  readonly retry_count: number;
  readonly started_on: string | null;
  readonly output: { worker?: string; verdict?: string; stopReason?: string | null; exitCode?: number | null; cause?: string | null; runDir?: string | null; handedBack?: boolean; reason?: string } | null;
}

/** Every drill job in the coordination database `db` of cluster `c`, oldest first. */
export async function drillJobs(c: SandboxCluster, db: string): Promise<JobRow[]> {
  const out = await psql(c, db, {
    sql: `SELECT coalesce(json_agg(json_build_object('id', id, 'key', singleton_key, 'state', state, 'retry_count', retry_count, 'started_on', started_on, 'output', output) ORDER BY created_on), '[]') FROM pgdrill_queue.job WHERE name = 'pgdrill-drill'`,
  });
  return JSON.parse(out) as JobRow[];
}
