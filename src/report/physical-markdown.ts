/** The physical drill's section of report.md: target and proof, WAL replayed, isolation, RTO. Computes nothing. */
import { formatBytes, formatDuration } from '../config/duration.js';
import type { PhysicalReport } from './model.js';
import { mdPre } from './markdown-cell.js';

const ms = (v: number | null) => (v === null ? '—' : formatDuration(v));

/** Render `report.physical`. Values (a FATAL line, a target name, settings read back) stay on their line: mdPre. */
export function renderPhysical(p: PhysicalReport): string {
  const rows: [string, string | number | boolean | null][] = [
    ['backup', `pg_basebackup, ${p.layout} format${p.manifest ? ', with backup_manifest' : ''}; start ${p.start_lsn ?? '—'} on timeline ${p.start_timeline ?? '—'}, consistent at ${p.backup_end_lsn ?? '—'}`],
    ['wal_archive', p.wal_dir],
    ['target', `${p.target} (timeline ${p.target_timeline})`],
    ['reached_lsn', p.reached.lsn],
    ['last_replayed_commit', p.reached.last_commit_time],
    ['recovery_stop', p.reached.stop_line],
    ['new_timeline', p.reached.new_timeline],
    ['recovery_failed', p.reached.fatal],
    ['wal_replayed', p.wal.replayed_bytes === null ? null : `${formatBytes(p.wal.replayed_bytes)} (${p.wal.restored_segments} segment(s) restored from the archive) at ${p.wal.replay_bytes_per_s === null ? '—' : `${formatBytes(p.wal.replay_bytes_per_s)}/s`}`],
    ['system_identifier', p.isolation.system_identifier ? `${p.isolation.system_identifier} (production's own: a physical copy)` : null],
    ['isolation', Object.entries(p.isolation.settings).map(([k, v]) => `${k}='${v}'`).join(', ') || null],
    ['backup_settings_not_read', p.isolation.overridden.join(', ') || null],
    ['preload_not_loaded', p.isolation.preload_dropped.join(', ') || null],
    ['data_checksums', p.data_checksums],
    ['rto', `${ms(p.timings.rto_ms)} = copy ${ms(p.timings.copy_ms)} + recovery ${ms(p.timings.recovery_ms)} + checks ${ms(p.timings.checks_ms)}`],
  ];
  const text = rows.filter(([, v]) => v !== null && v !== '').map(([k, v]) => `${k}: ${mdPre(String(v))}`).join('\n');
  return `### Physical recovery\n\n\`\`\`\n${text}\n\`\`\`\n`;
}
