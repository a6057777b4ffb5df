/**
 * Helpers of the drills across majors (issue 22): a small source of any major loaded with fixture.sql, the report's
 * versions, the check statuses, and whether the built CLI has the toolchain's `--target-major` at all.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { z } from 'zod';
import { loadConfig } from '../../src/config/load.js';
import { runDrill, type DrillResult, type RunDrillOptions } from '../../src/drill/run-drill.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import type { Report } from '../../src/report/model.js';
import { runCli } from '../helpers/cli.js';
import { psql, startSource } from '../helpers/clusters.js';
import { majorPrograms, startSourceOfMajor } from '../helpers/majors.js';
import { sqlOn } from '../fidelity/helpers.js';

export const FIXTURE = join(import.meta.dirname, 'fixture.sql');
/** The database the fixture is loaded into. */
export const DB = 'shop';

/** Every check of the restored copy's fidelity, each of which must have run (pass) in a PASS across majors. */
export const FIDELITY_CHECKS = ['fidelity.row_counts', 'fidelity.content_hashes', 'fidelity.catalog', 'fidelity.round_trip', 'fidelity.amcheck'] as const;

/** report.versions (src/report/model.ts, the toolchain's), read on its own so that these tests name what is missing. */
const VersionsSchema = z.object({
  source_major: z.number().nullable(),
  pg_dump_major: z.number().nullable(),
  sandbox_major: z.number(),
  target_major: z.number().nullable(),
});
export type Versions = z.infer<typeof VersionsSchema>;

/** The versions a report names; fails the test when the report has none. */
export function versionsOf(json: string): Versions {
  const raw = JSON.parse(json) as { versions?: unknown };
  return VersionsSchema.parse(raw.versions);
}

let flag: Promise<boolean> | null = null;
/**
 * Does the built CLI choose programs per major (`run --target-major`)? Until it does, a drill across majors cannot
 * be asked for: the test is skipped, naming what is missing (in CI too: a build without the toolchain is not broken,
 * it cannot drill across majors yet; normalisations.test.ts covers the rules on real servers meanwhile).
 */
export async function requireToolchain(t: TestContext): Promise<boolean> {
  flag ??= runCli(['run', '--help']).then((r) => r.stdout.includes('--target-major'));
  if (await flag) return true;
  t.skip('the built CLI has no --target-major: the per-major toolchain (issue 22 item 1) is not in this build');
  return false;
}

/** A source of `major` (the system's server for its own major, else the server store's), with the fixture loaded. */
export async function startFixtureSource(major: number, parentDir: string): Promise<SandboxCluster> {
  const label = `test-source-${major}`;
  const source = (await startSourceOfMajor(major, { parentDir, label })) ?? (await startSource({ parentDir, label }));
  try {
    await psql(source, 'postgres', { sql: `CREATE DATABASE ${DB}` });
    await psql(source, DB, { files: [FIXTURE] });
    return source;
  } catch (err) {
    await source.stop();
    throw err;
  }
}

/**
 * A config file naming where scripts/pg-majors put client programs (`binaries.search_path`): pgdrill does not look
 * there by itself, and the round trip of a 16–18 sandbox needs a pg_dump of its major or newer. Its path.
 */
export async function clientsConfig(dir: string): Promise<string> {
  const clients = (await majorPrograms()).map((m) => m.clientBindir).filter((d): d is string => !!d && !d.startsWith('/usr/lib/postgresql/'));
  const path = join(dir, 'clients.yaml');
  await writeFile(path, `binaries:\n  search_path:\n${clients.map((d) => `    - ${JSON.stringify(d)}\n`).join('')}`.replace(/search_path:\n$/, 'search_path: []\n'));
  return path;
}

/** The status of each named check. */
export function statuses(report: Pick<Report, 'checks'>, names: readonly string[]): Record<string, string | undefined> {
  return Object.fromEntries(names.map((n) => [n, report.checks.find((c) => c.name === n)?.status]));
}

/** Names of the failed checks. */
export function failedChecks(report: Pick<Report, 'checks'>): string[] {
  return report.checks.filter((c) => c.status === 'fail').map((c) => c.name);
}

/**
 * The mutation control: a deep drill (library) whose restored copy has one row changed before the checks. It must
 * FAIL on the content hashes however the majors differ: the normalisations cannot hide a changed row.
 */
export async function drillWithChangedRow(url: string, outDir: string, opts: { targetMajor?: number; config?: string } = {}): Promise<DrillResult> {
  // The toolchain's option, passed through as the library takes it (RunDrillOptions gains it with --target-major).
  const options: RunDrillOptions & { targetMajor?: number } = {
    source: url, outDir, deep: true, targetMajor: opts.targetMajor,
    config: opts.config ? await loadConfig(opts.config) : undefined,
    afterRestore: (copy) => sqlOn(copy, "UPDATE app.t SET note = 'changed in the copy' WHERE id = 7"),
  };
  return runDrill(options);
}
