/**
 * The ecosystem outputs of a finished drill: JUnit XML (`--junit`), Prometheus metrics (`--metrics`) and the
 * webhook (`notify.webhook`). Run after the verdict is known and before the report is written, so that a failed
 * output can be noted in it. An output that fails is logged and noted; it never changes the verdict or the exit
 * code, and this function never throws.
 */
import { dirname } from 'node:path';
import type { WebhookConfig } from '../config/schema.js';
import { parseDuration } from '../config/duration.js';
import { databaseOf } from '../history/baseline.js';
import { listRuns } from '../history/read-history.js';
import { silentLogger, type Logger } from '../logger.js';
import type { Report } from '../report/model.js';
import { assertOutputPath, writeFileAtomic } from './atomic-file.js';
import { renderJunit } from './junit.js';
import { writeMetrics } from './metrics.js';
import { resolveWebhookUrl, scrubWebhookUrls, sendWebhook, webhookSummary, type WebhookResult } from './webhook.js';

/** Which outputs to produce. Every field is optional; none given = nothing to do. */
export interface OutputOptions {
  /** Write JUnit XML here. */
  readonly junit?: string;
  /** Write (update) a Prometheus textfile-collector file here. */
  readonly metrics?: string;
  /** POST a summary (config `notify.webhook`). */
  readonly webhook?: WebhookConfig;
}

/** What was produced; `errors` lists outputs that failed (also logged and noted). */
export interface OutputResult {
  readonly junit: string | null;
  readonly metrics: string | null;
  readonly webhook: WebhookResult | null;
  readonly errors: readonly string[];
}

/** Validate output paths before a drill starts (exit 2 on a bad one, not after the drill). */
export async function assertOutputPaths(o: OutputOptions): Promise<void> {
  await assertOutputPath('--junit', o.junit);
  await assertOutputPath('--metrics', o.metrics);
  if (o.webhook) resolveWebhookUrl(o.webhook); // url_env set to a URL, before the drill rather than after it
}

/** When the last PASS of the report's database finished, from the out directory's history (null when none). */
async function lastSuccessFromHistory(r: Report): Promise<string | null> {
  if (r.status === 'PASS') return r.run.finished_at;
  const db = databaseOf(r);
  // Silent: unreadable run directories were already reported by the baseline, and this drill's has no report yet.
  const runs = await listRuns(dirname(r.run.dir)).catch(() => []);
  return runs.find((e) => e.database === db && e.status === 'PASS' && !e.interrupted)?.finishedAt ?? null;
}

/**
 * Produce the outputs of a finished drill. `note` receives a named note for each output that failed (the caller
 * adds it to the report). Never throws.
 */
export async function publishOutputs(r: Report, o: OutputOptions, logger: Logger = silentLogger, note: (id: string, text: string) => void = () => {}): Promise<OutputResult> {
  const errors: string[] = [];
  const fail = (id: string, text: string) => {
    errors.push(text);
    logger.warn(text);
    note(id, text);
  };
  let junit: string | null = null;
  let metrics: string | null = null;
  let webhook: WebhookResult | null = null;
  if (o.junit) {
    try {
      await writeFileAtomic(o.junit, renderJunit(r));
      junit = o.junit;
      logger.info(`JUnit XML written to ${o.junit}`);
    } catch (err) {
      fail('junit', `--junit ${o.junit} could not be written: ${(err as Error).message}`);
    }
  }
  if (o.metrics) {
    try {
      const res = await writeMetrics(o.metrics, { database: databaseOf(r), report: r, lastSuccessAt: await lastSuccessFromHistory(r) });
      metrics = o.metrics;
      if (res.replacedUnparseable) logger.warn(`--metrics ${o.metrics} held text that is not in the Prometheus text format; it was replaced`);
      logger.info(`metrics written to ${o.metrics} (${res.kept} series of other databases kept)`);
    } catch (err) {
      fail('metrics', `--metrics ${o.metrics} could not be written: ${(err as Error).message}`);
    }
  }
  const w = o.webhook;
  if (w && (w.on === 'always' || r.status !== 'PASS')) {
    try {
      webhook = await sendWebhook(resolveWebhookUrl(w), webhookSummary(r, databaseOf(r), { details: w.details }), {
        timeoutMs: parseDuration(w.timeout) ?? 10_000, retries: w.retries, backoffMs: parseDuration(w.backoff) ?? 1000,
      });
      if (webhook.ok) logger.info(`webhook ${webhook.url}: delivered (attempt ${webhook.attempts.length}, HTTP ${webhook.attempts.at(-1)!.status})`);
      else fail('webhook', `webhook ${webhook.url} failed after ${webhook.attempts.length} attempt(s): ${webhook.attempts.at(-1)!.error}; the drill's verdict is unchanged`);
    } catch (err) {
      fail('webhook', `webhook failed: ${scrubWebhookUrls((err as Error).message)}; the drill's verdict is unchanged`);
    }
  }
  return { junit, metrics, webhook, errors };
}
