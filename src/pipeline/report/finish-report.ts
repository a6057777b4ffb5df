/**
 * The end every drill shares (run, demo, verify): baseline before the verdict, the jail section, the verdict,
 * run facts, ecosystem outputs, the written report — then the interrupt or environment error rethrown.
 */
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import type { DrillConfig } from '../../config/schema.js';
import { EnvironmentError, InternalError, isBug, type InterruptedError } from '../../errors.js';
import { diskFullError, isDiskFull } from '../../exec/disk-full.js';
import type { Logger } from '../../logger.js';
import { publishOutputs } from '../../outputs/publish.js';
import type { ReportBuilder } from '../../report/builder.js';
import type { Report } from '../../report/model.js';
import { showBytesIn } from '../../report/show-bytes.js';
import { writeReports } from '../../report/write.js';
import type { Jail } from '../../sandbox/jail.js';
import type { PlainScanOptions } from '../../scan/types.js';
import { baselineStage } from './baseline-stage.js';
import { jailNotes, jailReport } from './jail-report.js';
import { peakRssBytes } from './peak-rss.js';

/** What finishing a drill needs. */
export interface FinishOptions {
  readonly builder: ReportBuilder;
  readonly report: Report;
  readonly runDir: string;
  readonly startedAt: Date;
  readonly config: DrillConfig;
  readonly jail: Jail;
  readonly scanOpts: PlainScanOptions;
  readonly logger: Logger;
  readonly junit?: string;
  readonly metrics?: string;
  readonly interrupted: InterruptedError | null;
  /** An error that ended the drill early; an EnvironmentError is rethrown (exit 4) after the report is written. */
  readonly fatal: unknown;
}

/** Compute the verdict, write every rendering and output, and return the exit code (or throw). */
export async function finishReport(o: FinishOptions): Promise<{ report: Report; runDir: string; exitCode: 0 | 1 }> {
  const { builder, report, config } = o;
  // Names from a SQL_ASCII database as the report shows them, before the baseline matches them with an earlier report's
  showBytesIn(report);
  // Baseline: the previous PASS of this database, before the verdict (thresholds can FAIL the drill).
  if (!o.interrupted) await baselineStage(builder, report, config.thresholds, o.logger);
  report.jail ??= jailReport(o.jail, config.sandbox.os_user, null, o.scanOpts);
  jailNotes(builder, o.jail, config.sandbox.os_user);
  const finished = new Date();
  report.checks = builder.checks;
  report.stages = builder.stages;
  report.notes = builder.notes;
  report.interrupted = o.interrupted !== null;
  report.status = builder.failed || o.interrupted ? 'FAIL' : 'PASS';
  report.run.finished_at = finished.toISOString();
  report.run.duration_ms = finished.getTime() - o.startedAt.getTime();
  report.run.host = hostname();
  report.run.user = userInfo().username;
  report.run.peak_rss_bytes = peakRssBytes();
  showBytesIn(report);
  // JUnit, metrics, webhook: a failing output is logged and noted, never changes the verdict.
  await publishOutputs(report, { junit: o.junit, metrics: o.metrics, webhook: config.notify?.webhook }, o.logger, (id, text) => builder.note(id, text));
  await writeReports(report, o.runDir);
  o.logger.info(`${report.kind} finished: ${report.status}${o.interrupted ? ' (interrupted)' : ''}`);
  if (o.interrupted) throw o.interrupted;
  if (o.fatal instanceof EnvironmentError) throw o.fatal;
  if (isDiskFull(o.fatal)) throw await diskFullError(o.fatal, undefined, 'in');
  // Not a verdict on the backup but a bug: exit 70 (the report, written above, says drill.aborted).
  if (isBug(o.fatal)) {
    throw new InternalError(String((o.fatal as Error)?.message ?? o.fatal), join(o.runDir, 'run.log'), { cause: o.fatal });
  }
  return { report, runDir: o.runDir, exitCode: report.status === 'PASS' ? 0 : 1 };
}
