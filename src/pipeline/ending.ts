/**
 * How a drill's stages end: normally, or with an error that ends the drill (an interrupt, an environment error, a
 * bug: endsDrill) — recorded as `drill.aborted`, and rethrown by finishReport once the report is written.
 */
import { InterruptedError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ReportBuilder } from '../report/builder.js';

/** The error that ended the drill early, if any: an interrupt, or another (`fatal`). */
export interface Ending {
  readonly interrupted: InterruptedError | null;
  readonly fatal: unknown;
}

/** Run `fn`; an error it throws is returned, not thrown. */
export async function settle<T>(fn: () => Promise<T>): Promise<{ readonly value: T; readonly ended: null } | { readonly value: null; readonly ended: { readonly error: unknown } }> {
  try {
    return { value: await fn(), ended: null };
  } catch (error) {
    return { value: null, ended: { error } };
  }
}

/** Record the error that ended the stages (`drill.aborted`, its stack in run.log unless an interrupt). */
export function recordEnding(builder: ReportBuilder, logger: Logger, scrub: (s: string) => string, ended: { readonly error: unknown } | null): Ending {
  if (!ended) return { interrupted: null, fatal: null };
  const err = ended.error;
  if (!(err instanceof InterruptedError)) logger.debug(`drill aborted: ${scrub((err as Error)?.stack ?? String(err))}`);
  builder.add({ name: 'drill.aborted', stage: 'drill', status: 'fail', detail: scrub((err as Error).message) });
  return err instanceof InterruptedError ? { interrupted: err, fatal: null } : { interrupted: null, fatal: err };
}
