/** Shared by the overlap tests: a pagila source, a config with `backup.overlap: false`, and a drill through the CLI. */
import { before } from 'node:test';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { urlOf, usePagila, type PagilaFixture } from '../helpers/clusters.js';
import { ReportSchema, type Report } from '../../src/report/model.js';

/** What a drill through the CLI left: exit code, the parsed report.json, where it went, stderr. */
export interface CliDrill {
  readonly code: number | null;
  readonly report: Report;
  readonly out: string;
  readonly runDir: string;
  readonly stderr: string;
}

/** Register the fixture's hooks in the current describe block. Read `noOverlap` inside tests only. */
export function useOverlapDrills(): {
  readonly fx: PagilaFixture;
  readonly noOverlap: string;
  drill(name: string, extra?: string[], env?: Record<string, string>): Promise<CliDrill>;
} {
  const fx = usePagila();
  let noOverlap = '';
  before(async () => {
    noOverlap = join(fx.dir, 'no-overlap.yaml');
    await writeFile(noOverlap, 'backup:\n  overlap: false\n');
  });
  return {
    fx,
    get noOverlap() {
      return noOverlap;
    },
    async drill(name, extra = [], env = {}) {
      const out = join(fx.dir, name);
      const r = await runCli(['run', '--source', urlOf(fx.source, 'pagila'), '--out', out, '--json', ...extra], { env });
      const report = ReportSchema.parse(JSON.parse(r.stdout));
      return { code: r.code, report, out, runDir: report.run.dir, stderr: r.stderr };
    },
  };
}
