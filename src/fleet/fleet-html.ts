/**
 * The fleet's dashboard: one self-contained page (the history page's style: no script, nothing loaded from the
 * network, every text escaped) with every database's standing — the ones that need attention first — the drills
 * that did not pass lately, and how long drills took across the fleet. Renders a FleetStatus and recent results;
 * computes nothing beyond ordering and counting.
 */
import { formatDuration } from '../config/duration.js';
import { formatAge } from '../history/freshness.js';
import { html, type Html } from '../report/html/escape.js';
import { duration, num, utc } from '../report/html/format.js';
import { timeChart } from '../report/html/chart.js';
import { page } from '../report/html/page.js';
import type { FleetDatabaseStatus, FleetState, FleetStatus } from './fleet-status.js';
import type { FleetReason, FleetResult, FleetVerdict } from './results-store.js';

/** Badge class, icon and word per state: colour is never the only signal. */
const STATE: Readonly<Record<FleetState, { cls: string; icon: string; word: string }>> = {
  ok: { cls: 'pass', icon: '✔', word: 'OK' },
  pending: { cls: 'skip', icon: '–', word: 'PENDING' },
  failing: { cls: 'fail', icon: '✖', word: 'FAILING' },
  stale: { cls: 'warn', icon: '▲', word: 'STALE' },
  never: { cls: 'fail', icon: '✖', word: 'NEVER VERIFIED' },
};
const VERDICT: Readonly<Record<FleetVerdict, { cls: string; icon: string; word: string }>> = {
  pass: { cls: 'pass', icon: '✔', word: 'PASS' },
  fail: { cls: 'fail', icon: '✖', word: 'FAIL' },
  error: { cls: 'fail', icon: '✖', word: 'ERROR' },
  stopped: { cls: 'fail', icon: '✖', word: 'STOPPED' },
};
/** What the badge adds for a reason: which budget stopped the drill, or that its job was given up. */
const REASON: Readonly<Record<FleetReason, string>> = { duration: 'MAX DURATION', disk: 'DISK BUDGET', retries_exhausted: 'RETRIES EXHAUSTED' };

function verdictBadge(r: FleetResult): Html {
  const v = VERDICT[r.verdict];
  return badgeOf(r.reason ? { ...v, word: `${v.word}: ${REASON[r.reason]}` } : v);
}
/** The order of the databases table: what needs attention first. */
const URGENCY: Readonly<Record<FleetState, number>> = { failing: 0, never: 1, stale: 2, pending: 3, ok: 4 };

function badgeOf(b: { cls: string; icon: string; word: string }): Html {
  return html`<span class="badge ${b.cls}"><span aria-hidden="true">${b.icon}</span> ${b.word}</span>`;
}

function failedChecks(r: FleetResult): Html {
  const checks = r.summary.failed_checks;
  if (checks.length) return html`<ul class="failed" aria-label="failed checks">${checks.map((c) => html`<li><code>${c}</code></li>`)}</ul>`;
  return r.summary.message ? html`<div class="muted">${r.summary.message.split('\n')[0]}</div>` : html``;
}

function newest(r: FleetResult | null): Html {
  if (!r) return html`<span class="muted">never drilled</span>`;
  return html`${verdictBadge(r)} ${utc(r.finishedAt)} <span class="muted">on ${r.host} (${r.worker})</span>${failedChecks(r)}`;
}

function databaseRow(d: FleetDatabaseStatus): Html {
  const db = d.database;
  return html`<tr${d.ok ? '' : html` class="is-fail"`}>
<td>${badgeOf(STATE[d.state])}</td>
<th scope="row">${db.key}<div class="muted">${db.source}</div></th>
<td>${db.kind}</td>
<td>${db.schedule}</td>
<td>${d.lastVerifiedAt ? html`${utc(d.lastVerifiedAt)}<div class="muted">${formatAge(d.lastVerifiedAgeMs ?? 0)} ago</div>` : html`<strong>never</strong>`}</td>
<td class="num">${d.lagMs > 0 ? html`<span title="due ${d.dueAt}">${formatAge(d.lagMs)}</span>` : '—'}</td>
<td>${newest(d.latest)}</td>
<td class="num">${duration(d.latest?.durationMs)}</td>
<td>${d.latest?.reportPath ? html`<code>${d.latest.reportPath}</code>` : '—'}</td>
</tr>`;
}

function databasesSection(s: FleetStatus): Html {
  const rows = [...s.databases].sort((a, b) => URGENCY[a.state] - URGENCY[b.state] || a.database.key.localeCompare(b.database.key));
  return html`<section aria-labelledby="databases"><h2 id="databases">Databases</h2>
${rows.length ? html`<div class="scroll"><table>
<caption>Every database of the fleet, those that need attention first. Lag: how long past its schedule the next verification is. Reports are on the worker's machine, at the path shown.</caption>
<thead><tr><th scope="col">State</th><th scope="col">Database</th><th scope="col">Kind</th><th scope="col">Schedule</th><th scope="col">Last verified</th><th scope="col" class="num">Lag</th><th scope="col">Newest drill</th><th scope="col" class="num">Duration</th><th scope="col">Report</th></tr></thead>
<tbody>${rows.map(databaseRow)}</tbody>
</table></div>` : html`<p class="muted">No database is registered: run <code>pgdrill fleet sync</code>.</p>`}
</section>`;
}

function failuresSection(recent: readonly FleetResult[], days: number): Html {
  const bad = recent.filter((r) => r.verdict !== 'pass');
  return html`<section aria-labelledby="failures"><h2 id="failures">Drills that did not pass in the last ${days} day(s)</h2>
${bad.length ? html`<div class="scroll"><table>
<caption>${bad.length} of ${recent.length} drill(s), newest first.</caption>
<thead><tr><th scope="col">Finished</th><th scope="col">Database</th><th scope="col">Verdict</th><th scope="col">Worker</th><th scope="col" class="num">Duration</th><th scope="col">Report</th></tr></thead>
<tbody>${bad.map((r) => html`<tr class="is-fail"><td>${utc(r.finishedAt)}</td><th scope="row">${r.databaseKey}</th><td>${verdictBadge(r)}${failedChecks(r)}</td><td>${r.host} <span class="muted">(${r.worker})</span></td><td class="num">${duration(r.durationMs)}</td><td>${r.reportPath ? html`<code>${r.reportPath}</code>` : '—'}</td></tr>`)}</tbody>
</table></div>` : html`<p>None: every drill of the last ${days} day(s) passed (${num(recent.length)} drill(s)).</p>`}
</section>`;
}

/** The chart draws at most this many drills (the newest): beyond, an SVG of points is too heavy to be useful. */
const CHART_POINTS = 2000;

function durationsSection(recent: readonly FleetResult[], days: number): Html {
  const shown = recent.slice(0, CHART_POINTS);
  if (!shown.length) return html``;
  return html`<section aria-labelledby="durations"><h2 id="durations">Drill durations</h2>
<figure>${timeChart({
    id: 'fleet-durations',
    title: `Drill durations across the fleet, last ${days} day(s)`,
    desc: `${shown.length} drill(s); longest ${formatDuration(Math.max(...shown.map((r) => r.durationMs)))}`,
    points: shown.map((r) => ({ t: Date.parse(r.startedAt), v: r.durationMs, failed: r.verdict !== 'pass', label: `${r.databaseKey} ${r.startedAt} UTC — ${formatDuration(r.durationMs)} — ${r.verdict}${r.reason ? ` (${r.reason})` : ''}` })),
    format: (ms) => formatDuration(ms),
    scale: 'duration',
    line: false,
  })}
<figcaption><strong>Measured recovery time</strong> of every drill${recent.length > shown.length ? ` (the newest ${num(shown.length)} of ${num(recent.length)})` : ''}, start to finish. ● pass, ✖ not passed.</figcaption></figure>
</section>`;
}

/** Options of `renderFleetHtml`. */
export interface FleetHtmlOptions {
  /** The coordination database, redacted, for the heading. */
  readonly queue: string;
  /** How many days `recent` covers (for the headings). */
  readonly days: number;
}

/** Render the dashboard from the fleet's status and its results of the last `days` days (newest first). */
export function renderFleetHtml(status: FleetStatus, recent: readonly FleetResult[], opts: FleetHtmlOptions): string {
  const c = status.counts;
  const body = html`<header class="top"><div class="wrap">
<p class="kicker">pgdrill · fleet</p>
<h1>${status.ok ? 'Every database verified' : `${num(status.databases.filter((d) => !d.ok).length)} database(s) need attention`}</h1>
<p class="sub">${num(status.databases.length)} database(s): ${num(c.ok)} OK, ${num(c.pending)} pending, ${num(c.failing)} failing, ${num(c.stale)} stale, ${num(c.never)} never verified. Checked ${utc(status.checkedAt)}; ${status.maxAgeMs === null ? 'each database judged by its own schedule' : `oldest acceptable PASS ${formatAge(status.maxAgeMs)}`}. Coordination database: <code>${opts.queue}</code>. All times UTC.</p>
</div></header>
<main class="wrap">
${databasesSection(status)}
${failuresSection(recent, opts.days)}
${durationsSection(recent, opts.days)}
</main>
<footer class="wrap">Generated by pgdrill fleet report from the coordination database's results. This page contains no script and loads nothing from the network.</footer>`;
  return page({ title: `pgdrill fleet — ${status.ok ? 'OK' : 'NOT OK'}`, body });
}
