/** report.html, second half: restore, artefact, audit of the source, notes and run metadata. */
import type { Report, RestoreError } from '../model.js';
import { html, type Html } from './escape.js';
import { bytes, duration, orDash, utc, verdict } from './format.js';

const CLASS_WORD: Record<RestoreError['classification'], string> = {
  backup_defect: '✖ backup defect',
  environment_defect: '▲ environment defect',
  benign: '– benign',
  unknown: '? unknown',
};

/** The sandbox restore: its facts, the object counts, and every restore error with its classification. */
export function restoreSection(r: Report): Html {
  const rs = r.restore;
  if (!rs) return html`<section aria-labelledby="restore"><h2 id="restore">Restore</h2><p class="muted">The restore did not run.</p></section>`;
  const types = [...new Set([...Object.keys(rs.objects_source), ...Object.keys(rs.objects_restored)])];
  return html`<section aria-labelledby="restore"><h2 id="restore">Restore</h2>
<table>
<caption>The isolated throwaway cluster the dump was restored into.</caption>
<tbody>
<tr><th scope="row">restore duration</th><td>${duration(rs.duration_ms)}</td></tr>
<tr><th scope="row">sandbox OS user</th><td>${rs.os_user ?? '(the caller)'}</td></tr>
<tr><th scope="row">data directory</th><td class="hash">${orDash(rs.data_dir)}</td></tr>
<tr><th scope="row">socket directory</th><td class="hash">${rs.socket_dir ? html`${rs.socket_dir} <span class="muted">(Unix socket only, no TCP)</span>` : '—'}</td></tr>
<tr><th scope="row">kept running</th><td>${rs.kept ? html`yes — connect with <code>${rs.connect ?? ''}</code>` : 'no'}</td></tr>
<tr><th scope="row">teardown</th><td>${verdict(r.teardown.confirmed, 'confirmed', 'NOT confirmed')} ${r.teardown.detail}</td></tr>
</tbody>
</table>
${types.length ? html`<h3>Objects</h3><table class="narrow">
<caption>Objects by type in the dump and in the restored copy (count of objects).${rs.missing_objects.length ? html` Missing: ${rs.missing_objects.join(', ')}.` : ''}</caption>
<thead><tr><th scope="col">Type</th><th scope="col" class="num">In the dump</th><th scope="col" class="num">Restored</th></tr></thead>
<tbody>${types.map((t) => html`<tr><th scope="row">${t}</th><td class="num">${orDash(rs.objects_source[t])}</td><td class="num">${orDash(rs.objects_restored[t])}</td></tr>`)}</tbody>
</table>` : ''}
<h3>Restore errors</h3>
${rs.errors.length ? html`<table>
<caption>${rs.errors.length} error(s) reported by the restore, with pgdrill's classification.</caption>
<thead><tr><th scope="col" class="num">#</th><th scope="col">Classification</th><th scope="col">Phase</th><th scope="col">SQLSTATE</th><th scope="col">Message and hint</th><th scope="col">Statement</th></tr></thead>
<tbody>${rs.errors.map((e, i) => html`<tr${e.classification === 'backup_defect' ? html` class="is-fail"` : ''}><td class="num">${i + 1}</td><td class="nowrap">${CLASS_WORD[e.classification]}</td><td>${e.phase}${e.line === null ? '' : html`<br><span class="muted nowrap">line ${e.line}</span>`}</td><td><code>${orDash(e.sqlstate)}</code></td><td>${e.message}${e.hint ? html`<div class="evidence">hint: ${e.hint}</div>` : ''}</td><td>${e.statement ? html`<pre>${e.statement}</pre>` : '—'}</td></tr>`)}</tbody>
</table>` : html`<p>${verdict(true, 'none', '')} The restore reported no error.</p>`}
</section>`;
}

/** The dump artefact: path, size, sha256, self-check, the tool that made it, globals. */
export function artefactSection(r: Report): Html {
  const b = r.backup;
  const g = b.globals;
  return html`<section aria-labelledby="artefact"><h2 id="artefact">Backup artefact</h2>
<table>
<caption>The dump this drill ${r.kind === 'verify' ? 'verified' : 'took and restored'}; SHA256SUMS lets anyone re-check it.</caption>
<tbody>
<tr><th scope="row">path</th><td class="hash">${orDash(b.path)}</td></tr>
<tr><th scope="row">format</th><td>${orDash(b.format)}</td></tr>
<tr><th scope="row">size</th><td>${bytes(b.size_bytes)}</td></tr>
<tr><th scope="row">sha256</th><td class="hash">${orDash(b.sha256)}</td></tr>
<tr><th scope="row">checksum self-check</th><td>${verdict(b.self_check, 'OK', 'FAILED', 'not run')}${b.sums_path ? html` <span class="muted">(${b.sums_path})</span>` : ''}</td></tr>
<tr><th scope="row">made by</th><td class="hash">${orDash(b.tool)}</td></tr>
<tr><th scope="row">backup duration</th><td>${duration(b.duration_ms)}</td></tr>
<tr><th scope="row">globals (roles)</th><td>${g ? html`${g.mode}${g.path ? html` — <span class="hash">${g.path}</span>, ${bytes(g.size_bytes)}, sha256 <span class="hash">${orDash(g.sha256)}</span>` : ''}${g.note ? html` — ${g.note}` : ''}` : '—'}</td></tr>
</tbody>
</table>
</section>`;
}

/** Every statement sent to the source, in order. */
export function auditSection(r: Report): Html {
  const a = r.production.audit;
  return html`<section aria-labelledby="audit"><h2 id="audit">Audit of the source</h2>
${a.length ? html`<table>
<caption>Every statement pgdrill and its tools sent to the source (${a.length}), in order.</caption>
<thead><tr><th scope="col" class="num">#</th><th scope="col">At</th><th scope="col">By</th><th scope="col">Statement</th></tr></thead>
<tbody>${a.map((e, i) => html`<tr><td class="num">${i + 1}</td><td class="nowrap">${utc(e.at)}</td><td>${e.by}</td><td><pre>${e.sql}</pre></td></tr>`)}</tbody>
</table>` : html`<p class="muted">No statement was sent to a source${r.kind === 'verify' ? ' (verify of an existing dump)' : ''}.</p>`}
</section>`;
}

/** Notes and run metadata: who ran what, where, when. */
export function notesAndMetadataSection(r: Report): Html {
  const meta = Object.entries(r.metadata);
  return html`${r.notes.length ? html`<section aria-labelledby="notes"><h2 id="notes">Notes</h2>
<ul>${r.notes.map((n) => html`<li><code>${n.id}</code> — ${n.text}</li>`)}</ul>
</section>` : ''}
<section aria-labelledby="metadata"><h2 id="metadata">Run and metadata</h2>
<table>
<caption>The run's provenance${meta.length ? ' and the metadata given for it' : ''}. All times UTC.</caption>
<tbody>
<tr><th scope="row">run id</th><td class="hash">${r.run.id}</td></tr>
<tr><th scope="row">kind</th><td>${r.kind}</td></tr>
<tr><th scope="row">command</th><td><code>${r.run.argv.join(' ') || '(library call)'}</code></td></tr>
<tr><th scope="row">run window</th><td>${utc(r.run.started_at)} → ${utc(r.run.finished_at)} (${duration(r.run.duration_ms)})</td></tr>
<tr><th scope="row">host / OS user</th><td>${orDash(r.run.host)} / ${orDash(r.run.user)}</td></tr>
<tr><th scope="row">run directory</th><td class="hash">${r.run.dir}</td></tr>
<tr><th scope="row">tool</th><td>${r.tool.name} ${r.tool.version} <span class="muted">(report schema ${r.schema_version})</span></td></tr>
${meta.map(([k, v]) => html`<tr><th scope="row">${k}</th><td>${String(v)}</td></tr>`)}
</tbody>
</table>
</section>`;
}
