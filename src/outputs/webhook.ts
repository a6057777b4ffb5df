/**
 * `notify.webhook`: POST a JSON summary of a drill to an HTTP endpoint, with a timeout per attempt and bounded
 * retries with exponential backoff. A webhook that fails is reported back as data — the caller logs it and
 * notes it in the report — and never changes the drill's verdict or exit code.
 *
 * The body carries check names, verdicts and counts, never the checks' details: those can hold text the restored
 * copy produced (a hostile dump can raise the rows it reads as an error), and a webhook leaves the host for a chat
 * or a ticket system. `notify.webhook.details: true` adds the (bounded) details.
 */
import { formatBytes, formatDuration } from '../config/duration.js';
import { webhookUrlHasUserinfo, type WebhookConfig } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import type { Report } from '../report/model.js';

/** The JSON body sent. `text` is a one-line summary that chat webhooks (Slack, Mattermost, ...) display as is. */
export interface WebhookSummary {
  readonly text: string;
  readonly tool: 'pgdrill';
  readonly version: string;
  readonly kind: Report['kind'];
  readonly status: Report['status'];
  readonly interrupted: boolean;
  readonly database: string;
  readonly host: string;
  readonly run_id: string;
  readonly run_dir: string;
  readonly report: string;
  readonly started_at: string;
  readonly finished_at: string;
  readonly duration_ms: number;
  readonly backup: { readonly path: string | null; readonly format: string | null; readonly size_bytes: number | null; readonly sha256: string | null };
  readonly production_untouched: boolean | null;
  readonly checks: { readonly pass: number; readonly fail: number; readonly warn: number; readonly skip: number };
  /** The failed checks by name; `detail` only with `details` (config `notify.webhook.details`). */
  readonly failed_checks: readonly { readonly name: string; readonly detail?: string }[];
}

/** What the summary carries. */
export interface WebhookSummaryOptions {
  /** Add each failed check's detail (bounded to 500 characters; 160 in `text`). Default false: names, verdicts and counts only. */
  readonly details?: boolean;
}

/** Build the summary of a drill. */
export function webhookSummary(r: Report, database: string, opts: WebhookSummaryOptions = {}): WebhookSummary {
  const by = (s: string) => r.checks.filter((c) => c.status === s);
  const failed = by('fail').map((c) => (opts.details ? { name: c.name, detail: c.detail.slice(0, 500) } : { name: c.name }));
  const text = `pgdrill ${r.status}${r.interrupted ? ' (interrupted)' : ''}: ${r.kind} of ${database} on ${r.run.host || 'this host'} in ${formatDuration(r.run.duration_ms)}` +
    (r.backup.size_bytes !== null ? `, dump ${formatBytes(r.backup.size_bytes)}` : '') +
    (failed.length ? ` — ${failed.length} check(s) failed: ${failed.slice(0, 3).map((f) => (f.detail === undefined ? f.name : `${f.name}: ${f.detail.slice(0, 160)}`)).join('; ')}` : '');
  return {
    text, tool: 'pgdrill', version: r.tool.version, kind: r.kind, status: r.status, interrupted: r.interrupted, database,
    host: r.run.host, run_id: r.run.id, run_dir: r.run.dir, report: `${r.run.dir}/report.md`,
    started_at: r.run.started_at, finished_at: r.run.finished_at, duration_ms: r.run.duration_ms,
    backup: { path: r.backup.path, format: r.backup.format, size_bytes: r.backup.size_bytes, sha256: r.backup.sha256 },
    production_untouched: r.production_untouched,
    checks: { pass: by('pass').length, fail: failed.length, warn: by('warn').length, skip: by('skip').length },
    failed_checks: failed,
  };
}

/** A URL for logs: scheme, host and port only — webhook URLs often carry their secret token in the path or query. */
export function redactWebhookUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return '(invalid URL)';
  }
}

/**
 * Every http(s) URL in `text` shown as `redactWebhookUrl` shows it: an error of fetch's can quote the whole URL
 * (`Request cannot be constructed from a URL that includes credentials: https://user:token@…`), and what it says
 * goes to the log, stderr and the report's note.
 */
export function scrubWebhookUrls(text: string): string {
  return text.replace(/https?:\/\/[^\s'"<>]*?(?=[.,;:)\]]*(?:[\s'"<>]|$))/gi, (u) => redactWebhookUrl(u));
}

/**
 * The endpoint of `notify.webhook`: its `url`, or the value of the environment variable `url_env` names. Checked as
 * the config's `url` is (http or https, no `user:password@`); no message quotes the URL.
 * @throws ConfigError (exit 2) naming the variable when it is unset, empty or not such a URL.
 */
export function resolveWebhookUrl(w: Pick<WebhookConfig, 'url' | 'url_env'>, env: Readonly<Record<string, string | undefined>> = process.env): string {
  if (w.url !== undefined) return w.url;
  const name = w.url_env;
  if (name === undefined) throw new ConfigError('notify.webhook: give the endpoint as url or url_env');
  const value = env[name]?.trim();
  const where = `notify.webhook.url_env names the environment variable ${name}`;
  if (!value) throw new ConfigError(`${where}, which is ${env[name] === undefined ? 'not set' : 'empty'} in pgdrill's environment: set it to the webhook's URL (a fleet worker passes its PGDRILL_* variables to its drills: set it in each worker's environment)`);
  if (!/^https?:\/\//i.test(value)) throw new ConfigError(`${where}, whose value is not an http:// or https:// URL (not shown: it may hold a token)`);
  if (webhookUrlHasUserinfo(value)) throw new ConfigError(`${where}, whose URL carries user:password@ before its host, which fetch refuses: put the credentials in the path or query the endpoint expects`);
  try {
    new URL(value);
  } catch {
    throw new ConfigError(`${where}, whose value is not a valid URL (not shown: it may hold a token)`);
  }
  return value;
}

/** How to send. */
export interface SendWebhookOptions {
  /** Per attempt, headers and body included. Default 10 000 ms. */
  readonly timeoutMs?: number;
  /** Further attempts after a failed one. Default 3. */
  readonly retries?: number;
  /** Wait before the first retry, doubled each time (capped at 60 s). Default 1000 ms. */
  readonly backoffMs?: number;
}

/** One attempt's outcome. */
export interface WebhookAttempt {
  readonly status: number | null;
  readonly error: string | null;
  readonly ms: number;
}

/** What sending did: `ok` when an attempt got a 2xx answer. */
export interface WebhookResult {
  readonly ok: boolean;
  readonly url: string;
  readonly attempts: readonly WebhookAttempt[];
  /** Why it failed, for the log and the report's note. */
  readonly error: string | null;
}

/** Worth another attempt: no answer, a timeout, 408, 429 or a 5xx. Other 4xx will not change by retrying. */
function retryable(a: WebhookAttempt): boolean {
  return a.status === null || a.status === 408 || a.status === 429 || a.status >= 500;
}

/** POST `body` as JSON; never throws. */
export async function sendWebhook(url: string, body: unknown, opts: SendWebhookOptions = {}): Promise<WebhookResult> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const retries = opts.retries ?? 3;
  const backoffMs = opts.backoffMs ?? 1000;
  const payload = JSON.stringify(body);
  const attempts: WebhookAttempt[] = [];
  for (let i = 0; i <= retries; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, Math.min(60_000, backoffMs * 2 ** (i - 1))));
    const t0 = performance.now();
    let attempt: WebhookAttempt;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'pgdrill' },
        body: payload,
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined); // drain, so the connection is released
      attempt = { status: res.status, error: res.ok ? null : `HTTP ${res.status} ${res.statusText}`.trim(), ms: Math.round(performance.now() - t0) };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : e.cause?.code ?? e.cause?.message ?? e.message;
      // Never the URL itself: fetch's own messages quote it, token and all.
      attempt = { status: null, error: scrubWebhookUrls(why.split(url).join(redactWebhookUrl(url))), ms: Math.round(performance.now() - t0) };
    }
    attempts.push(attempt);
    if (attempt.error === null) return { ok: true, url: redactWebhookUrl(url), attempts, error: null };
    if (!retryable(attempt)) break;
  }
  const last = attempts[attempts.length - 1]!;
  return { ok: false, url: redactWebhookUrl(url), attempts, error: `${attempts.length} attempt(s), last: ${last.error}` };
}
