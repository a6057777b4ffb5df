/**
 * Structural integrity of the restored copy: `pg_amcheck --heapallindexed` checks every heap table (pages, tuple
 * headers, TOAST) and every B-tree index, and that each heap tuple has its index entry. It runs on the sandbox,
 * never on the source. amcheck can prove the *presence* of corruption, never its absence — rows missing from a
 * heap pass every amcheck function — which is why exact counts, content hashes and the catalog comparison exist.
 */
import { availableExtensions } from './extensions.js';
import type { Toolchain } from '../toolchain/toolchain.js';
import { exactNamePattern } from '../exec/name-args.js';
import { runProcess } from '../exec/run-process.js';
import type { DbSession } from '../pg/client.js';
import { runWithoutEventTriggers } from './own-ddl.js';

/** One relation pg_amcheck checked. */
export interface AmcheckRelation {
  /** `schema.name` (database prefix removed). */
  readonly relation: string;
  /** 'heap table' or 'btree index', as pg_amcheck names it. */
  readonly kind: string;
  readonly status: 'ok' | 'corrupt';
  /** What pg_amcheck reported about it (empty when ok). */
  readonly messages: string[];
}

/** Outcome of a pg_amcheck run. */
export interface AmcheckResult {
  /** 0 clean, 2 corruption found, anything else: pg_amcheck could not check (see `error`). */
  readonly exitCode: number | null;
  readonly relations: AmcheckRelation[];
  /** Set when pg_amcheck itself failed (not a corruption finding). */
  readonly error: string | null;
  readonly ms: number;
  readonly args: string[];
}

/**
 * Parse pg_amcheck's output: `--verbose` lines on stderr (`pg_amcheck: checking heap table "db.s.t"`) say what was
 * checked; findings on stdout start with an unindented header (`btree index "db.s.i":`, `heap table "db.s.t",
 * block 0, offset 1:`) followed by indented lines.
 */
export function parseAmcheckOutput(database: string, stdout: string, stderrLines: readonly string[]): AmcheckRelation[] {
  const strip = (qualified: string) => (qualified.startsWith(`${database}.`) ? qualified.slice(database.length + 1) : qualified);
  const byName = new Map<string, { relation: string; kind: string; messages: string[] }>();
  const get = (kind: string, q: string) => {
    const relation = strip(q);
    const k = `${kind}\u0000${relation}`;
    let r = byName.get(k);
    if (!r) byName.set(k, (r = { relation, kind, messages: [] }));
    return r;
  };
  for (const l of stderrLines) {
    // Names are printed unquoted inside the quotes (a database `o"q` gives `"o"q.public.t"`): up to the last quote.
    const m = /^pg_amcheck: checking (heap table|btree index) "(.*)"\s*$/.exec(l);
    if (m) get(m[1]!, m[2]!);
  }
  let current: { messages: string[] } | null = null;
  let skipping = false;
  for (const l of stdout.split('\n')) {
    const h = /^(heap table|btree index) "(.*)"((?:, (?:block|offset|attribute) [^"]*)?):$/.exec(l);
    if (h) {
      current = get(h[1]!, h[2]!);
      skipping = false;
      if (h[3]!.trim()) current.messages.push(h[3]!.replace(/^,\s*/, '').trim());
      continue;
    }
    if (!current || !l.trim()) continue;
    if (/^query was:/.test(l)) {
      skipping = true;
      continue;
    }
    if (skipping || /^\s*LOCATION:/.test(l)) continue;
    current.messages.push(l.trim());
  }
  return [...byName.values()]
    .map((r) => ({ ...r, status: r.messages.length ? ('corrupt' as const) : ('ok' as const) }))
    .sort((a, b) => (a.relation < b.relation ? -1 : a.relation > b.relation ? 1 : a.kind < b.kind ? -1 : 1));
}

/**
 * Make sure the amcheck extension is installed in the connected database (the restored copy), without firing the
 * copy's event triggers (own-ddl.ts). `created`: this call created it (so it can be dropped again, leaving the copy
 * as the dump made it); `unavailable`: the server has no amcheck to install (postgresql-contrib missing).
 * @throws the CREATE EXTENSION error when amcheck is available but could not be installed.
 */
export async function ensureAmcheck(db: DbSession): Promise<'present' | 'created' | 'unavailable'> {
  const installed = await db.value<string | null>("SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'amcheck'");
  if (installed) return 'present';
  // amcheck's own files only: the whole directory's listing fails on any other extension's unreadable control file.
  if (!(await availableExtensions(db, ['amcheck'])).has('amcheck')) return 'unavailable';
  // Into the first schema of the copy's search_path — which its database may set to one that does not exist
  // (`ALTER DATABASE … SET search_path`, restored from a `pg_dump --create` dump): then pg_catalog.
  await db.query('SET search_path = "$user", public, pg_catalog');
  await runWithoutEventTriggers(db, 'CREATE EXTENSION amcheck');
  return 'created';
}

/**
 * Can the connected database's amcheck check heap tables? `verify_heapam`, which pg_amcheck calls for every heap
 * table, came with amcheck 1.3 (PostgreSQL 14): on 13 (amcheck 1.2) each call fails with "function verify_heapam
 * does not exist" and pg_amcheck exits 2, as if every table were corrupt. Only B-tree checks work there.
 */
export async function amcheckChecksHeaps(db: DbSession): Promise<boolean> {
  const v = await db.value<string | null>("SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'amcheck'");
  const [major, minor] = (v ?? '0.0').split('.').map(Number);
  return major! > 1 || (major === 1 && minor! >= 3);
}

/** Drop the amcheck extension that ensureAmcheck created, again without firing the copy's event triggers. */
export async function dropAmcheck(db: DbSession): Promise<void> {
  await runWithoutEventTriggers(db, 'DROP EXTENSION IF EXISTS amcheck');
}

/** Is pg_amcheck there (it is not among the programs pgdrill requires)? */
export async function hasPgAmcheck(bins: Toolchain): Promise<boolean> {
  return bins.has('pg_amcheck');
}

/**
 * Run `pg_amcheck --verbose` on one database of the sandbox (`jobs` parallel connections, default 1): every heap
 * table's pages and tuples, every B-tree index's structure; with `heapallindexed` also that every heap tuple has
 * its index entry (a second pass over each table per index: at pgbench scale 50 ~3 s instead of ~0.5 s).
 * Never throws for findings.
 */
export async function runAmcheck(o: {
  bins: Toolchain; env: Readonly<Record<string, string>>; database: string; heapallindexed: boolean; jobs?: number; signal?: AbortSignal;
  /** False: B-tree indexes only (`--index=*.*`), for an amcheck without verify_heapam (amcheckChecksHeaps). Default true. */
  heaps?: boolean;
}): Promise<AmcheckResult> {
  const t0 = performance.now();
  const args = [
    '--no-password', ...(o.heapallindexed ? ['--heapallindexed'] : []), '--verbose', `--jobs=${Math.max(1, o.jobs ?? 1)}`, `--database=${exactNamePattern(o.database)}`,
    ...(o.heaps === false ? ['--index=*.*'] : []),
  ];
  const stderr: string[] = [];
  const r = await runProcess({ bin: o.bins.path('pg_amcheck'), args, env: o.env, stdout: 'capture', signal: o.signal, allowFailure: true, onStderrLine: (l) => stderr.push(l) });
  const relations = parseAmcheckOutput(o.database, r.stdout, stderr);
  const failed = r.exitCode !== 0 && r.exitCode !== 2;
  const error = failed ? `pg_amcheck exited with code ${r.exitCode}${r.signal ? ` (${r.signal})` : ''}: ${stderr.filter((l) => !/: checking |: including database|: in database/.test(l)).join(' ').slice(-500) || r.stdout.slice(-500)}` : null;
  return { exitCode: r.exitCode, relations, error, ms: Math.round(performance.now() - t0), args };
}
