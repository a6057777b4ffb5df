/** Helpers of the fidelity tests: run SQL on a restored copy (from the afterRestore hook), run a drill as a library. */
import pg from 'pg';
import { join } from 'node:path';
import { runDrill, type DrillResult, type RunDrillOptions } from '../../src/drill/run-drill.js';
import type { RestoredCopy } from '../../src/fidelity/fidelity-stage.js';
import type { Report } from '../../src/report/model.js';

/** Run SQL on the restored copy as the sandbox's superuser. */
export async function sqlOn(copy: RestoredCopy, sql: string): Promise<void> {
  const c = new pg.Client({ host: copy.env.PGHOST, port: Number(copy.env.PGPORT), user: copy.env.PGUSER, database: copy.database });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** A drill of `url` into `outDir/<name>`, with fidelity on (deep) and an optional mutation of the restored copy. */
export function drill(url: string, outDir: string, name: string, mutate?: string, deep = true, config?: RunDrillOptions['config']): Promise<DrillResult> {
  return runDrill({
    source: url, outDir: join(outDir, name), deep, config,
    afterRestore: mutate ? (copy) => sqlOn(copy, mutate) : undefined,
  });
}

/** The check of that name (fails the test when absent). */
export function check(r: Report, name: string): Report['checks'][number] {
  const c = r.checks.find((x) => x.name === name);
  if (!c) throw new Error(`no check ${name} in: ${r.checks.map((x) => x.name).join(', ')}`);
  return c;
}

/** Names of the failed checks. */
export function failed(r: Report): string[] {
  return r.checks.filter((c) => c.status === 'fail').map((c) => c.name);
}
