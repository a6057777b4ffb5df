/** report.md: the production footprint (what the drill cost the source, beside pg_dump alone). Renders; computes nothing. */
import type { Footprint } from './footprint-model.js';
import { mdCell } from './markdown-cell.js';

const cell = mdCell;
const ms = (v: number | null) => (v === null ? '—' : `${(v / 1000).toFixed(2)} s`);

/** The "Production footprint" subsection of §6; empty when the footprint was not measured. */
export function renderFootprint(f: Footprint | null | undefined): string {
  if (!f) return '';
  const out = [`### Production footprint\n\n${f.summary}.\n`];
  out.push(`CPU: ${cell(f.cpu.detail)}.\n`);
  if (f.sessions.length) {
    out.push(`| backend pid | by | session | CPU |\n|---:|---|---|---:|\n${f.sessions
      .map((s) => `| ${s.pid} | ${s.by} | ${cell(s.what)} | ${ms(s.cpu_ms)} |`).join('\n')}\n`);
  }
  out.push(`Statements: ${cell(f.statements.detail)}.\n`);
  if (f.statements.groups.length) {
    out.push(`| statements | calls | rows | shared blocks read | shared blocks hit | execution time |\n|---|---:|---:|---:|---:|---:|\n${f.statements.groups
      .map((g) => `| ${cell(g.label)} | ${g.calls} | ${g.rows} | ${g.shared_blks_read} | ${g.shared_blks_hit} | ${ms(g.total_exec_time_ms)} |`).join('\n')}\n`);
  }
  if (f.database) {
    const d = f.database;
    out.push(`pg_stat_database — ${cell(d.scope)}: ${d.tup_returned} rows returned, ${d.tup_fetched} fetched, ${d.blks_read} blocks read (${d.bytes_read} bytes), ${d.blks_hit} hit.\n`);
  }
  return out.join('\n');
}
