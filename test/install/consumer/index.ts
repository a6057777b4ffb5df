/**
 * A consumer of the published package (test/install/consumer.test.ts installs the packed tarball beside this file
 * and compiles it with tsc under `moduleResolution: nodenext`, then runs it): it imports `pgdrill` by its package
 * name, gives `runDrill` a typed config and reads a typed result, as docs/library.md shows.
 */
import {
  ConfigError, EnvironmentError, listRuns, runDrill, validateConfig,
  type Check, type DrillConfig, type DrillConfigInput, type DrillResult, type HistoryEntry, type Report, type RunDrillOptions,
} from 'pgdrill';

/** A config as in the YAML file: the input type, defaults left out. */
const config: DrillConfigInput = { backup: { format: 'custom', globals: false }, thresholds: { max_table_rows_drop_pct: 5 } };
// @ts-expect-error: 'zip' is no dump format, a compile error for a typed config
const typo: DrillConfigInput = { backup: { format: 'zip' } };
/** An already validated config fits the input type too. */
const validated: DrillConfig = validateConfig(config);
const again: RunDrillOptions = { config: validated };

/** What a scheduler built on pgdrill reads from a drill. */
export async function drill(source: string, outDir: string): Promise<{ status: Report['status']; failed: string[]; runs: number }> {
  const result: DrillResult = await runDrill({ source, config, outDir });
  const failed = result.report.checks.filter((c: Check) => c.status === 'fail').map((c) => c.name);
  const runs: HistoryEntry[] = await listRuns(outDir);
  return { status: result.report.status, failed, runs: runs.length };
}

/** Run by the test: two cheap real calls through the installed package. Prints what each threw. */
async function main(outDir: string): Promise<void> {
  const outcome = async (opts: RunDrillOptions): Promise<string> => {
    try {
      await runDrill(opts);
      return 'no error';
    } catch (err) {
      if (err instanceof ConfigError) return `ConfigError ${err.exitCode}: ${err.problems.join('; ')}`;
      if (err instanceof EnvironmentError) return `EnvironmentError ${err.exitCode}`;
      return `${(err as Error).name}: ${(err as Error).message}`;
    }
  };
  // Invalid: an unknown key. Validated, so a ConfigError (exit 2 in the CLI) before anything is done.
  const invalid = await outcome({ config: { backup: { format: 'plain', bogus: 1 } } as DrillConfigInput, outDir });
  // Valid but partial (the rest defaults): validated and filled in, never mistaken for a validated config (it was a
  // TypeError). The source does not exist: the guard cannot connect, an EnvironmentError (exit 4).
  const partial = await outcome({ config: { backup: { format: 'plain' } }, source: 'postgresql://nobody@/db?host=/nonexistent-pgdrill-socket-dir', outDir });
  console.log(JSON.stringify({ invalid, partial, typo: typo !== null, again: again.config !== undefined }));
}

if (process.argv[2] === 'run') await main(process.argv[3]!);
