/** report.html, first half: the verdict, source identity and checks (per-table results: tables.ts). */
import type { Check, Report } from '../model.js';
import { html, type Html } from './escape.js';
import { badge, bytes, duration, num, orDash, STATUS, utc, verdict } from './format.js';
import { showControls } from '../markdown-cell.js';

function checkLine(c: Check): Html {
  return html`<li>${badge(c.status)} <code>${c.name}</code> <span class="muted">(${c.stage})</span> — ${c.detail}</li>`;
}

/** The banner: PASS/FAIL in words, an icon and colour; failing checks first, then warnings; key facts. */
export function verdictSection(r: Report): Html {
  const by = (s: Check['status']) => r.checks.filter((c) => c.status === s);
  const fails = by('fail');
  const warns = by('warn');
  const pass = r.status === 'PASS';
  const cls = pass ? 'pass' : 'fail';
  const lead = pass
    ? html`No check failed (${r.checks.length} checks)${warns.length ? html`; ${warns.length} warning(s) below` : ''}.`
    : html`${fails.length} of ${r.checks.length} checks failed${fails.length ? '; they are listed first' : ''}.`;
  return html`<section class="verdict ${cls}" aria-labelledby="verdict">
<div class="mark" aria-hidden="true">${pass ? '✔' : '✖'}</div>
<div class="vbody">
<h2 id="verdict" class="word">${r.status}${r.interrupted ? ' — interrupted' : ''}</h2>
<p>${lead}${r.interrupted ? ' The drill was interrupted by a signal and did not finish.' : ''}</p>
${fails.length || warns.length ? html`<ul aria-label="Failing checks, then warnings">${fails.map(checkLine)}${warns.map(checkLine)}</ul>` : ''}
<div class="counts" aria-label="Check counts">${(['pass', 'fail', 'warn', 'skip'] as const).map((s) => html`<span class="badge ${s}"><span aria-hidden="true">${STATUS[s].icon}</span> ${by(s).length} ${STATUS[s].word.toLowerCase()}</span>`)}</div>
</div>
</section>
<section aria-labelledby="glance"><h2 id="glance">At a glance</h2>
<dl class="facts">
<div><dt>Database</dt><dd>${orDash(r.source.database === null ? null : showControls(r.source.database))}</dd></div>
<div><dt>Drill duration</dt><dd>${duration(r.run.duration_ms)}</dd></div>
<div><dt>Restore duration</dt><dd>${duration(r.restore?.duration_ms)}</dd></div>
<div><dt>Dump size</dt><dd>${bytes(r.backup.size_bytes)}</dd></div>
<div><dt>Tables compared</dt><dd>${num(r.tables.length)} tables</dd></div>
<div><dt>Teardown</dt><dd>${verdict(r.teardown.confirmed, 'confirmed', r.restore?.kept ? 'kept running (--keep)' : 'NOT confirmed')}</dd></div>
<div><dt>Production untouched</dt><dd>${verdict(r.production_untouched, 'confirmed', 'NOT proven')}</dd></div>
<div><dt>Started</dt><dd>${utc(r.run.started_at)}</dd></div>
</dl>
</section>`;
}

function sameCell(a: string | null, b: string | null): Html {
  if (a === null || b === null) return html`<span class="muted">—</span>`;
  return verdict(a === b, 'unchanged', 'CHANGED');
}

/** Production identity before/after the drill, and the sandbox's identity. */
export function identitySection(r: Report): Html {
  const p = r.production;
  const row = (label: string, before: string | null, after: string | null) =>
    html`<tr><th scope="row">${label}</th><td class="hash">${orDash(before)}</td><td class="hash">${orDash(after)}</td><td>${sameCell(before, after)}</td></tr>`;
  return html`<section aria-labelledby="identity"><h2 id="identity">Source identity</h2>
<p>Production untouched: ${verdict(r.production_untouched, 'confirmed — identity and catalog fingerprint unchanged, read-only statements only', 'NOT proven', 'not applicable (no source)')}</p>
<table>
<caption>The source read before any action and again at the end of the drill.</caption>
<thead><tr><th scope="col">Fact</th><th scope="col">Before</th><th scope="col">After</th><th scope="col">Compared</th></tr></thead>
<tbody>
${row('system_identifier', p.system_identifier_before, p.system_identifier_after)}
${row('catalog fingerprint', p.fingerprint_before, p.fingerprint_after)}
</tbody>
</table>
<h3>Source and sandbox</h3>
<table>
<caption>Who pgdrill was on the source, and the throwaway cluster it restored into.</caption>
<tbody>
<tr><th scope="row">source URL (redacted)</th><td class="hash">${orDash(r.source.url)}</td></tr>
<tr><th scope="row">source server version</th><td>${orDash(r.source.server_version)}</td></tr>
<tr><th scope="row">source role</th><td>${orDash(r.source.user)}${r.source.is_superuser ? ' (superuser)' : ''}${r.source.can_write_detail ? html` — ${r.source.can_write_detail}` : ''}</td></tr>
<tr><th scope="row">source in recovery (standby)</th><td>${orDash(r.source.in_recovery)}</td></tr>
<tr><th scope="row">snapshot</th><td class="hash">${orDash(r.source.snapshot)}</td></tr>
<tr><th scope="row">session settings</th><td class="hash">${orDash(p.session_settings)}</td></tr>
<tr><th scope="row">sandbox system_identifier</th><td class="hash">${orDash(r.restore?.system_identifier)}${r.restore?.system_identifier && r.source.system_identifier ? html` <span class="muted">(source: ${r.source.system_identifier})</span>` : ''}</td></tr>
<tr><th scope="row">sandbox server version</th><td>${orDash(r.restore?.server_version)}</td></tr>
${r.versions ? html`<tr><th scope="row">versions: source · pg_dump · sandbox</th><td>${orDash(r.versions.source)} · ${orDash(r.versions.pg_dump)} · ${r.versions.sandbox} <span class="muted">(${r.versions.sandbox_reason}${r.versions.target_major === null ? '' : `; target major ${r.versions.target_major}`})</span></td></tr>
<tr><th scope="row">PostgreSQL programs</th><td class="hash">${r.versions.programs.map((p, i) => html`${i ? html`<br>` : ''}${p.name} ${p.version} (${p.role}) ${p.path}`)}</td></tr>` : ''}
</tbody>
</table>
</section>`;
}

/** Every check with its status, stage, detail and evidence. */
export function checksSection(r: Report): Html {
  if (!r.checks.length) return html`<section aria-labelledby="checks"><h2 id="checks">Checks</h2><p class="muted">No check ran.</p></section>`;
  const evidence = (e: Check['evidence']) =>
    e && Object.keys(e).length
      ? html`<div class="evidence">${Object.entries(e).map(([k, v], i) => html`${i ? ' · ' : ''}${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)}</div>`
      : '';
  return html`<section aria-labelledby="checks"><h2 id="checks">Checks</h2>
<table>
<caption>${r.checks.length} checks in the order they ran. A drill passes only when no check failed.</caption>
<thead><tr><th scope="col">Status</th><th scope="col">Check</th><th scope="col">Stage</th><th scope="col">Detail and evidence</th></tr></thead>
<tbody>
${r.checks.map((c) => html`<tr${c.status === 'fail' ? html` class="is-fail"` : ''}><td>${badge(c.status)}</td><th scope="row"><code>${c.name}</code></th><td>${c.stage}</td><td>${c.detail}${evidence(c.evidence)}</td></tr>`)}
</tbody>
</table>
</section>`;
}
