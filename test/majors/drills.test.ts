/**
 * Drills across PostgreSQL majors (issue 22 acceptance), on real clusters of each major: servers 13, 14, 16, 17, 18
 * from the server store (bash scripts/pg-majors), 15 from Debian.
 * - a 13 and a 14 source: `pgdrill run` PASS with default settings, the sandbox of the source's own major, the report
 *   naming the source's, pg_dump's and the sandbox's versions;
 * - a 15 source with `--target-major` 16, 17, 18 (upgrade rehearsals), and `verify --target-major` of a 15 dump: PASS
 *   with every fidelity check run and the cross-major normalisations listed;
 * - per major, the mutation control: one row changed in the restored copy FAILs the content hashes, so the
 *   normalisations hide no real difference.
 * A missing major is skipped with the command that installs it (a failure under CI=true); a build without the
 * per-major toolchain skips them all.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ReportSchema } from '../../src/report/model.js';
import { runCli } from '../helpers/cli.js';
import { scratchDir, urlOf, bins } from '../helpers/clusters.js';
import { requireMajor } from '../helpers/majors.js';
import { runProcess } from '../../src/exec/run-process.js';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { DB, FIDELITY_CHECKS, clientsConfig, drillWithChangedRow, failedChecks, requireToolchain, startFixtureSource, statuses, versionsOf } from './helpers.js';

const PASSED = Object.fromEntries(FIDELITY_CHECKS.map((n) => [n, 'pass']));

/** The normalisations each upgrade of a 15 source must list (the fixture has an object for every one). */
const EXPECTED_RULES: Record<number, string[]> = {
  16: ['view-column-qualification', 'xmlserialize-no-indent'],
  17: ['view-column-qualification', 'xmlserialize-no-indent', 'domain-not-null-constraint', 'maintain-privilege'],
  18: ['view-column-qualification', 'xmlserialize-no-indent', 'domain-not-null-constraint', 'maintain-privilege', 'not-null-constraint'],
};

describe('a source of 13 or 14 drills into a sandbox of its own major', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let config: string;
  before(async () => {
    scratch = await scratchDir('pgdrill-majors-');
    config = await clientsConfig(scratch.path);
  });
  after(async () => {
    await scratch[Symbol.asyncDispose]();
  });

  for (const major of [13, 14]) {
    test(`${major}: run PASS, sandbox ${major}, the three versions named; a changed row FAILs`, async (t) => {
      if (!(await requireMajor(t, major)) || !(await requireToolchain(t))) return;
      const source = await startFixtureSource(major, scratch.path);
      try {
        const r = await runCli(['run', '--source', urlOf(source, DB), '--deep', '--config', config, '--out', join(scratch.path, `out-${major}`), '--json']);
        assert.equal(r.code, 0, r.stderr + r.stdout.slice(0, 3000));
        const report = ReportSchema.parse(JSON.parse(r.stdout));
        assert.equal(report.status, 'PASS');
        assert.deepEqual(statuses(report, FIDELITY_CHECKS), PASSED);
        const v = versionsOf(r.stdout);
        assert.equal(v.source_major, major);
        assert.equal(v.sandbox_major, major, 'the sandbox runs the source\'s major by default');
        assert.ok(v.pg_dump_major !== null && v.pg_dump_major >= major, `pg_dump ${v.pg_dump_major} can dump ${major}`);
        assert.match(report.restore?.server_version ?? '', new RegExp(`^${major}\\.`));
        assert.deepEqual(report.fidelity?.normalisations ?? [], [], 'same major: nothing normalised');
        if (major === 13) assert.match(report.checks.find((c) => c.name === 'fidelity.amcheck')!.detail, /B-tree indexes only/);

        const mutated = await drillWithChangedRow(urlOf(source, DB), join(scratch.path, `mutated-${major}`), { config });
        assert.equal(mutated.report.status, 'FAIL');
        assert.deepEqual(failedChecks(mutated.report), ['fidelity.content_hashes']);
      } finally {
        await source.stop();
      }
    });
  }
});

describe('upgrade rehearsals of a 15 source: --target-major 16, 17, 18', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let source: SandboxCluster;
  let dump: string;
  let globals: string;
  let config: string;
  before(async () => {
    scratch = await scratchDir('pgdrill-upgrade-');
    config = await clientsConfig(scratch.path);
    source = await startFixtureSource(15, scratch.path);
    // A 15 dump and its globals, as a 15 client writes them, for verify.
    const b = await bins();
    dump = join(scratch.path, `${DB}.sql`);
    globals = join(scratch.path, `${DB}.globals.sql`);
    await runProcess({ bin: b.path('pg_dump'), args: ['--file', dump, DB], env: source.env(DB) });
    await runProcess({ bin: b.path('pg_dumpall'), args: ['--globals-only', '--file', globals], env: source.env('postgres') });
  });
  after(async () => {
    await source?.stop();
    await scratch?.[Symbol.asyncDispose]();
  });

  for (const target of [16, 17, 18]) {
    test(`run --target-major ${target}: PASS, every fidelity check run, normalisations listed; a changed row FAILs`, async (t) => {
      if (!(await requireMajor(t, target)) || !(await requireToolchain(t))) return;
      const r = await runCli(['run', '--source', urlOf(source, DB), '--deep', '--target-major', String(target), '--config', config, '--out', join(scratch.path, `run-${target}`), '--json']);
      assert.equal(r.code, 0, r.stderr + r.stdout.slice(0, 3000));
      const report = ReportSchema.parse(JSON.parse(r.stdout));
      assert.equal(report.status, 'PASS', failedChecks(report).join(', '));
      assert.deepEqual(statuses(report, FIDELITY_CHECKS), PASSED);
      const v = versionsOf(r.stdout);
      assert.deepEqual([v.source_major, v.sandbox_major, v.target_major], [15, target, target]);
      const listed = report.fidelity!.normalisations!;
      assert.deepEqual(listed.map((n) => n.id), EXPECTED_RULES[target]);
      for (const n of listed) {
        assert.deepEqual([n.source_major, n.sandbox_major], [15, target]);
        assert.ok(n.catalog_facts + n.round_trip_objects > 0, `${n.id} applied to something of the fixture`);
      }
      assert.match(report.checks.find((c) => c.name === 'fidelity.catalog')!.detail, new RegExp(`source PostgreSQL 15, sandbox ${target}: \\d+ catalog fact\\(s\\) normalised`));

      const mutated = await drillWithChangedRow(urlOf(source, DB), join(scratch.path, `mutated-${target}`), { targetMajor: target, config });
      assert.equal(mutated.report.status, 'FAIL');
      assert.deepEqual(failedChecks(mutated.report), ['fidelity.content_hashes']);
    });

    test(`verify --target-major ${target} of a 15 dump: PASS, restored into ${target}`, async (t) => {
      if (!(await requireMajor(t, target)) || !(await requireToolchain(t))) return;
      const r = await runCli(['verify', dump, '--globals', globals, '--target-major', String(target), '--config', config, '--out', join(scratch.path, `verify-${target}`), '--json']);
      assert.equal(r.code, 0, r.stderr + r.stdout.slice(0, 3000));
      const report = ReportSchema.parse(JSON.parse(r.stdout));
      assert.equal(report.status, 'PASS', failedChecks(report).join(', '));
      assert.deepEqual(statuses(report, ['fidelity.row_counts', 'fidelity.amcheck']), { 'fidelity.row_counts': 'pass', 'fidelity.amcheck': 'pass' });
      const v = versionsOf(r.stdout);
      assert.deepEqual([v.source_major, v.pg_dump_major, v.sandbox_major], [15, 15, target]);
    });
  }
});
