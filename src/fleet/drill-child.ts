/**
 * One fleet drill, run exactly as a user runs it: `pgdrill run|verify --json` in a child process of the worker. A
 * child per drill isolates it (its memory, its crash, its signal handlers and sandbox teardown are pgdrill's own,
 * tested paths), and lets the worker stop a drill that overruns its budget the way a user would: SIGTERM (the
 * drill tears its sandbox down and writes its report), SIGKILL only if it has not ended a minute later.
 *
 * The child also watches the worker (PGDRILL_EXIT_WITH_PARENT, src/cli/parent-watch.ts): a worker killed with
 * SIGKILL leaves no drill running on behind it, and the queue's lease hands the database to another worker.
 */
import { writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startProcess } from '../exec/run-process.js';
import { formatBytes, formatDuration } from '../config/duration.js';
import { drillFootprint, drillRunDir } from './drill-footprint.js';
import type { DrillJobData } from './queue.js';

/** How a fleet drill ended. */
export interface DrillOutcome {
  /** PASS/FAIL: the report's verdict; error: no report (exit 2, 3, 4, 70); stopped: over a budget (`stopReason`); interrupted: the worker stopped it. */
  readonly verdict: 'PASS' | 'FAIL' | 'error' | 'stopped' | 'interrupted';
  /** stopped: which budget it overran, its max_duration or its disk_budget; null otherwise. */
  readonly stopReason: 'duration' | 'disk' | null;
  readonly exitCode: number | null;
  /** The report the child printed (`--json`), when it printed one. */
  readonly report: Record<string, unknown> | null;
  /** Its run directory (the report's, else the one found while it ran); null when it made none. */
  readonly runDir: string | null;
  /** Why the worker stopped it (stopped: "exceeded max_duration 2 h" or "exceeded disk_budget …"); null otherwise. */
  readonly cause: string | null;
  /** The last lines of the child's stderr, for a drill that ended without a report. */
  readonly stderrTail: string;
  readonly startedAt: string;
  readonly finishedAt: string;
}

/** Where and how a worker runs its drills. */
export interface DrillChildOptions {
  /** The pgdrill CLI script (dist/pgdrill.mjs). */
  readonly pgdrillBin: string;
  /** The worker's out directory (its own). */
  readonly outDir: string;
  /** The worker's state directory (its own); the child's PGDRILL_STATE_DIR. */
  readonly stateDir: string;
  /** The worker's environment: PG* (passwords, service files), HOME (~/.pgpass) and PGDRILL_* reach the child. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborted when the worker stops: the drill is stopped and reported as interrupted. */
  readonly signal: AbortSignal;
  /** Grace between SIGTERM and SIGKILL, ms; default 60 s (a sandbox teardown). */
  readonly killGraceMs?: number;
  /** How often the drill's disk use is measured against `job.diskBudgetBytes`, ms; default 5000. */
  readonly diskPollMs?: number;
}

/** Environment variables of the worker a drill inherits; the job's own source replaces host, port, user, database, service. */
const INHERITED = /^(PGPASSWORD|PGPASSFILE|PGSERVICEFILE|PGSYSCONFDIR|PGSSL[A-Z]*|PGCONNECT_TIMEOUT|PG_BINDIR|PGDRILL_[A-Z0-9_]+|HOME|USER|LOGNAME|TMPDIR|XDG_[A-Z_]+)$/;

/** Whether a drill gets the worker's variable `name` (`notify.webhook.url_env` of a fleet must name a PGDRILL_ one). */
export function drillInheritsPgdrillVar(name: string): boolean {
  return name.startsWith('PGDRILL_') && INHERITED.test(name) && name !== 'PGDRILL_STATE_DIR' && name !== 'PGDRILL_EXIT_WITH_PARENT';
}

/** The child's command line and environment. */
export function drillCommand(job: DrillJobData, configFile: string, o: DrillChildOptions): { args: string[]; env: Record<string, string> } {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.env)) if (v !== undefined && INHERITED.test(k)) env[k] = v;
  env.PGDRILL_STATE_DIR = o.stateDir;
  env.PGDRILL_EXIT_WITH_PARENT = String(process.pid);
  if (job.service) env.PGSERVICE = job.service;
  const args = ['--expose-gc', '--max-semi-space-size=8', o.pgdrillBin, job.kind]; // the bin line's flags (src/cli/main.ts)
  if (job.kind === 'verify' && job.backup) args.push(job.backup);
  args.push('--json', '--config', configFile, '--out', o.outDir);
  if (job.source) args.push('--source', job.source);
  if (job.kind === 'verify' && !job.source && !job.service) args.push('--database', job.database.replace(/[^A-Za-z0-9_.-]/g, '_'));
  if (job.deep) args.push('--deep');
  return { args, env };
}

function parseReport(stdout: string): Record<string, unknown> | null {
  try {
    const r: unknown = JSON.parse(stdout);
    return typeof r === 'object' && r !== null && !Array.isArray(r) ? (r as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * Run one drill in a child process, stopped at `job.maxDurationMs`.
 * @param configFile written here (mode 0600: the umask is pgdrill's) and removed afterwards.
 */
export async function runDrillChild(job: DrillJobData, configFile: string, o: DrillChildOptions): Promise<DrillOutcome> {
  await writeFile(configFile, JSON.stringify(job.config), { mode: 0o600 });
  const startedAt = new Date().toISOString();
  const { args, env } = drillCommand(job, configFile, o);
  const p = startProcess({ bin: process.execPath, args, env, stdout: 'capture', allowFailure: true });
  // Why the worker stopped it, set once by the first of the stops below.
  const stopped: { why?: { verdict: 'stopped' | 'interrupted'; reason: DrillOutcome['stopReason']; cause: string | null }; killTimer?: NodeJS.Timeout } = {};
  const stop = (verdict: 'stopped' | 'interrupted', reason: DrillOutcome['stopReason'], cause: string | null) => {
    if (stopped.why) return;
    stopped.why = { verdict, reason, cause };
    p.child.kill('SIGTERM');
    stopped.killTimer = setTimeout(() => p.child.kill('SIGKILL'), o.killGraceMs ?? 60_000);
  };
  const budget = setTimeout(() => stop('stopped', 'duration', `exceeded max_duration ${formatDuration(job.maxDurationMs)}`), job.maxDurationMs);
  const onAbort = () => stop('interrupted', null, null);
  o.signal.addEventListener('abort', onAbort, { once: true });
  if (o.signal.aborted) onAbort();
  const watching = new AbortController();
  const seen: { runDir?: string } = {};
  const watch = p.child.pid
    ? watchDrill(o, p.child.pid, job.diskBudgetBytes, watching.signal, seen, (cause) => stop('stopped', 'disk', cause))
    : Promise.resolve();
  try {
    const r = await p.done;
    const report = parseReport(r.stdout);
    const status = report?.status;
    const verdict = stopped.why?.verdict ?? (status === 'PASS' || status === 'FAIL' ? status : 'error');
    const reported = (report?.run as { dir?: unknown } | undefined)?.dir;
    const runDir = typeof reported === 'string' ? reported : seen.runDir ?? null;
    return { verdict, stopReason: stopped.why?.reason ?? null, exitCode: r.exitCode, report, runDir, cause: stopped.why?.cause ?? null, stderrTail: r.stderrTail.slice(-2000), startedAt, finishedAt: new Date().toISOString() };
  } finally {
    clearTimeout(budget);
    if (stopped.killTimer) clearTimeout(stopped.killTimer);
    watching.abort();
    await watch;
    o.signal.removeEventListener('abort', onAbort);
    await rm(configFile, { force: true });
  }
}

/**
 * Every `diskPollMs` until `signal`: find the drill's run directory (a stopped drill prints no report to say where it
 * is), and with a budget measure its run directory and sandboxes (drill-footprint.ts), calling `over` once they
 * hold more than `budget` bytes. One look at a time: a slow disk slows the watch, not the drill.
 */
async function watchDrill(o: DrillChildOptions, pid: number, budget: number | undefined, signal: AbortSignal, seen: { runDir?: string }, over: (cause: string) => void): Promise<void> {
  const pause = () => new Promise<void>((r) => {
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      r();
    };
    const t = setTimeout(done, o.diskPollMs ?? 5000);
    signal.addEventListener('abort', done, { once: true });
  });
  while (!signal.aborted) {
    await pause();
    if (signal.aborted) return;
    if (!budget) {
      seen.runDir ??= (await drillRunDir(o.outDir, pid).catch(() => null)) ?? undefined;
      if (seen.runDir) return;
      continue;
    }
    const f = await drillFootprint(o.outDir, o.stateDir, pid).catch(() => null);
    if (f?.runDir) seen.runDir ??= f.runDir;
    if (f && f.bytes > budget) {
      const where = [f.runDir, ...f.sandboxes].filter(Boolean).join(', ');
      over(`exceeded disk_budget ${formatBytes(budget)}: ${formatBytes(f.bytes)} in ${where}`);
      return;
    }
  }
}

/** The child's config file for a job, in the worker's state directory. */
export function jobConfigPath(stateDir: string, jobId: string): string {
  return join(stateDir, `fleet-job-${jobId.replace(/[^A-Za-z0-9-]/g, '')}.json`);
}
