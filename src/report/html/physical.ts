/** report.html: a physical drill's recovery — target and proof, WAL replayed and its rate, isolation, RTO. */
import type { PhysicalReport, Report } from '../model.js';
import { html, type Html } from './escape.js';
import { bytes, duration, num, orDash, verdict } from './format.js';

function row(label: string, value: Html | string): Html {
  return html`<tr><th scope="row">${label}</th><td>${value}</td></tr>`;
}

function code(v: string | number | null): Html {
  return v === null ? html`<span class="muted">—</span>` : html`<code>${String(v)}</code>`;
}

/** Where recovery stopped, and the witnesses of it (the log's stop line, the server's replay position). */
function reachedRows(p: PhysicalReport): Html {
  const r = p.reached;
  return html`${row('target', html`<code>${p.target}</code> <span class="muted">(timeline ${p.target_timeline})</span>`)}
${row('reached (pg_last_wal_replay_lsn)', code(r.lsn))}
${row('last replayed commit', orDash(r.last_commit_time))}
${row('recovery stop (server log)', code(r.stop_line))}
${row('consistent at · redo done at', html`${code(r.consistent_at)} · ${code(r.redo_done_at)}`)}
${row('new timeline after promotion', orDash(r.new_timeline))}
${r.fatal ? html`<tr class="is-fail"><th scope="row">recovery failed</th><td><code>${r.fatal}</code></td></tr>` : ''}`;
}

/** How the copy, which shares production's system_identifier, was kept from reaching anything. */
function isolationRows(p: PhysicalReport): Html {
  const i = p.isolation;
  const settings = Object.entries(i.settings);
  return html`${row('system_identifier', i.system_identifier ? html`<code>${i.system_identifier}</code> <span class="muted">(production's own: a physical copy)</span>` : html`<span class="muted">—</span>`)}
${row('TCP sockets held', i.tcp_sockets === null ? html`<span class="muted">not read</span>` : verdict(i.tcp_sockets === 0, 'none', `${i.tcp_sockets} (NOT isolated)`))}
${row('settings read from the running copy', settings.length ? html`${settings.map(([k, v], n) => html`${n ? ', ' : ''}<code>${k}='${v}'</code>`)}` : html`<span class="muted">not read (the copy never ran)</span>`)}
${i.overridden.length ? row("backup's own settings not read", i.overridden.join(', ')) : ''}
${i.preload_dropped.length ? row('preload libraries not loaded', i.preload_dropped.join(', ')) : ''}`;
}

/** The physical section (absent for logical drills). */
export function physicalSection(r: Report): Html {
  const p = r.physical;
  if (!p) return html``;
  const t = p.timings;
  const rate = p.wal.replay_bytes_per_s === null ? '' : html` at ${bytes(p.wal.replay_bytes_per_s)}/s`;
  return html`<section aria-labelledby="physical"><h2 id="physical">Physical recovery</h2>
<table>
<caption>The base backup recovered from its WAL to the target, in the sandbox: what was asked, what was reached, how the copy was isolated, and how long it took.</caption>
<tbody>
${row('backup', html`pg_basebackup, ${p.layout} format${p.manifest ? ', with backup_manifest' : ''}; start ${code(p.start_lsn)} on timeline ${orDash(p.start_timeline)}, consistent at ${code(p.backup_end_lsn)}`)}
${row('WAL archive', p.wal_dir === null ? html`<span class="muted">none (the WAL inside the backup)</span>` : html`<code>${p.wal_dir}</code>`)}
${reachedRows(p)}
${row('WAL replayed', p.wal.replayed_bytes === null ? html`<span class="muted">—</span>` : html`${bytes(p.wal.replayed_bytes)}${rate} <span class="muted">(${num(p.wal.restored_segments)} segment(s) restored from the archive; ${num(p.wal.staged_segments)} staged, ${num(p.wal.history_files)} history file(s))</span>`)}
${isolationRows(p)}
${row('data checksums', p.data_checksums === null ? '—' : p.data_checksums ? 'on (pg_checksums --check after a clean shutdown)' : 'off (amcheck reads the pages)')}
${p.databases.length ? row('databases', html`${p.databases.map((d, n) => html`${n ? ', ' : ''}${d.name} ${d.connected ? `(${num(d.tables)} tables, ${num(d.rows)} rows)` : html`<strong>(NOT connected${d.error ? `: ${d.error}` : ''})</strong>`}`)}`) : ''}
${row('RTO', html`<strong>${duration(t.rto_ms)}</strong> = copy ${duration(t.copy_ms)} + recovery ${duration(t.recovery_ms)} + checks ${duration(t.checks_ms)}`)}
</tbody>
</table>
</section>`;
}
