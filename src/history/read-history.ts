/**
 * The drill history: one entry per run directory `<out>/<database>-<UTC stamp>/` that holds a readable
 * report.json. Reads only; a directory without a valid report (a drill still running, a foreign folder, a
 * damaged file) is skipped with a reason, never an exception.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { ReportSchema, type Report } from '../report/model.js';
import { pathExists as exists } from '../exec/path-exists.js';
import { runDirLabel } from '../out-dir/run-dir.js';
import { SANDBOX_MARKER } from '../sandbox/marker.js';

/** One past drill, as the history command and the dashboard show it. */
export interface HistoryEntry {
  /** Absolute path of the run directory. */
  readonly runDir: string;
  /** Absolute path of its report.json. */
  readonly reportPath: string;
  /** Absolute path of its report.html, or null when the run predates the HTML report. */
  readonly htmlPath: string | null;
  readonly runId: string;
  /** ISO 8601, UTC. */
  readonly startedAt: string;
  readonly finishedAt: string;
  /** The source database; for a verify without a source, the run directory's name without its stamp. */
  readonly database: string;
  readonly kind: Report['kind'];
  readonly status: Report['status'];
  readonly interrupted: boolean;
  /** Size of the dump in bytes, when known. */
  readonly sizeBytes: number | null;
  /** Whole drill, start to finish. */
  readonly durationMs: number;
  /** The restore into the sandbox alone, when it ran. */
  readonly restoreMs: number | null;
  readonly sha256: string | null;
  readonly format: Report['backup']['format'];
  readonly productionUntouched: boolean | null;
  /** Names of the checks that failed. */
  readonly failedChecks: readonly string[];
  readonly pgdrillVersion: string;
}

/** A run directory that could not be read, and why. */
export interface SkippedRun {
  readonly runDir: string;
  readonly reason: string;
}

/** What `readHistory` found. */
export interface HistoryResult {
  /** Newest first. */
  readonly entries: HistoryEntry[];
  readonly skipped: SkippedRun[];
}

/** Options of `readHistory` / `listRuns`. */
export interface HistoryOptions {
  /** Told about every skipped directory (warn). Default: silent. */
  readonly logger?: Logger;
}

/** Unparseable times sort last. */
function newestFirst(a: string, b: string): number {
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  if (Number.isNaN(ta) || Number.isNaN(tb)) return Number(Number.isNaN(ta)) - Number(Number.isNaN(tb));
  return tb - ta;
}

function toEntry(r: Report, runDir: string, htmlPath: string | null): HistoryEntry {
  const name = runDir.split('/').pop() ?? runDir;
  return {
    runDir,
    reportPath: join(runDir, 'report.json'),
    htmlPath,
    runId: r.run.id,
    startedAt: r.run.started_at,
    finishedAt: r.run.finished_at,
    database: r.source.database ?? runDirLabel(name),
    kind: r.kind,
    status: r.status,
    interrupted: r.interrupted,
    sizeBytes: r.backup.size_bytes,
    durationMs: r.run.duration_ms,
    restoreMs: r.restore?.duration_ms ?? null,
    sha256: r.backup.sha256,
    format: r.backup.format,
    productionUntouched: r.production_untouched,
    failedChecks: r.checks.filter((c) => c.status === 'fail').map((c) => c.name),
    pgdrillVersion: r.tool.version,
  };
}

/** One directory of the out directory: a drill, a run directory skipped with its reason, or null for a sandbox. */
async function readOne(runDir: string): Promise<HistoryEntry | SkippedRun | null> {
  const path = join(runDir, 'report.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A sandbox (or the demo's source) placed in the out directory is no drill: not one to warn about.
    if (code === 'ENOENT' && (await exists(join(runDir, SANDBOX_MARKER)))) return null;
    return { runDir, reason: code === 'ENOENT' ? 'no report.json (drill still running, or interrupted before its report)' : `cannot read report.json: ${(err as Error).message}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { runDir, reason: `report.json is not valid JSON: ${(err as Error).message}` };
  }
  const parsed = ReportSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    return { runDir, reason: `report.json is not a pgdrill report (schema 1): ${first ? `${first.path.join('.') || '(root)'}: ${first.message}` : 'invalid'}` };
  }
  const html = join(runDir, 'report.html');
  return toEntry(parsed.data, runDir, (await exists(html)) ? html : null);
}

/** Read the report.json of every run directory in `outDir`: entries newest first, and the directories skipped with their reason. */
export async function readHistory(outDir: string, opts: HistoryOptions = {}): Promise<HistoryResult> {
  const logger = opts.logger ?? silentLogger;
  const root = resolve(outDir);
  let names: string[];
  try {
    names = (await readdir(root, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], skipped: [] };
    throw new ConfigError(`cannot list the drills in ${root}: ${(err as Error).message}; --out must be the directory drills write into`, [], { cause: err });
  }
  const results = await Promise.all(names.sort().map((n) => readOne(join(root, n))));
  const entries: HistoryEntry[] = [];
  const skipped: SkippedRun[] = [];
  for (const r of results) {
    if (r === null) continue;
    if ('reason' in r) {
      skipped.push(r);
      logger.warn(`history: skipped ${r.runDir}: ${r.reason}`);
    } else entries.push(r);
  }
  entries.sort((a, b) => newestFirst(a.startedAt, b.startedAt) || b.runDir.localeCompare(a.runDir));
  return { entries, skipped };
}

/** The drills under `outDir`, newest first; unreadable run directories are skipped (and logged as warnings). */
export async function listRuns(outDir: string, opts: HistoryOptions = {}): Promise<HistoryEntry[]> {
  return (await readHistory(outDir, opts)).entries;
}
