/**
 * The end of `run`'s backup stage, once pg_dump exited 0: its check, a plain dump's trailer, the globals, and
 * SHA256SUMS written and re-read (the dump's digest from its re-read beside the restore); the report's `backup`
 * section of a fresh dump; `backup.source_counts`.
 */
import { join } from 'node:path';
import { tableLabel, type TableFailure } from '../../catalog/tables.js';
import type { DrillConfig } from '../../config/schema.js';
import type { DumpFormat, DumpResult } from '../../backup/pg-dump.js';
import type { GlobalsResult } from '../../backup/globals.js';
import { checkSums, writeSums } from '../../backup/sha256sums.js';
import type { CheckResult, Report } from '../../report/model.js';
import type { PlainScanResult } from '../../scan/types.js';
import type { DrillContext } from '../context.js';
import { trailerCheck } from '../scan/dump-checks.js';
import { emptyBackupSection } from '../report/empty-report.js';

/** What the end of the backup stage needs: the dump pg_dump wrote, and how to capture the globals. */
export interface SealInput {
  readonly config: DrillConfig;
  readonly format: DumpFormat;
  readonly dump: DumpResult;
  readonly scan: PlainScanResult | null;
  readonly snapshot: string;
  readonly captureGlobals: () => Promise<GlobalsResult>;
}

/** `backup.pg_dump` (it exited 0) and a plain dump's `backup.trailer`. */
export function recordDump(ctx: DrillContext, o: Pick<SealInput, 'format' | 'dump' | 'scan' | 'snapshot'>): void {
  const { dump } = o;
  ctx.builder.add({
    name: 'backup.pg_dump', stage: 'backup', status: 'pass',
    detail: `pg_dump ${ctx.bins.version('pg_dump').text} exited 0: ${dump.sizeBytes} bytes (${o.format}) in ${dump.durationMs} ms, snapshot ${o.snapshot}${dump.stderr.length ? `; stderr: ${dump.stderr.join(' | ').slice(0, 300)}` : ''}`,
    evidence: { path: dump.path, size_bytes: dump.sizeBytes, sha256: dump.sha256, args: dump.args, snapshot: o.snapshot },
  });
  if (o.scan) ctx.builder.add(trailerCheck(o.scan));
}

/** SHA256SUMS of the dump (and globals) written, then re-read: `backup.sha256_self_check`. */
export async function sealSums(ctx: DrillContext, dump: DumpResult, globals: GlobalsResult): Promise<{ selfCheck: boolean; sumsPath: string }> {
  const sumsPath = join(ctx.runDir, 'SHA256SUMS');
  const listed = [...(dump.files.length ? dump.files : [{ path: dump.path, sha256: dump.sha256 }]), ...(globals.path ? [{ path: globals.path, sha256: globals.sha256! }] : [])];
  await writeSums(sumsPath, listed);
  // The dump was re-read from disk once pg_dump had exited (beside the restore): compared here, not read a third time.
  const self = await checkSums(sumsPath, dump.reread ? new Map([[dump.path, dump.reread.sha256]]) : undefined);
  ctx.builder.expect('backup.sha256_self_check', 'backup', self.ok,
    `SHA256SUMS re-read: ${self.checked}/${self.checked} OK (sha256sum -c compatible${dump.reread ? '; the dump re-read from disk once pg_dump had exited, beside the restore' : ''})`,
    `SHA256SUMS re-read: ${self.failures.length} of ${self.checked} FAILED: ${self.failures.map((f) => `${f.path} expected ${f.expected} got ${f.actual ?? 'unreadable'}`).join('; ')}`,
    { checked: self.checked, failures: self.failures, dump_reread_after_exit: dump.reread !== null });
  return { selfCheck: self.ok, sumsPath };
}

/** `backup.globals`: pg_dumpall's roles (and tablespaces), or a note that they were not captured. */
export async function globalsOf(ctx: DrillContext, o: Pick<SealInput, 'config' | 'captureGlobals'>): Promise<GlobalsResult> {
  const b = ctx.builder;
  if (!o.config.backup.globals) {
    b.note('globals', 'backup.globals is off: roles were not captured; referenced roles are recreated as NOLOGIN placeholders');
    return { mode: 'none', path: null, sha256: null, sizeBytes: 0, note: 'globals capture disabled by config', args: [] };
  }
  const globals = await o.captureGlobals();
  b.add({
    name: 'backup.globals', stage: 'backup', status: globals.mode === 'globals-only' ? 'pass' : 'warn',
    detail: globals.mode === 'none' ? globals.note! : `pg_dumpall --${globals.mode} --no-role-passwords: ${globals.sizeBytes} bytes, sha256 ${globals.sha256}${globals.note ? ` (${globals.note})` : ''}`,
    evidence: { ...globals },
  });
  if (globals.note) b.note('globals', globals.note);
  return globals;
}

/** The report's `backup` section of a fresh dump (empty without one). */
export function freshBackupSection(r: {
  readonly dump: DumpResult | null;
  readonly globals: GlobalsResult | null;
  readonly selfCheck: boolean | null;
  readonly sumsPath: string | null;
}, format: DumpFormat, pgDump: string): Report['backup'] {
  const base = { ...emptyBackupSection(), self_check: r.selfCheck, sums_path: r.sumsPath };
  if (!r.dump) return base;
  const g = r.globals;
  return {
    ...base, path: r.dump.path, format, size_bytes: r.dump.sizeBytes, sha256: r.dump.sha256,
    tool: `pg_dump ${pgDump} ${r.dump.args.join(' ')}`, duration_ms: r.dump.durationMs,
    globals: g ? { mode: g.mode, path: g.path, sha256: g.sha256, size_bytes: g.sizeBytes, note: g.note } : null,
  };
}

/**
 * `backup.source_counts`: tables whose exact count failed on the source in the dump snapshot, each with the server's
 * reason. The dump itself was taken, summed and goes on to be checked and restored; only these tables' rows
 * cannot be compared (fidelity.row_counts covers the others).
 */
export function sourceCountsCheck(failures: readonly TableFailure[]): CheckResult {
  const named = failures.map((f) => `${tableLabel(f)}: ${f.error}`);
  return {
    name: 'backup.source_counts', stage: 'backup', status: 'fail',
    detail: `count(*) failed on the source in the dump snapshot for ${failures.length} table(s), whose rows are therefore not compared: ${named.slice(0, 10).join('; ')}${named.length > 10 ? `; … ${named.length - 10} more` : ''} — the dump was taken and checked on; fix the object (e.g. schema-qualify the names in a function its plan calls: pg_dump and pgdrill run with an empty search_path)`,
    evidence: { tables: failures },
  };
}
