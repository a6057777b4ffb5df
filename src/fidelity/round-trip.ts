/**
 * The round trip: a schema-only dump of the restored copy must equal a schema-only dump of the source taken in
 * the same snapshot as the backup — the way PostgreSQL's own test suites prove dump/restore fidelity. It covers
 * everything pg_dump knows how to write (operators, casts, text search, FDWs, publications… that the catalog
 * comparison does not list one by one), but it names a difference only by its line, not by object and attribute.
 *
 * Lines stripped (or masked) before comparing, because they legitimately differ — each documented in
 * ROUND_TRIP_STRIPPED: nothing else is, so any other difference is a finding.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { ToolError } from '../errors.js';
import type { PgBinaries } from '../exec/binaries.js';
import { startProcess } from '../exec/run-process.js';

/** A line pattern that is removed from both dumps before comparing (or, with `replace`, rewritten), and why. */
export interface StrippedLine {
  readonly pattern: RegExp;
  readonly why: string;
  /** Rewrite the matching line with this replacement (String.replace) instead of removing it. */
  readonly replace?: string;
}

/** What is stripped. Keep this list short: every entry is something the round trip cannot see. */
export const ROUND_TRIP_STRIPPED: readonly StrippedLine[] = [
  {
    pattern: /^\\(un)?restrict [0-9A-Za-z]+$/,
    why: 'pg_dump (since 17.6/16.10/15.14/14.19/13.22) brackets every plain dump with \\restrict/\\unrestrict and a random key, different in every dump',
  },
  {
    pattern: /^-- Dumped from database version /,
    why: "names the server's version: the sandbox's server need not be the source's (both dumps are written by the same pg_dump, so 'Dumped by' is kept)",
  },
  {
    pattern: /^(-- Name: .*; Schema: pg_catalog; Owner: )\S+$/,
    replace: '$1(bootstrap superuser)',
    why: "the owner in the header of a built-in object's entry (e.g. the ACL of a pg_catalog function) is the cluster's bootstrap superuser (initdb -U), whose name differs between the source's cluster and the sandbox; the line is kept with the owner masked",
  },
];

/** How `dumpSchema` runs pg_dump. */
export interface SchemaDumpOptions {
  readonly bins: PgBinaries;
  /** Connection environment (PG*), e.g. the source's tool environment or `sandbox.env(db)`. */
  readonly env: Readonly<Record<string, string>>;
  /** Where the dump goes. */
  readonly path: string;
  /** Exported snapshot to dump in (the source side). */
  readonly snapshot?: string;
  /** `--lock-wait-timeout` in ms. Default 30 s. */
  readonly lockWaitTimeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** pg_dump's arguments for a schema-only dump. */
export function schemaDumpArgs(o: Pick<SchemaDumpOptions, 'snapshot' | 'lockWaitTimeoutMs'>): string[] {
  return [
    '--no-password', '--schema-only', '--format=plain',
    `--lock-wait-timeout=${Math.max(1, Math.round(o.lockWaitTimeoutMs ?? 30_000))}ms`,
    ...(o.snapshot ? [`--snapshot=${o.snapshot}`] : []),
  ];
}

/** Write a schema-only plain dump to `path` (streamed). @throws ToolError (the partial file is removed). */
export async function dumpSchema(o: SchemaDumpOptions): Promise<{ path: string; ms: number; args: string[] }> {
  const t0 = performance.now();
  const args = schemaDumpArgs(o);
  try {
    // pg_dump fixes DateStyle, IntervalStyle, extra_float_digits and search_path itself, but not TimeZone, which
    // deparsed timestamptz constants (a column DEFAULT '2020-01-01 00:00+00') follow: a database-level TimeZone on
    // the source (which a dump without --create does not carry) would make equal defaults print differently.
    const proc = startProcess({ bin: o.bins.path('pg_dump'), args, env: { ...o.env, PGTZ: 'UTC' }, stdout: 'pipe', signal: o.signal });
    await Promise.all([pipeline(proc.stdout!, createWriteStream(o.path, { mode: 0o600 })), proc.done]);
  } catch (err) {
    await rm(o.path, { force: true });
    throw err instanceof ToolError ? err : new ToolError('pg_dump', args, null, null, String((err as Error).message), { cause: err });
  }
  return { path: o.path, ms: Math.round(performance.now() - t0), args };
}

/** The first lines where the dumps part ways. */
export interface RoundTripDifference {
  /** 1-based line numbers in each file (null past its end). */
  readonly source_line: number | null;
  readonly restored_line: number | null;
  readonly source: string | null;
  readonly restored: string | null;
}

/** Outcome of the comparison. */
export interface RoundTripComparison {
  readonly equal: boolean;
  /** Lines compared (after stripping), up to the first difference. */
  readonly lines_compared: number;
  /** Lines stripped (or masked) per rule, on each side. */
  readonly stripped: { why: string; source: number; restored: number }[];
  /** The first differing pair of lines, then up to 5 more differing pairs from the 200 that follow (empty when equal). */
  readonly differences: RoundTripDifference[];
  /** The last `-- Name: …; Type: …` header before the first difference, in the source dump: the object it is in. */
  readonly section: string | null;
}

/** How many differing line pairs to keep after the first, and how far to look for them. */
const CONTEXT = 5;
const LOOKAHEAD = 200;

/**
 * Compare two schema dumps line by line, streaming both (never the whole files in memory), after stripping
 * ROUND_TRIP_STRIPPED lines.
 */
export async function compareSchemaDumps(sourcePath: string, restoredPath: string, stripped = ROUND_TRIP_STRIPPED): Promise<RoundTripComparison> {
  const counts = stripped.map((s) => ({ why: s.why, source: 0, restored: 0 }));
  const reader = (path: string, side: 'source' | 'restored') => {
    const input = createReadStream(path);
    const it = createInterface({ input, crlfDelay: Infinity })[Symbol.asyncIterator]();
    let n = 0;
    return {
      get line() {
        return n;
      },
      async next(): Promise<string | null> {
        for (;;) {
          const r = await it.next();
          if (r.done) return null;
          n++;
          const i = stripped.findIndex((s) => s.pattern.test(r.value));
          if (i < 0) return r.value;
          counts[i]![side]++;
          const rule = stripped[i]!;
          if (rule.replace !== undefined) return r.value.replace(rule.pattern, rule.replace);
        }
      },
      close: () => {
        void it.return?.();
        input.destroy();
      },
    };
  };
  const a = reader(sourcePath, 'source');
  const b = reader(restoredPath, 'restored');
  let compared = 0;
  let section: string | null = null;
  const differences: RoundTripDifference[] = [];
  try {
    for (;;) {
      const [x, y] = await Promise.all([a.next(), b.next()]);
      if (x === null && y === null) break;
      if (x !== null && y !== null && x === y) {
        compared++;
        if (x.startsWith('-- Name: ')) section = x.slice(3);
        continue;
      }
      differences.push({ source_line: x === null ? null : a.line, restored_line: y === null ? null : b.line, source: x, restored: y });
      // A few more differing pairs from the lines that follow (equal pairs skipped), to show the extent.
      for (let i = 0; i < LOOKAHEAD && differences.length <= CONTEXT; i++) {
        const [x2, y2] = await Promise.all([a.next(), b.next()]);
        if (x2 === null && y2 === null) break;
        if (x2 !== y2) differences.push({ source_line: x2 === null ? null : a.line, restored_line: y2 === null ? null : b.line, source: x2, restored: y2 });
      }
      break;
    }
  } finally {
    a.close();
    b.close();
  }
  return { equal: differences.length === 0, lines_compared: compared, stripped: counts, differences, section: differences.length ? section : null };
}
