/**
 * Integrity before anything is restored: the backup's files (`backup.physical_files`) and pg_verifybackup against
 * its manifest (`backup.pg_verifybackup`). pg_verifybackup before PostgreSQL 18 reads plain backups only: a tar
 * backup is checked against its manifest once extracted into the sandbox, before the server starts (recover.ts).
 */
import { runProcess } from '../exec/run-process.js';
import type { CheckResult } from '../report/model.js';
import type { BackupLayout } from './backup-layout.js';
import { scanBackupTree } from './backup-files.js';
import type { BackupFacts } from './label-reader.js';

/** `backup.physical_files`: label, version, base.tar and (plain) the tree's entries. */
export async function physicalFilesCheck(layout: BackupLayout, facts: BackupFacts): Promise<CheckResult> {
  const problems = [...facts.problems];
  let summary = '';
  if (layout.format === 'plain') {
    const tree = await scanBackupTree(layout.dir);
    if (tree.refused.length) problems.push(`the backup holds what a base backup never does, and is not copied: ${tree.refused.slice(0, 10).join(', ')}`);
    if (tree.tablespaces.length) problems.push(`tablespaces (${tree.tablespaces.join(', ')}) are not restored by pgdrill yet`);
    summary = `${tree.files} files, ${tree.bytes} bytes`;
  } else if (layout.tablespaceTars.length) {
    problems.push(`tablespaces (${layout.tablespaceTars.join(', ')}) are not restored by pgdrill yet`);
  }
  const l = facts.label;
  return {
    name: 'backup.physical_files', stage: 'backup', status: problems.length ? 'fail' : 'pass',
    detail: problems.length
      ? problems.join('; ')
      : `${layout.format === 'plain' ? `plain base backup: ${summary}` : `tar base backup: ${layout.baseTar}${layout.walTar ? ` + ${layout.walTar}` : ''}`}; backup_label: start ${l!.startLsn} on timeline ${l!.timeline} (segment ${l!.startSegment}), taken ${l!.startTime ?? '?'} from a ${l!.from ?? '?'}; PostgreSQL ${facts.major}`,
    evidence: { layout: layout.format, label: l, major: facts.major },
  };
}

/**
 * Run pg_verifybackup on a plain backup (or an extracted tar: `manifest` then names the manifest) and judge it.
 * `skipWal`: `-n` (the WAL is checked by backup.wal_continuity from the archive instead).
 */
export async function runVerifyBackup(prog: string, dir: string, o: { manifest?: string; skipWal: boolean; signal?: AbortSignal; as?: { bin: string; args: readonly string[]; uid?: number; gid?: number } }): Promise<CheckResult> {
  const args = [...(o.skipWal ? ['-n'] : []), ...(o.manifest ? ['-m', o.manifest] : []), dir];
  const lines: string[] = [];
  const cmd = o.as ?? { bin: prog, args };
  const r = await runProcess({ ...cmd, signal: o.signal, allowFailure: true, stdout: 'capture', onStderrLine: (l) => lines.push(l) });
  const errors = lines.filter((l) => /error:|warning:/.test(l)).map((l) => l.replace(/^pg_verifybackup: (error: )?/, ''));
  if (r.exitCode === 0) {
    return { name: 'backup.pg_verifybackup', stage: 'backup', status: 'pass', detail: `pg_verifybackup${o.skipWal ? ' -n' : ''}: every file matches backup_manifest (sizes and checksums)${o.skipWal ? '; the WAL is checked in the archive (backup.wal_continuity)' : ', and the WAL the backup needs parses'}`, evidence: { args } };
  }
  return {
    name: 'backup.pg_verifybackup', stage: 'backup', status: 'fail',
    detail: `pg_verifybackup found ${errors.length || 'a'} problem(s) against backup_manifest: ${errors.slice(0, 8).join('; ') || r.stderrTail.trim()}${errors.length > 8 ? ` (and ${errors.length - 8} more)` : ''}`,
    evidence: { exit_code: r.exitCode, errors: errors.slice(0, 100), args },
  };
}
