/**
 * report.md: front matter, then the sections of an operator's closeout record (method and provenance, backup,
 * content check, restore test, teardown, production untouched, summary). Renders the model; computes nothing.
 */
import { stringify } from 'yaml';
import { formatBytes, formatDuration } from '../config/duration.js';
import type { StageName } from './checks/index.js';
import type { Check, Report } from './model.js';
import { renderFidelity } from './fidelity-markdown.js';
import { renderFootprint } from './footprint-markdown.js';
import { renderPhysical } from './physical-markdown.js';
import { renderTables } from './tables-markdown.js';
import { mdCell, mdCodeCell, mdLine, mdPre } from './markdown-cell.js';

const MARK: Record<Check['status'], string> = { pass: 'PASS', fail: 'FAIL', warn: 'WARN', skip: 'SKIP' };

const esc = mdCell;

function checksOf(r: Report, stages: readonly StageName[]): string {
  const cs = r.checks.filter((c) => stages.includes(c.stage));
  if (!cs.length) return '_no checks ran in this stage_\n';
  return cs.map((c) => `- **${MARK[c.status]}** \`${c.name}\` — ${mdLine(c.detail)}`).join('\n') + '\n';
}

function kv(rows: [string, string | number | boolean | null | undefined][]): string {
  return rows.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}: ${v === null ? '—' : mdPre(String(v))}`).join('\n') + '\n';
}

/** Render report.md. */
export function renderMarkdown(r: Report): string {
  const out: string[] = [renderHead(r), renderProvenance(r), renderBackup(r), renderContent(r), renderRestore(r)];
  if (r.physical) out.push(renderPhysical(r.physical));
  if (r.jail) out.push(renderJail(r.jail));
  if (r.restore?.errors.length) out.push(renderRestoreErrors(r.restore.errors));
  if (r.tables.length) out.push(renderTables(r.tables));
  if (r.fidelity) out.push(renderFidelity(r.fidelity));
  out.push(`## §5 — Teardown\n\n\`\`\`\n${kv([['teardown', r.teardown.detail], ['confirmed', r.teardown.confirmed]])}\`\`\`\n\n${checksOf(r, ['teardown'])}`);
  out.push(renderProduction(r));
  if (r.production.audit.length) out.push(renderAudit(r.production.audit));
  const footprint = renderFootprint(r.production.footprint);
  if (footprint) out.push(footprint);
  if (r.baseline || r.checks.some((c) => c.stage === 'baseline')) out.push(renderBaseline(r));
  if (r.notes.length) out.push(`## Notes\n\n${r.notes.map((n) => `- **${n.id}** — ${n.text}`).join('\n')}\n`);
  out.push(renderSummary(r));
  return out.join('\n');
}

/** Front matter, title and the verdict paragraph. */
function renderHead(r: Report): string {
  const front = {
    status: r.status,
    kind: r.kind,
    database: r.source.database,
    system_identifier: r.source.system_identifier,
    size_bytes: r.backup.size_bytes,
    sha256: r.backup.sha256,
    run_window_utc: `${r.run.started_at} → ${r.run.finished_at}`,
    production_untouched: r.production_untouched,
    teardown_confirmed: r.teardown.confirmed,
    interrupted: r.interrupted || undefined,
    pgdrill: r.tool.version,
    ...r.metadata,
  };
  const failing = r.checks.filter((c) => c.status === 'fail');
  return [
    `---\n${stringify(front, { lineWidth: 0 }).trim()}\n---\n`,
    `# Restore drill — ${mdLine(r.source.database ?? r.backup.path ?? 'unknown')} — ${r.status}${r.interrupted ? ' (interrupted)' : ''}\n`,
    r.status === 'PASS'
      ? (r.kind === 'verify'
          ? `**${r.status}.** The existing ${r.backup.format ?? ''} backup ${r.backup.path ?? ''} passed its integrity checks, was content-checked and restored into an isolated throwaway cluster; every check passed. `
          : `**${r.status}.** A fresh ${r.backup.format ?? ''} backup was taken read-only, content-checked and restored into an isolated throwaway cluster; every check passed. `) +
        `Teardown ${r.teardown.confirmed ? 'confirmed' : 'NOT confirmed'}; production ${r.production_untouched === null ? 'not applicable (no source)' : r.production_untouched ? 'untouched (identity and catalog fingerprint unchanged, read-only statements only)' : 'untouched: not proven'}.\n`
      : `**${r.status}.** ${failing.length} check(s) failed:\n\n${failing.map((c) => `- \`${c.name}\`: ${mdLine(c.detail)}`).join('\n')}\n`,
  ].join('\n');
}

/** §1: who ran what, where, against which server, with which programs. */
function renderProvenance(r: Report): string {
  return `## §1 — Method & Provenance\n\n\`\`\`\n${kv([
    ['tool', `pgdrill ${r.tool.version}`],
    ['command', r.run.argv.join(' ') || '(library call)'],
    ['host', r.run.host],
    ['os_user', r.run.user],
    ['run_dir', r.run.dir],
    ['run_window_utc', `${r.run.started_at} → ${r.run.finished_at} (${formatDuration(r.run.duration_ms)})`],
    ['peak_rss', r.run.peak_rss_bytes == null ? undefined : formatBytes(r.run.peak_rss_bytes)],
    ['source', r.source.url],
    ['source_role', r.source.user === null ? null : `${r.source.user}${r.source.is_superuser ? ' (superuser)' : ''}; ${r.source.can_write_detail ?? ''}`],
    ['server_version', r.source.server_version],
    ['versions', r.versions ? `source ${r.versions.source ?? '?'} · pg_dump ${r.versions.pg_dump ?? '?'} · sandbox ${r.versions.sandbox} (${r.versions.sandbox_reason})${r.versions.target_major === null ? '' : ` · target major ${r.versions.target_major}`}` : undefined],
    ['programs', r.versions ? r.versions.programs.map((p) => `${p.name} ${p.version} (${p.role}) ${p.path}`).join('; ') : undefined],
    ['production_identity_guard', r.source.system_identifier ? `sysid ${r.source.system_identifier} AND db ${r.source.database} read before any action` : null],
  ])}\`\`\`\n\n${checksOf(r, ['guard'])}`;
}

/** §2: the backup taken (run) or checked (verify). */
function renderBackup(r: Report): string {
  const g = r.backup.globals;
  return `## §2 — ${r.kind === 'verify' ? 'Backup Integrity' : 'Fresh Backup'}\n\n\`\`\`\n${kv([
    ['backup_path', r.backup.path],
    ['backup_method', r.backup.tool],
    ['snapshot', r.source.snapshot],
    ['backup_size_bytes', r.backup.size_bytes === null ? null : `${r.backup.size_bytes} (${formatBytes(r.backup.size_bytes)})`],
    ['backup_sha256', r.backup.sha256],
    ['checksum_self_check', r.backup.self_check === null ? null : `${r.backup.sums_path} -c → ${r.backup.self_check ? 'OK' : 'FAILED'}`],
    ['globals', g ? `${g.mode}${g.path ? ` ${g.path} sha256 ${g.sha256}` : ''}${g.note ? ` — ${g.note}` : ''}` : null],
    ['duration', r.backup.duration_ms === null ? null : formatDuration(r.backup.duration_ms)],
  ])}\`\`\`\n\n${checksOf(r, ['backup'])}`;
}

/** §3: what the backup holds. */
function renderContent(r: Report): string {
  const inv = r.inventory;
  return `## §3 — Backup Content Check\n\n${inv ? `\`\`\`\n${kv([
    ['objects_by_type', Object.entries(inv.counts_by_type).map(([k, v]) => `${k} ${v}`).join(', ')],
    ['roles_referenced', Object.entries(inv.roles).map(([k, v]) => `${k} (${v.owner} owner, ${v.grant} grant)`).join(', ')],
    ['grants_by_role', Object.entries(inv.grants_by_role).map(([k, v]) => `${k} ${v.total} (${v.write} write)`).join(', ')],
  ])}\`\`\`\n\n` : ''}${checksOf(r, ['content'])}`;
}

/** §4's head: the throwaway cluster and what was restored into it. */
function renderRestore(r: Report): string {
  const rs = r.restore;
  return `## §4 — Isolated Restore Test\n\n${rs ? `\`\`\`\n${kv([
    ['restore_system_identifier', rs.system_identifier ? `${rs.system_identifier} (≠ production ${r.source.system_identifier ?? '—'})` : null],
    ['restore_server_version', rs.server_version],
    ['sandbox_os_user', rs.os_user ?? '(the caller)'],
    ['sandbox_data_dir', rs.data_dir],
    ['sandbox_socket_dir', rs.socket_dir ? `${rs.socket_dir} (Unix socket only, no TCP)` : null],
    ['restore_duration', rs.duration_ms === null ? null : `${formatDuration(rs.duration_ms)}${rs.overlapped ? ' (overlapped with the dump: restored from pg_dump\'s stream as it was written)' : ''}`],
    ['restore_errors', rs.errors.length],
    ['objects_restored', Object.entries(rs.objects_restored).map(([k, v]) => `${k} ${v}`).join(', ')],
  ])}\`\`\`\n\n` : ''}${checksOf(r, ['restore', 'fidelity'])}`;
}

/** §4's table of restore errors. */
function renderRestoreErrors(errors: NonNullable<Report['restore']>['errors']): string {
  return `### Restore errors\n\n| # | phase | class | SQLSTATE | message | statement | hint |\n|---|---|---|---|---|---|---|\n${errors
    .map((e, i) => `| ${i + 1} | ${e.phase} | ${e.classification} | ${e.sqlstate ?? ''} | ${esc(e.message)} | ${esc((e.statement ?? '').slice(0, 120))} | ${esc(e.hint ?? '')} |`)
    .join('\n')}\n`;
}

/** §6: identity and catalog fingerprint before and after. */
function renderProduction(r: Report): string {
  return `## §6 — Production-Untouched Confirmation\n\n\`\`\`\n${kv([
    ['production_system_identifier_before', r.production.system_identifier_before],
    ['production_system_identifier_after', r.production.system_identifier_after],
    ['catalog_fingerprint_before', r.production.fingerprint_before],
    ['catalog_fingerprint_after', r.production.fingerprint_after],
    ['session_settings', r.production.session_settings],
    ['statements_sent', r.production.audit.length],
  ])}\`\`\`\n\n${checksOf(r, ['production'])}`;
}

/** §6's audit: every statement sent to the source. */
function renderAudit(audit: Report['production']['audit']): string {
  return `<details><summary>Audit: every statement sent to the source (${audit.length})</summary>\n\n| at | by | statement |\n|---|---|---|\n${audit
    .map((a) => `| ${a.at} | ${a.by} | \`${mdCodeCell(a.sql.replace(/\s+/g, ' ').slice(0, 200))}\` |`)
    .join('\n')}\n\n</details>\n`;
}

/** The comparison with the previous PASS. */
function renderBaseline(r: Report): string {
  const bl = r.baseline;
  const pct = (v: number | null) => (v === null ? '' : ` (${v > 0 ? '+' : ''}${v}%)`);
  return `## Baseline — compared with the previous PASS\n\n${bl ? `\`\`\`\n${kv([
    ['previous_pass', `${bl.run_id} (${bl.kind}, ${bl.format ?? '?'}, started ${bl.started_at})`],
    ['compared_as', bl.basis],
    ['dump_size_bytes', `${bl.size_bytes.previous ?? '—'} → ${bl.size_bytes.current ?? '—'}${pct(bl.size_bytes.change_pct)}`],
    ['objects_changed', Object.entries(bl.objects).map(([k, v]) => `${k} ${v.previous} → ${v.current}`).join(', ') || 'none'],
    ['tables_changed', bl.tables.length ? bl.tables.slice(0, 20).map((t) => `${t.table} ${t.previous ?? '—'} → ${t.current ?? 'GONE'}${pct(t.change_pct)}`).join(', ') + (bl.tables.length > 20 ? `, … (${bl.tables.length - 20} more)` : '') : 'none'],
  ])}\`\`\`\n\n` : ''}${checksOf(r, ['baseline'])}`;
}

/** §7: the closeout summary and the stage table. */
function renderSummary(r: Report): string {
  return `## §7 — Summary\n\n\`\`\`\n${kv([
    ['backup_verification_status', r.status],
    ['backup', r.backup.path],
    ['sha256', r.backup.sha256],
    ['size_bytes', r.backup.size_bytes],
    ['content_check', stageStatus(r, 'content')],
    ['restore_test', stageStatus(r, 'restore')],
    ['teardown', r.teardown.confirmed ? 'CONFIRMED' : 'NOT CONFIRMED'],
    ['production_untouched', r.production_untouched === null ? 'not applicable' : r.production_untouched ? 'CONFIRMED' : 'NOT PROVEN'],
  ])}\`\`\`\n\n| stage | status | duration |\n|---|---|---:|\n${r.stages.map((s) => `| ${s.name} | ${MARK[s.status]} | ${formatDuration(s.duration_ms)} |`).join('\n')}\n`;
}

/** §4's jail: who the sandbox ran as, whether it had a network of its own, what was refused before it. */
function renderJail(j: NonNullable<Report['jail']>): string {
  const who = j.os_user === null ? '(the caller: pgdrill not run as root)' : `${j.os_user}${j.os_user_source === 'dedicated' ? " (pgdrill's dedicated user)" : ' (sandbox.os_user from the config)'}`;
  const allowed = [...j.allowed.functions.map((f) => `function ${f}`), ...j.allowed.meta_commands.map((m) => `\\${m.replace(/^\\/, '')}`)];
  const head = `### Jail\n\n\`\`\`\n${kv([
    ['sandbox_os_user', who],
    ['network_namespace', j.network_namespace ? `yes (${j.namespace_mode === 'bwrap' ? 'bubblewrap' : j.namespace_mode === 'root' ? 'unshare --net, then the OS user' : 'unprivileged user namespace'}): no connection anywhere, Unix socket only` : `NO — ${j.namespace_note ?? 'unavailable'}`],
    ['mount_namespace', j.mount_namespace ? 'yes (bubblewrap): sees /usr and its own directories only' : `NO — ${j.mount_note ?? 'unavailable'}`],
    ['refused_before_restore', j.refused.length + j.refused_omitted],
    ['allowed_exceptions', allowed.length ? allowed.join(', ') : 'none'],
  ])}\`\`\`\n`;
  if (!j.refused.length) return head;
  return `${head}\n| line | kind | in | what |\n|---:|---|---|---|\n${j.refused
    .slice(0, 50)
    .map((f) => `| ${f.line} | ${f.kind} | ${esc(f.object ?? '—')} | ${esc(f.text)} |`)
    .join('\n')}\n${j.refused.length + j.refused_omitted > 50 ? `\n_…and ${j.refused.length + j.refused_omitted - 50} more (report.json lists up to 1000)_\n` : ''}`;
}

function stageStatus(r: Report, stage: string): string {
  const s = r.stages.find((x) => x.name === stage);
  return s ? MARK[s.status] : 'not run';
}
