/**
 * `pgdrill demo`: start a throwaway local "production" cluster, seed it, write a matching config, run the full
 * drill against it, then remove the demo source. Everything `run` does, on a machine with nothing but PostgreSQL's
 * programs.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { localToolchain } from '../toolchain/toolchain.js';
import { resolveSandboxUser } from '../exec/os-user.js';
import { silentLogger, type Logger, type ProgressCallback } from '../logger.js';
import { SandboxCluster } from '../sandbox/cluster.js';
import { runDrill, type DrillResult } from '../drill/run-drill.js';
import { demoConfig, demoSeedSql } from './seed.js';
import { validateConfig } from '../config/load.js';

export interface DemoOptions {
  /** Where the run directory goes. Default ./drills. */
  readonly outDir?: string;
  readonly keep?: boolean;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  readonly progress?: ProgressCallback;
  readonly argv?: readonly string[];
  readonly format?: 'plain' | 'custom' | 'directory';
  /** Write JUnit XML here. Default: none. */
  readonly junit?: string;
  /** Update this Prometheus textfile-collector file. Default: none. */
  readonly metrics?: string;
}

export interface DemoResult extends DrillResult {
  readonly configPath: string;
  /** Confirmation that the demo source was removed too. */
  readonly sourceTeardown: string;
}

export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const logger = opts.logger ?? silentLogger;
  const progress = opts.progress ?? (() => {});
  const outDir = resolve(opts.outDir ?? './drills');
  // The demo's source: the newest system server (the drill then chooses its own programs for that major). Chosen
  // before anything is written: a machine without PostgreSQL's programs is exit 4 with nothing left behind.
  const bins = await localToolchain();
  await mkdir(outDir, { recursive: true, mode: 0o700 });
  const user = await resolveSandboxUser();
  progress({ stage: 'demo-source', state: 'start' });
  const source = await SandboxCluster.start({ bins, parentDir: outDir, osUser: user, logger, superuser: 'workflow_admin', label: 'demo-source', signal: opts.signal });
  try {
    {
      await using db = await source.open('postgres', opts.signal);
      await db.query('CREATE DATABASE directus');
    }
    {
      await using db = await source.open('directus', opts.signal);
      await db.query(demoSeedSql());
    }
    const sysid = await source.systemIdentifier();
    const raw = demoConfig(sysid);
    const configPath = join(outDir, 'pgdrill-demo.yaml');
    await writeFile(configPath, `# Written by pgdrill demo: the config a real drill of this source would use.\n${stringify(raw)}`, { mode: 0o600 });
    progress({ stage: 'demo-source', state: 'end', status: 'pass', message: `seeded directus (sysid ${sysid}); config ${configPath}` });
    const result = await runDrill({
      source: source.url('directus'), config: validateConfig(raw), outDir, keep: opts.keep, kind: 'demo', deep: true,
      signal: opts.signal, logger, progress, argv: opts.argv, format: opts.format, junit: opts.junit, metrics: opts.metrics,
    });
    const t = await source.stop();
    return { ...result, configPath, sourceTeardown: t.detail };
  } finally {
    await source.stop();
  }
}
