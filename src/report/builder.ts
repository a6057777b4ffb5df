/**
 * Collects a drill's facts as its stages run: checks, stage timings, notes. The report itself is assembled from
 * these at the end; renderers only read it.
 */
import { silentLogger, type Logger, type ProgressCallback } from '../logger.js';
import { describeFileSystem, isDiskFull } from '../exec/disk-full.js';
import { boundText, REPORT_DETAIL_MAX } from './bounded-text.js';
import { stageOf, type CheckName, type StageName, type StageOf } from './checks/index.js';
import type { Check, CheckResult, CheckStatus, Note, Stage } from './model.js';

/** The stages that can throw: each has its `<stage>.error` check. */
export type StageThatThrows = StageOf<Extract<CheckName, `${string}.error`>>;
/** The stages that can be skipped: each has its `<stage>.skipped` check. */
export type SkippableStage = StageOf<Extract<CheckName, `${string}.skipped`>>;

export class ReportBuilder {
  readonly checks: Check[] = [];
  readonly stages: Stage[] = [];
  readonly notes: Note[] = [];

  /**
   * `logger` receives the whole detail of a check whose detail is longer than a report keeps (run.log); a stage that
   * fails on a full disk names the file system of the error's path, else of `workDir` (the run directory).
   */
  constructor(private readonly progress: ProgressCallback = () => {}, private readonly logger: Logger = silentLogger, private readonly workDir?: string) {}

  /** Record a check as a stage emits it (its name and stage held to the registry by its type). */
  add(check: CheckResult): Check {
    return this.record(check);
  }

  /** Shorthand for a check from a condition. */
  expect<N extends CheckName>(name: N, stage: StageOf<N>, ok: boolean, passDetail: string, failDetail: string, evidence?: Record<string, unknown>): Check {
    return this.record({ name, stage, status: ok ? 'pass' : 'fail', detail: ok ? passDetail : failDetail, evidence });
  }

  /** Take the checks another builder recorded (parts of a stage that ran side by side), in their order, as they are (already bounded and logged). */
  adopt(checks: readonly Check[]): void {
    this.checks.push(...checks);
  }

  /**
   * The one place a check is recorded: its stage is the registry's (src/report/checks/) whatever the caller built,
   * and a detail longer than `REPORT_DETAIL_MAX` is cut in the report and logged whole.
   */
  private record(check: Omit<Check, 'stage'> & { readonly stage?: StageName }): Check {
    const { name, status, detail, evidence } = check;
    if (detail.length > REPORT_DETAIL_MAX) this.logger.info(`check ${name} (${status}), whole detail: ${detail}`);
    const recorded: Check = { name, stage: stageOf(name), status, detail: boundText(detail, REPORT_DETAIL_MAX), ...(evidence === undefined ? {} : { evidence }) };
    this.checks.push(recorded);
    return recorded;
  }

  note(id: string, text: string): void {
    if (!this.notes.some((n) => n.id === id)) this.notes.push({ id, text });
  }

  /** Did any check fail so far? */
  get failed(): boolean {
    return this.checks.some((c) => c.status === 'fail');
  }

  /**
   * Run one stage, timing it. A stage whose function throws gets a failing check `<stage>.error` with the message,
   * unless `rethrow` says the error must end the drill (interrupts, environment errors) — it is still timed.
   */
  async stage<T>(name: StageThatThrows, fn: () => Promise<T>, rethrow: (err: unknown) => boolean): Promise<T | undefined> {
    const startedAt = new Date();
    const before = this.checks.length;
    const t0 = performance.now();
    this.progress({ stage: name, state: 'start' });
    let status: CheckStatus = 'pass';
    try {
      return await fn();
    } catch (err) {
      status = 'fail';
      if (!rethrow(err)) {
        const detail = (err as Error).message ?? String(err);
        const where = (err as NodeJS.ErrnoException).path ?? this.workDir;
        const full = where && (isDiskFull(err) || /No space left on device/.test(detail)) ? ` — ${await describeFileSystem(where)}` : '';
        this.record({ name: `${name}.error`, status: 'fail', detail: `${detail}${full}` });
        return undefined;
      }
      throw err;
    } finally {
      const mine = this.checks.slice(before);
      if (mine.some((c) => c.status === 'fail')) status = 'fail';
      else if (status === 'pass' && mine.length && mine.every((c) => c.status === 'skip')) status = 'skip';
      else if (status === 'pass' && mine.some((c) => c.status === 'warn')) status = 'warn';
      this.stages.push({ name, started_at: startedAt.toISOString(), duration_ms: Math.round(performance.now() - t0), status });
      this.progress({ stage: name, state: 'end', status });
    }
  }

  /** Record that a stage did not run, and why. */
  skipStage(name: SkippableStage, why: string): void {
    this.stages.push({ name, started_at: new Date().toISOString(), duration_ms: 0, status: 'skip' });
    this.record({ name: `${name}.skipped`, status: 'skip', detail: why });
    this.progress({ stage: name, state: 'end', status: 'skip', message: why });
  }
}
