/** The baseline stage of a drill: compare with the previous PASS of the same database before the verdict. */
import type { Thresholds } from '../../config/schema.js';
import { validateConfig } from '../../config/load.js';
import { baselineFor } from '../../history/baseline.js';
import type { Logger } from '../../logger.js';
import type { ReportBuilder } from '../../report/builder.js';
import type { Report } from '../../report/model.js';

/**
 * Run as the last stage, once the report holds the dump's size, inventory and row counts: adds the `baseline.*`
 * checks to the builder (so a suspicious change FAILs the drill) and fills `report.baseline`.
 */
export async function baselineStage(builder: ReportBuilder, report: Report, thresholds: Thresholds | undefined, logger: Logger): Promise<void> {
  // A hand-built config object (library use) may lack thresholds: the documented defaults apply.
  const th = thresholds ?? validateConfig({}).thresholds;
  await builder.stage('baseline', async () => {
    const { baseline, checks } = await baselineFor(report, th, logger);
    report.baseline = baseline;
    for (const c of checks) builder.add(c);
  }, () => false);
}
