/** report.html: the fidelity evidence — catalog differences, round trip, amcheck, extensions, hash totals. */
import type { Fidelity, Report } from '../model.js';
import { EVIDENCE_WORDS, hashesReadTheSource } from '../fidelity-evidence.js';
import { html, type Html } from './escape.js';
import { duration, orDash, verdict } from './format.js';
import { showControls } from '../markdown-cell.js';

/** The content hash totals, what they rest on, and what they cost (the source's time only when it was read). */
function hashesCell(h: NonNullable<Fidelity['hashes']>): Html {
  // The times follow the totals (as in report.md): after the evidence they made two brackets in a row, "(no source read) (restored …)".
  return html`${verdict(h.equal === h.tables && !h.large_objects_differ, 'equal', 'DIFFERENT')} ${h.equal} of ${h.tables} tables equal${h.large_objects || h.large_objects_differ ? `; ${h.large_objects} large objects, ${h.large_objects_differ ?? 0} differ` : ''} (${hashesReadTheSource(h) ? html`source ${duration(h.source_ms)}, ` : ''}restored ${duration(h.restored_ms)})${h.evidence?.length ? `; compared with ${h.evidence.map((e) => EVIDENCE_WORDS[e]).join(' and ')}` : ''}`;
}

/** The fidelity section (absent when no restore ran). */
export function fidelitySection(r: Report): Html {
  const f = r.fidelity;
  if (!f) return html``;
  const rt = f.round_trip;
  const am = f.amcheck;
  return html`<section aria-labelledby="fidelity"><h2 id="fidelity">Fidelity</h2>
<table>
<caption>The restored copy compared with what the dump holds and, where it was captured, with the source as of the dump's snapshot. Each line's check says why a comparison did not run.</caption>
<tbody>
<tr><th scope="row">content hashes</th><td>${f.hashes ? hashesCell(f.hashes) : html`<span class="muted">not computed (check <code>fidelity.content_hashes</code>)</span>`}</td></tr>
<tr><th scope="row">catalog</th><td>${f.catalog ? html`${verdict(f.differences.length === 0, 'equal', 'DIFFERENT')} ${f.differences.length + f.differences_omitted} difference(s); ${f.catalog.source_facts} facts on the source, ${f.catalog.restored_facts} restored, ${f.catalog.sequences_checked} sequences checked` : html`<span class="muted">not compared (check <code>fidelity.catalog</code>)</span>`}</td></tr>
<tr><th scope="row">round trip</th><td>${rt ? html`${verdict(rt.equal, 'equal', 'DIFFERENT')} ${rt.lines_compared} schema lines compared${rt.objects_differing ? `; ${rt.objects_differing} object(s) differ` : ''}${rt.section ? html`; first difference under <code>${rt.section}</code>` : ''}` : html`<span class="muted">not run (check <code>fidelity.round_trip</code>)</span>`}</td></tr>
<tr><th scope="row">amcheck</th><td>${am ? html`${verdict(am.corrupt === 0 && !am.error, 'clean', 'NOT clean')} ${am.relations_checked} relation(s) checked, ${am.corrupt} corrupt${am.error ? html` — ${am.error}` : ''} <span class="muted">(proves presence of corruption, never absence)</span>` : html`<span class="muted">not run (check <code>fidelity.amcheck</code>)</span>`}</td></tr>
<tr><th scope="row">extensions missing in the sandbox</th><td>${f.extensions_missing.length ? f.extensions_missing.map((e) => `${e.name} ${e.version}`).join(', ') : 'none'}</td></tr>
${f.normalisations?.length ? html`<tr><th scope="row">cross-major normalisations (source ${f.normalisations[0]!.source_major}, sandbox ${f.normalisations[0]!.sandbox_major})</th><td><ul>${f.normalisations.map((n) => html`<li><code>${n.id}</code> (since ${n.since}): ${n.catalog_facts} catalog fact(s), ${n.round_trip_objects} round-trip object(s) — ${n.why}</li>`)}</ul></td></tr>` : ''}
</tbody>
</table>
${f.differences.length ? html`<table>
<caption>Catalog differences (${f.differences.length}${f.differences_omitted ? ` of ${f.differences.length + f.differences_omitted}` : ''}).</caption>
<thead><tr><th scope="col">Object</th><th scope="col">Attribute</th><th scope="col">Source</th><th scope="col">Restored</th></tr></thead>
<tbody>${f.differences.map((d) => html`<tr class="is-fail"><th scope="row">${showControls(d.object)}</th><td>${showControls(d.attribute)}</td><td><code>${orDash(d.source)}</code></td><td><code>${orDash(d.restored)}</code></td></tr>`)}</tbody>
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
