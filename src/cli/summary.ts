/** The one-screen summary printed after a drill. */
import { join } from 'node:path';
import { formatBytes, formatDuration } from '../config/duration.js';
import type { Report } from '../report/model.js';
import { showControls } from '../report/markdown-cell.js';

export function renderSummary(r: Report, runDir: string): string {
  const lines: string[] = [];
  const fails = r.checks.filter((c) => c.status === 'fail');
  const warns = r.checks.filter((c) => c.status === 'warn');
  lines.push('');
  lines.push(`${r.status === 'PASS' ? 'PASS' : 'FAIL'}${r.interrupted ? ' (interrupted)' : ''} — restore drill of ${r.source.database ?? r.backup.path} (${formatDuration(r.run.duration_ms)})`);
  if (r.backup.path) lines.push(`  backup      ${r.backup.path}`);
  if (r.backup.sha256) lines.push(`  sha256      ${r.backup.sha256}  (${formatBytes(r.backup.size_bytes ?? 0)}, ${r.backup.self_check === null ? 'no SHA256SUMS' : `SHA256SUMS ${r.backup.self_check ? 'OK' : 'FAILED'}`})`);
  if (r.restore?.system_identifier) lines.push(`  sandbox     sysid ${r.restore.system_identifier} ≠ source ${r.source.system_identifier ?? '—'}; ${r.tables.length} tables, ${r.tables.reduce((a, t) => a + (t.restored_rows ?? 0), 0)} rows restored`);
  lines.push(`  teardown    ${r.teardown.confirmed ? 'confirmed' : r.restore?.kept ? 'kept running' : 'NOT confirmed'}`);
  if (r.production_untouched !== null) lines.push(`  production  ${r.production_untouched ? 'untouched (sysid + catalog fingerprint unchanged, read-only statements only)' : 'NOT proven untouched'}`);
  lines.push(`  checks      ${r.checks.filter((c) => c.status === 'pass').length} pass, ${fails.length} fail, ${warns.length} warn, ${r.checks.filter((c) => c.status === 'skip').length} skip`);
  for (const c of fails) lines.push(`  FAIL ${c.name}: ${c.detail}`);
  for (const c of warns) lines.push(`  WARN ${c.name}: ${c.detail}`);
  if (r.restore?.kept && r.restore.connect) lines.push(`  connect     ${r.restore.connect}`);
  lines.push(`  report      ${join(runDir, 'report.md')}`);
  lines.push(`  html        ${join(runDir, 'report.html')}`);
  // Names and details hold whatever the source or the dump held: no escape sequence or line break reaches the terminal.
  return lines.map(showControls).join('\n') + '\n';
}
