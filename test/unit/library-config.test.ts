/**
 * The library validates every config object it is given: one that is not valid is a ConfigError (exit 2 in the
 * CLI) before anything is done, however much it looks like a validated config (an object with `backup.format` used
 * to be taken as validated as it was, and failed later with a TypeError).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, runDrill, verifyArtifact, type DrillConfigInput } from '../../src/index.js';

const invalid = [
  { backup: { format: 'plain', bogus: 1 } },
  { backup: { format: 'plain' }, thresholds: { max_table_rows_drop_pct: 'five' } },
  { backup: { format: 'zip' } },
] as unknown as DrillConfigInput[];

test('runDrill and verifyArtifact refuse an invalid config object with a ConfigError naming the problem', async () => {
  for (const config of invalid) {
    const isConfigError = (e: unknown) => e instanceof ConfigError && e.exitCode === 2 && e.problems.length > 0;
    await assert.rejects(runDrill({ config, outDir: '/nonexistent/pgdrill-never-created' }), isConfigError, JSON.stringify(config));
    await assert.rejects(verifyArtifact({ artifact: '/nonexistent/dump.sql', config, outDir: '/nonexistent/pgdrill-never-created' }), isConfigError, JSON.stringify(config));
  }
});
