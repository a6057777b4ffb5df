/**
 * The report assembled from the stages' results, in one place: the guard's `source` and `production`, the backup's
 * section, the content stage's `jail` and `inventory`, the restore's `restore`, `tables`, `fidelity` and
 * `teardown`, the proof's `production` and `production_untouched`. The verdict, checks and run facts are added
 * by `finishReport`.
 */
import type { Report, VersionsReport } from '../../report/model.js';
import type { ProofResult } from '../proof.js';
import type { RestoreResult } from '../restore/restore-stage.js';
import type { ScanResult } from '../scan/content-stage.js';
import { emptyReport } from './empty-report.js';

/** Every stage's result a report is made of. */
export interface DrillResults {
  readonly kind: Report['kind'];
  readonly runDir: string;
  readonly startedAt: Date;
  readonly argv: readonly string[];
  readonly scrub: (s: string) => string;
  readonly metadata: Report['metadata'];
  readonly versions: VersionsReport;
  /** The guarded source's sections (sourceSections), or null without a source. */
  readonly source: Pick<Report, 'source' | 'production'> | null;
  readonly backup: Report['backup'];
  /** The content stage's result, or null when it did not run (or failed on its own). */
  readonly content: ScanResult | null;
  readonly restored: RestoreResult;
  readonly proof: ProofResult | null;
}

/** Assemble the report from the stages' results. */
export function assembleReport(r: DrillResults): Report {
  const empty = emptyReport(r.kind, r.runDir, r.startedAt, r.argv, r.scrub, r.metadata);
  return {
    ...empty,
    source: r.source?.source ?? empty.source,
    backup: r.backup,
    inventory: r.content?.inventory ?? null,
    restore: r.restored.restore,
    tables: [...r.restored.tables],
    teardown: r.restored.teardown,
    production_untouched: r.proof?.untouched ?? null,
    production: r.proof?.production ?? r.source?.production ?? empty.production,
    versions: r.versions,
    ...(r.content ? { jail: r.content.jail } : {}),
    // run, demo and verify alike: verify's copy is compared with the dump's own rows and hashes.
    fidelity: r.restored.fidelity,
  };
}
