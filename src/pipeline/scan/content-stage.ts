/**
 * The content stage shared by run and verify: the dump's own text (a plain dump's scan, or one full pg_restore pass
 * over an archive) judged for content a psql script must not hold, then held to the config's expectations and the
 * source's catalog. What it found goes to the report's `jail` and `inventory` sections.
 */
import type { CatalogObject } from '../../catalog/objects.js';
import type { DrillConfig } from '../../config/schema.js';
import { contentChecks, summarizeInventory } from '../../inventory/expectations.js';
import type { JailReport, Report } from '../../report/model.js';
import type { Jail } from '../../sandbox/jail.js';
import type { PlainScanOptions, PlainScanResult } from '../../scan/types.js';
import { endsDrill, type DrillContext } from '../context.js';
import { jailReport } from '../report/jail-report.js';
import { hostileContentCheck } from './dump-checks.js';

/** What the content stage needs. */
export interface ContentInput {
  /** The scan of the dump: at hand (plain dumps), or read now (an archive's one pg_restore pass). */
  readonly scan: () => Promise<PlainScanResult>;
  /** An archive's content came through pg_restore (the hostile-content check names it so). */
  readonly archive: boolean;
  readonly config: Pick<DrillConfig, 'expect' | 'sandbox'>;
  readonly jail: Jail;
  readonly scanOpts: PlainScanOptions;
  /** The source's objects to expect (the dump snapshot's, or the source's now), or null. */
  readonly sourceObjects: readonly CatalogObject[] | null;
}

/** What the content stage found. */
export interface ScanResult {
  readonly scan: PlainScanResult;
  readonly jail: JailReport;
  readonly inventory: NonNullable<Report['inventory']>;
  /** `content.hostile_content` failed: the dump must never reach psql, pg_restore or the sandbox. */
  readonly refused: boolean;
}

/** Run the content stage; undefined when it failed on its own (`content.error`). */
export async function contentStage(ctx: DrillContext, input: ContentInput): Promise<ScanResult | undefined> {
  const b = ctx.builder;
  return b.stage('content', async () => {
    const scan = await input.scan();
    const refused = b.add(hostileContentCheck(scan, input.archive)).status === 'fail';
    const jail = jailReport(input.jail, input.config.sandbox.os_user, scan, input.scanOpts);
    const inventory = summarizeInventory(scan.inventory);
    for (const c of contentChecks(scan.inventory, input.config.expect, input.sourceObjects)) b.add(c);
    return { scan, jail, inventory, refused };
  }, endsDrill);
}
