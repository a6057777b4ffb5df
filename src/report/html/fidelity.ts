/** report.html: the fidelity evidence — catalog differences, round trip, amcheck, extensions, hash totals. */
import type { Report } from '../model.js';
import { html, type Html } from './escape.js';
import { duration, orDash, verdict } from './format.js';

/** The fidelity section (absent when no restore ran). */
export function fidelitySection(r: Report): Html {
  const f = r.fidelity;
  if (!f) return html``;
  const rt = f.round_trip;
  const am = f.amcheck;
  return html`<section aria-labelledby="fidelity"><h2 id="fidelity">Fidelity</h2>
<table>
<caption>The restored copy compared with the source as of the dump's snapshot.</caption>
<tbody>
<tr><th scope="row">content hashes</th><td>${f.hashes ? html`${verdict(f.hashes.equal === f.hashes.tables && !f.hashes.large_objects_differ, 'equal', 'DIFFERENT')} ${f.hashes.equal} of ${f.hashes.tables} tables equal${f.hashes.large_objects || f.hashes.large_objects_differ ? `; ${f.hashes.large_objects} large objects, ${f.hashes.large_objects_differ ?? 0} differ` : ''} (source ${duration(f.hashes.source_ms)}, restored ${duration(f.hashes.restored_ms)})` : html`<span class="muted">not computed (run --deep)</span>`}</td></tr>
<tr><th scope="row">catalog</th><td>${f.catalog ? html`${verdict(f.differences.length === 0, 'equal', 'DIFFERENT')} ${f.differences.length + f.differences_omitted} difference(s); ${f.catalog.source_facts} facts on the source, ${f.catalog.restored_facts} restored, ${f.catalog.sequences_checked} sequences checked` : html`<span class="muted">not compared</span>`}</td></tr>
<tr><th scope="row">round trip</th><td>${rt ? html`${verdict(rt.equal, 'equal', 'DIFFERENT')} ${rt.lines_compared} schema lines compared${rt.objects_differing ? `; ${rt.objects_differing} object(s) differ` : ''}${rt.section ? html`; first difference under <code>${rt.section}</code>` : ''}` : html`<span class="muted">not run</span>`}</td></tr>
<tr><th scope="row">amcheck</th><td>${am ? html`${verdict(am.corrupt === 0 && !am.error, 'clean', 'NOT clean')} ${am.relations_checked} relation(s) checked, ${am.corrupt} corrupt${am.error ? html` — ${am.error}` : ''} <span class="muted">(proves presence of corruption, never absence)</span>` : html`<span class="muted">not run</span>`}</td></tr>
<tr><th scope="row">extensions missing in the sandbox</th><td>${f.extensions_missing.length ? f.extensions_missing.map((e) => `${e.name} ${e.version}`).join(', ') : 'none'}</td></tr>
${f.normalisations?.length ? html`<tr><th scope="row">cross-major normalisations (source ${f.normalisations[0]!.source_major}, sandbox ${f.normalisations[0]!.sandbox_major})</th><td><ul>${f.normalisations.map((n) => html`<li><code>${n.id}</code> (since ${n.since}): ${n.catalog_facts} catalog fact(s), ${n.round_trip_objects} round-trip object(s) — ${n.why}</li>`)}</ul></td></tr>` : ''}
</tbody>
</table>
${f.differences.length ? html`<table>
<caption>Catalog differences (${f.differences.length}${f.differences_omitted ? ` of ${f.differences.length + f.differences_omitted}` : ''}).</caption>
<thead><tr><th scope="col">Object</th><th scope="col">Attribute</th><th scope="col">Source</th><th scope="col">Restored</th></tr></thead>
<tbody>${f.differences.map((d) => html`<tr class="is-fail"><th scope="row">${d.object}</th><td>${d.attribute}</td><td><code>${orDash(d.source)}</code></td><td><code>${orDash(d.restored)}</code></td></tr>`)}</tbody>
</table>` : ''}
${rt && rt.objects?.length ? html`<table>
<caption>Round trip: ${rt.objects_differing ?? rt.objects.length} object(s) of the schema-only dumps differ${rt.objects_omitted ? ` (${rt.objects.length} listed)` : ''}${rt.differences_path ? html`; every one, with all its lines, in <code>${rt.differences_path}</code>` : ''}.</caption>
<thead><tr><th scope="col">Object</th><th scope="col" class="num">Source line</th><th scope="col">Source</th><th scope="col" class="num">Restored line</th><th scope="col">Restored</th></tr></thead>
<tbody>${rt.objects.map((o) => html`<tr class="is-fail"><th scope="row" colspan="5">${o.section} <span class="muted">(${o.kind}${o.lines_omitted ? `; ${o.lines_omitted} more line(s) in the file` : ''})</span></th></tr>
${o.lines.map((d) => html`<tr><td></td><td class="num">${orDash(d.source_line)}</td><td><code>${orDash(d.source)}</code></td><td class="num">${orDash(d.restored_line)}</td><td><code>${orDash(d.restored)}</code></td></tr>`)}`)}</tbody>
</table>` : rt && rt.differences.length ? html`<table>
<caption>Round trip: the first differing lines of the schema-only dumps.</caption>
<thead><tr><th scope="col" class="num">Source line</th><th scope="col">Source</th><th scope="col" class="num">Restored line</th><th scope="col">Restored</th></tr></thead>
<tbody>${rt.differences.map((d) => html`<tr><td class="num">${orDash(d.source_line)}</td><td><code>${orDash(d.source)}</code></td><td class="num">${orDash(d.restored_line)}</td><td><code>${orDash(d.restored)}</code></td></tr>`)}</tbody>
</table>` : ''}
</section>`;
}
