/**
 * index.html of an out directory: every drill (newest first, each linking to its own report) and, per
 * database, how long drills took and how big the dumps were over time. Renders the entries; computes nothing
 * beyond grouping and scaling. Same rules as report.html: self-contained, no script, all text escaped.
 */
import { relative, resolve, sep } from 'node:path';
import { formatBytes, formatDuration } from '../config/duration.js';
import type { HistoryEntry, SkippedRun } from '../history/read-history.js';
import { html, type Html } from './html/escape.js';
import { badge, duration, num, utc } from './html/format.js';
import { timeChart } from './html/chart.js';
import { page } from './html/page.js';
import { showControls } from './markdown-cell.js';

/** A relative, URL-encoded link from the out directory to a file in a run directory. */
function href(outDir: string, file: string): string {
  return relative(resolve(outDir), file).split(sep).map(encodeURIComponent).join('/');
}

function status(e: HistoryEntry): Html {
  return html`${badge(e.status === 'PASS' ? 'pass' : 'fail')}${e.interrupted ? html` <span class="badge warn">interrupted</span>` : ''}`;
}

function drillRow(e: HistoryEntry, outDir: string): Html {
  const target = e.htmlPath ?? e.reportPath;
  return html`<tr${e.status === 'PASS' ? '' : html` class="is-fail"`}>
<td><a class="nowrap" href="${href(outDir, target)}" title="${e.htmlPath ? 'report.html' : 'report.json (no report.html)'} of ${e.runId}">${utc(e.startedAt)}</a>${e.htmlPath ? '' : html` <span class="muted">(json)</span>`}</td>
<th scope="row">${showControls(e.database)}</th>
<td>${e.kind}</td>
<td>${status(e)}${e.failedChecks.length ? html`<ul class="failed" aria-label="failed checks">${e.failedChecks.map((c) => html`<li><code>${c}</code></li>`)}</ul>` : ''}</td>
<td class="num">${e.sizeBytes === null ? '—' : html`<span title="${num(e.sizeBytes)} bytes">${formatBytes(e.sizeBytes)}</span>`}</td>
<td class="num">${duration(e.durationMs)}</td>
<td class="num">${duration(e.restoreMs)}</td>
<td>${e.sha256 ? html`<code title="${e.sha256}">${e.sha256.slice(0, 10)}…</code>` : '—'}</td>
</tr>`;
}

/** Axis labels: "30 s", "2 min", "1 h 30 min" (ticks are round, so no decimals). */
function tickDuration(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3_600_000) return ms % 60_000 ? `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s` : `${ms / 60_000} min`;
  return ms % 3_600_000 ? `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} min` : `${ms / 3_600_000} h`;
}

function point(e: HistoryEntry, v: number, text: string) {
  return { t: Date.parse(e.startedAt), v, failed: e.status !== 'PASS', label: `${e.startedAt} UTC — ${text} — ${e.status}` };
}

function databaseCharts(db: string, runs: HistoryEntry[], i: number): Html {
  const timed = runs.filter((e) => Number.isFinite(Date.parse(e.startedAt)));
  const sized = timed.filter((e) => e.sizeBytes !== null);
  const latest = runs[0]!;
  const lastPass = runs.find((e) => e.status === 'PASS');
  return html`<section aria-labelledby="db-${i}"><h2 id="db-${i}">${db}</h2>
<p>${runs.length} drill(s). Latest: ${status(latest)} ${utc(latest.startedAt)}. Last passing drill: ${lastPass ? utc(lastPass.startedAt) : html`<strong>none</strong>`}.</p>
<div class="charts">
<figure>${timeChart({
    id: `dur-${i}`,
    title: `${db}: measured recovery time (drill duration; compare with your RTO)`,
    desc: timed.map((e) => `${e.startedAt}: ${formatDuration(e.durationMs)} ${e.status}`).join('; '),
    points: timed.map((e) => point(e, e.durationMs, formatDuration(e.durationMs))),
    format: tickDuration,
    scale: 'duration',
  })}
<figcaption><strong>Measured recovery time</strong> (compare with your recovery time objective): the whole drill's duration (backup, restore into a fresh cluster, checks), start to finish. ● pass, ✖ fail.</figcaption></figure>
<figure>${sized.length ? timeChart({
    id: `size-${i}`,
    title: `${db}: dump size`,
    desc: sized.map((e) => `${e.startedAt}: ${formatBytes(e.sizeBytes!)} ${e.status}`).join('; '),
    points: sized.map((e) => point(e, e.sizeBytes!, `${formatBytes(e.sizeBytes!)} (${num(e.sizeBytes!)} bytes)`)),
    format: (v) => formatBytes(v).replace('.0 ', ' '),
    scale: 'bytes',
  }) : html`<p class="muted">No dump size recorded.</p>`}
<figcaption><strong>Dump size</strong> in bytes (binary units), as written by each drill. ● pass, ✖ fail.</figcaption></figure>
</div>
</section>`;
}

/** Render `<out>/index.html` from `entries` (newest first) read from `outDir`; `skipped` lists unreadable run directories. */
export function renderHistoryHtml(entries: readonly HistoryEntry[], outDir: string, skipped: readonly SkippedRun[] = []): string {
  const byDb = new Map<string, HistoryEntry[]>();
  for (const e of entries) byDb.set(e.database, [...(byDb.get(e.database) ?? []), e]);
  const failed = entries.filter((e) => e.status !== 'PASS').length;
  const body = html`<header class="top"><div class="wrap">
<p class="kicker">pgdrill · drill history</p>
<h1>Restore drills in ${resolve(outDir)}</h1>
<p class="sub">${entries.length} drill(s) of ${byDb.size} database(s): ${entries.length - failed} passed, ${failed} failed. All times UTC.</p>
</div></header>
<main class="wrap">
${[...byDb].map(([db, runs], i) => databaseCharts(db, runs, i))}
<section aria-labelledby="drills"><h2 id="drills">Drills</h2>
${entries.length ? html`<div class="scroll"><table>
<caption>Every drill found in this directory, newest first. Each start time links to that drill's own report.</caption>
<thead><tr><th scope="col">Started</th><th scope="col">Database</th><th scope="col">Kind</th><th scope="col">Status</th><th scope="col" class="num">Dump size</th><th scope="col" class="num">Drill duration</th><th scope="col" class="num">Restore time</th><th scope="col">sha256</th></tr></thead>
<tbody>${entries.map((e) => drillRow(e, outDir))}</tbody>
</table></div>` : html`<p class="muted">No drill has written a report here yet.</p>`}
</section>
${skipped.length ? html`<section aria-labelledby="skipped"><h2 id="skipped">Skipped directories</h2>
<ul>${skipped.map((s) => html`<li><code>${s.runDir}</code> — ${s.reason}</li>`)}</ul>
</section>` : ''}
</main>
<footer class="wrap">Generated by pgdrill from each run's report.json. This page contains no script and loads nothing from the network.</footer>`;
  return page({ title: `pgdrill drill history — ${resolve(outDir)}`, body });
}
