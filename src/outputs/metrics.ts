/**
 * Prometheus metrics in the text exposition format, for node_exporter's textfile collector
 * (`--collector.textfile.directory`): per database, when the last drill ran and last passed, how long it took,
 * the dump's size and its verdict. One file serves every database: writing one database's series keeps the
 * others' (read, merge, write to a temporary file, rename, under a lock file).
 */
import type { Report } from '../report/model.js';
import { readIfExists, withFileLock, writeFileAtomic } from './atomic-file.js';

/** The metric families pgdrill writes, with their help text. All gauges, one series per `database` label. */
export const METRIC_FAMILIES = {
  pgdrill_last_run_timestamp_seconds: 'Unix time at which the last drill of the database finished.',
  pgdrill_last_success_timestamp_seconds: 'Unix time at which the last drill of the database that PASSed finished.',
  pgdrill_last_run_success: 'Verdict of the last drill of the database: 1 PASS, 0 FAIL.',
  pgdrill_last_run_duration_seconds: 'Duration of the last drill of the database, in seconds.',
  pgdrill_last_run_dump_size_bytes: 'Size of the dump drilled by the last drill of the database, in bytes.',
  pgdrill_last_run_failed_checks: 'Number of checks that failed in the last drill of the database.',
  pgdrill_last_run_source_cpu_seconds: "CPU time the last drill's sessions (pgdrill's and pg_dump's) took on the source's server, in seconds (absent when not measurable).",
  pgdrill_last_run_pg_dump_cpu_seconds: "CPU time pg_dump's copying session alone took on the source's server in the last drill, in seconds.",
  pgdrill_last_run_source_cpu_ratio: "The last drill's source CPU over pg_dump's alone (1.0: the drill cost production no more than its pg_dump).",
} as const;
export type MetricName = keyof typeof METRIC_FAMILIES;

/** One sample: family, its labels, its value. */
export interface MetricSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Escape a label value: backslash, double quote and newline, as the exposition format requires. */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function parseLabels(text: string): Record<string, string> | null {
  const out: Record<string, string> = {};
  const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)/gy;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) return null;
    out[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    pos = re.lastIndex;
  }
  return out;
}

/** Parse the samples of a text-format file (comments skipped). Lines that are not samples make it return null. */
export function parseMetrics(text: string): MetricSample[] | null {
  const out: MetricSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/.exec(line);
    if (!m) return null;
    const labels = m[2] === undefined ? {} : parseLabels(m[2]);
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    if (!labels || (Number.isNaN(value) && m[3] !== 'NaN')) return null;
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/**
 * Render samples grouped by family, each with HELP and TYPE, families and databases in a stable order. `families`
 * (default: a drill's) names the gauges to write and their help text; samples of other families are left out.
 */
export function renderMetrics(samples: readonly MetricSample[], families: Readonly<Record<string, string>> = METRIC_FAMILIES): string {
  const lines: string[] = [];
  for (const [name, help] of Object.entries(families)) {
    const mine = samples.filter((s) => s.name === name).sort((a, b) => (a.labels.database ?? '').localeCompare(b.labels.database ?? ''));
    if (!mine.length) continue;
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const s of mine) {
      const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
      lines.push(`${name}${labels ? `{${labels}}` : ''} ${Number.isInteger(s.value) ? s.value : s.value.toFixed(3)}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** What one drill contributes: its database's series. */
export interface DrillMetrics {
  readonly database: string;
  readonly report: Report;
  /** When the last PASS of this database finished (ISO), if known from elsewhere (the history). */
  readonly lastSuccessAt?: string | null;
}

/** The samples of one drill. `previousSuccess` (Unix seconds) is kept when this drill failed. */
export function drillSamples(d: DrillMetrics, previousSuccess: number | null): MetricSample[] {
  const r = d.report;
  const labels = { database: d.database };
  const finished = Date.parse(r.run.finished_at) / 1000;
  const fromHistory = d.lastSuccessAt ? Date.parse(d.lastSuccessAt) / 1000 : null;
  const lastSuccess = r.status === 'PASS' ? finished : Math.max(previousSuccess ?? -1, fromHistory ?? -1);
  const s: MetricSample[] = [
    { name: 'pgdrill_last_run_timestamp_seconds', labels, value: finished },
    { name: 'pgdrill_last_run_success', labels, value: r.status === 'PASS' ? 1 : 0 },
    { name: 'pgdrill_last_run_duration_seconds', labels, value: r.run.duration_ms / 1000 },
    { name: 'pgdrill_last_run_failed_checks', labels, value: r.checks.filter((c) => c.status === 'fail').length },
  ];
  if (lastSuccess >= 0) s.push({ name: 'pgdrill_last_success_timestamp_seconds', labels, value: lastSuccess });
  if (r.backup.size_bytes !== null) s.push({ name: 'pgdrill_last_run_dump_size_bytes', labels, value: r.backup.size_bytes });
  return [...s, ...footprintSamples(r, labels)];
}

/** The production footprint's CPU figures (src/source/footprint.ts), those that were measured. */
function footprintSamples(r: Report, labels: Readonly<Record<string, string>>): MetricSample[] {
  const cpu = r.production.footprint?.cpu;
  const figures: [string, number | null | undefined][] = [
    ['pgdrill_last_run_source_cpu_seconds', cpu?.drill_ms === null || cpu?.drill_ms === undefined ? null : cpu.drill_ms / 1000],
    ['pgdrill_last_run_pg_dump_cpu_seconds', cpu?.pg_dump_ms ? cpu.pg_dump_ms / 1000 : null],
    ['pgdrill_last_run_source_cpu_ratio', cpu?.ratio_to_pg_dump],
  ];
  return figures.flatMap(([name, value]) => (value === null || value === undefined ? [] : [{ name, labels, value }]));
}

/** What `writeMetrics` did. */
export interface MetricsWriteResult {
  readonly path: string;
  /** Series of other databases kept from the existing file. */
  readonly kept: number;
  /** The existing file could not be parsed and was replaced (its content is lost). */
  readonly replacedUnparseable: boolean;
}

/**
 * Write (or update) a textfile-collector file with one drill's series, keeping every other database's series of
 * pgdrill's families. Atomic (tmp + rename) and serialised by `<path>.lock`.
 */
export async function writeMetrics(path: string, d: DrillMetrics): Promise<MetricsWriteResult> {
  return withFileLock(path, async () => {
    const existingText = await readIfExists(path);
    const existing = existingText === null ? [] : parseMetrics(existingText);
    const ours = new Set(Object.keys(METRIC_FAMILIES));
    const others = (existing ?? []).filter((s) => ours.has(s.name) && s.labels.database !== undefined && s.labels.database !== d.database);
    const prev = (existing ?? []).find((s) => s.name === 'pgdrill_last_success_timestamp_seconds' && s.labels.database === d.database)?.value ?? null;
    await writeFileAtomic(path, renderMetrics([...others, ...drillSamples(d, prev)]));
    return { path, kept: others.length, replacedUnparseable: existingText !== null && existing === null };
  });
}
