/** report.html: the production footprint — what the drill cost the source, beside pg_dump alone. */
import type { Report } from '../model.js';
import { html, type Html } from './escape.js';
import { orDash } from './format.js';

const secs = (v: number | null) => (v === null ? html`<span class="muted">—</span>` : html`${(v / 1000).toFixed(2)} s`);

/** The footprint section (absent when it was not measured). */
export function footprintSection(r: Report): Html {
  const f = r.production.footprint;
  if (!f) return html``;
  const d = f.database;
  return html`<section aria-labelledby="footprint"><h2 id="footprint">Production footprint</h2>
<p>${f.summary}.</p>
<table>
<caption>CPU of each session on the source: ${f.cpu.detail}.</caption>
<thead><tr><th scope="col" class="num">Backend pid</th><th scope="col">By</th><th scope="col">Session</th><th scope="col" class="num">CPU</th></tr></thead>
<tbody>${f.sessions.map((s) => html`<tr><td class="num">${s.pid}</td><td>${s.by}</td><td>${s.what}</td><td class="num">${secs(s.cpu_ms)}</td></tr>`)}
<tr><th scope="row" colspan="3">the drill / pg_dump alone</th><td class="num">${secs(f.cpu.drill_ms)} / ${secs(f.cpu.pg_dump_ms)} (${orDash(f.cpu.ratio_to_pg_dump)}×)</td></tr></tbody>
</table>
${f.statements.groups.length ? html`<table>
<caption>${f.statements.detail}.</caption>
<thead><tr><th scope="col">Statements</th><th scope="col" class="num">Calls</th><th scope="col" class="num">Rows</th><th scope="col" class="num">Shared blocks read</th><th scope="col" class="num">Shared blocks hit</th><th scope="col" class="num">Execution time</th></tr></thead>
<tbody>${f.statements.groups.map((g) => html`<tr><th scope="row">${g.label}</th><td class="num">${g.calls}</td><td class="num">${g.rows}</td><td class="num">${g.shared_blks_read}</td><td class="num">${g.shared_blks_hit}</td><td class="num">${secs(g.total_exec_time_ms)}</td></tr>`)}</tbody>
</table>` : html`<p class="muted">pg_stat_statements: ${f.statements.detail}.</p>`}
${d ? html`<p>pg_stat_database — ${d.scope}: ${d.tup_returned} rows returned, ${d.tup_fetched} fetched, ${d.blks_read} blocks read (${d.bytes_read} bytes), ${d.blks_hit} hit.</p>` : ''}
</section>`;
}
