/**
 * The restored copy's side of the stream hashes: each table the dump carried a COPY block for is read back with
 * `COPY <table as the dump names it> (<its columns, in the dump's order>) TO STDOUT` in a session set up as pg_dump's
 * was — DateStyle ISO, IntervalStyle postgres, extra_float_digits 3, the dump's client_encoding, and the source
 * session's TimeZone, bytea_output and lc_monetary when known — so that the text of equal rows is byte-identical to
 * the dump's lines (docs/fidelity.md), and hashed as it streams by the same order-independent hasher
 * (src/scan/copy-hash.ts). Only the sandbox is read.
 */
import type { DbSession } from '../pg/client.js';
import { CopyLineHasher, type CopyHash } from '../scan/copy-hash.js';
import { readBackIsWhole, readBackStatements, restoredRelations, type CopyTarget, type RestoredRelation } from './copy-read-plan.js';
import { copyOutThroughPsql } from './copy-read-psql.js';

export { asciiIdentifiers, type CopyTarget } from './copy-read-plan.js';

/**
 * Settings of pg_dump's session that change the text of COPY data and that pg_dump does not set itself: they come
 * from the server, the database or the role. Null: not known (a dump pgdrill did not take), the sandbox's default
 * is used.
 */
export interface DumpSessionSettings {
  readonly timeZone: string | null;
  readonly byteaOutput: string | null;
  readonly lcMonetary: string | null;
}

/** None known: verify of a dump pgdrill did not take. */
export const UNKNOWN_DUMP_SESSION: DumpSessionSettings = { timeZone: null, byteaOutput: null, lcMonetary: null };

/** Read them in a session of the same role and database as pg_dump's (the snapshot session, before it sets anything). */
export async function readDumpSessionSettings(db: DbSession): Promise<DumpSessionSettings> {
  const [r] = await db.query<{ tz: string; bytea: string; monetary: string }>(
    "SELECT pg_catalog.current_setting('TimeZone') AS tz, pg_catalog.current_setting('bytea_output') AS bytea, pg_catalog.current_setting('lc_monetary') AS monetary");
  return { timeZone: r?.tz ?? null, byteaOutput: r?.bytea ?? null, lcMonetary: r?.monetary ?? null };
}

/**
 * One target read back: its rows and hash, or why it could not be read. `whole`: the statements read every row of
 * the relation (copy-read-plan.ts `readBackIsWhole`), so `rows` is its exact row count.
 */
export type RestoredCopyHash = CopyTarget & ({ readonly rows: number; readonly hash: string; readonly ms: number; readonly whole: boolean } | { readonly error: string });

const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * The statements that make a session's COPY text pg_dump's; client_encoding last (nothing decoded after it). pg_dump
 * empties search_path, so a `regclass`, `regproc` or `regtype` value prints schema-qualified.
 */
export function dumpSessionStatements(s: DumpSessionSettings, encoding: string): string[] {
  return [
    "SET DateStyle = 'ISO'", "SET IntervalStyle = 'postgres'", 'SET extra_float_digits = 3', 'SET default_transaction_read_only = on',
    "SET search_path = ''",
    ...(s.timeZone ? [`SET TimeZone = ${literal(s.timeZone)}`] : []),
    ...(s.byteaOutput ? [`SET bytea_output = ${literal(s.byteaOutput)}`] : []),
    `SET client_encoding = ${literal(encoding)}`,
  ];
}

/** The COPY TO statement that reads an ordinary table back in the dump's column order. */
export function copyOutSql(t: CopyTarget, encoding: string): string {
  return readBackStatements(t, { relkind: 'r', leaves: [] }, encoding)[0]!;
}

/**
 * Targets of at least this many rows (in the dump) are read through a psql child (copy-read-psql.ts), smaller ones
 * on the session: a child's start and connection cost about as much as reading ~PSQL_ROWS rows on the session.
 */
export const PSQL_ROWS = 20_000;

/** How one worker reads: its session (prepared), and psql's setup when large targets go through psql. */
interface Reader {
  readonly db: DbSession;
  readonly psql: { readonly bin: string; readonly env: Readonly<Record<string, string>>; readonly setup: readonly string[] } | null;
  readonly encoding: string;
  readonly psqlRows: number;
  readonly signal?: AbortSignal;
}

/** Read back and hash one target (all its statements) on a prepared session, or through psql when it is large. */
async function hashOne(r: Reader, t: CopyTarget, rel: RestoredRelation | undefined): Promise<RestoredCopyHash> {
  const t0 = performance.now();
  const h = new CopyLineHasher();
  const update = (chunk: Buffer) => h.update(chunk);
  const base = { table: t.table, columns: t.columns ?? null };
  try {
    for (const sql of readBackStatements(t, rel, r.encoding)) {
      if (r.psql && (t.rows ?? 0) >= r.psqlRows) await copyOutThroughPsql({ ...r.psql, sql, signal: r.signal }, update);
      else await r.db.copyOut(sql, update);
    }
  } catch (err) {
    r.signal?.throwIfAborted();
    return { ...base, error: (err as Error).message };
  }
  const c: CopyHash = h.finish();
  return { ...base, rows: c.rows, hash: c.hash, ms: Math.round(performance.now() - t0), whole: readBackIsWhole(t, rel) };
}

/** What `hashRestoredCopies` needs. */
export interface RestoredCopyOptions {
  /** A fresh session on the restored database (not prepared: pg_dump's settings are applied here). */
  readonly open: () => Promise<DbSession>;
  readonly settings: DumpSessionSettings;
  /** The dump's client_encoding (its `SET client_encoding`). */
  readonly encoding: string;
  /** Sessions side by side. Default 1. */
  readonly jobs?: number;
  /** psql and the restored database's libpq environment: large targets are read through it. Default: none, all on sessions. */
  readonly psql?: { readonly bin: string; readonly env: Readonly<Record<string, string>> } | null;
  /** Targets of at least this many rows in the dump go through psql. Default PSQL_ROWS (0 in tests: every one). */
  readonly psqlRows?: number;
  readonly signal?: AbortSignal;
}

/**
 * Hash every target, over `jobs` sessions side by side (each takes the next table from a shared queue). A session
 * whose settings the sandbox refuses (say lc_monetary names a locale it lacks) reads with the sandbox's own.
 * Results in `targets` order.
 */
export async function hashRestoredCopies(targets: readonly CopyTarget[], o: RestoredCopyOptions): Promise<RestoredCopyHash[]> {
  const out: RestoredCopyHash[] = new Array<RestoredCopyHash>(targets.length);
  let relations: Promise<Map<string, RestoredRelation>> | null = null;
  let next = 0;
  const worker = async () => {
    const db = await o.open();
    try {
      // Looked up once, by the first session, before client_encoding changes (node-postgres sends UTF-8).
      const rels = await (relations ??= restoredRelations(db, targets));
      const monetary = o.settings.lcMonetary ? `SET lc_monetary = ${literal(o.settings.lcMonetary)}` : null;
      const monetaryOk = monetary !== null && await db.query(monetary).then(() => true, () => false);
      const setup = [...(monetaryOk ? [monetary] : []), ...dumpSessionStatements(o.settings, o.encoding)];
      for (const sql of dumpSessionStatements(o.settings, o.encoding)) await db.query(sql);
      const reader: Reader = { db, psql: o.psql ? { ...o.psql, setup } : null, encoding: o.encoding, psqlRows: o.psqlRows ?? PSQL_ROWS, signal: o.signal };
      while (next < targets.length) {
        o.signal?.throwIfAborted();
        const i = next++;
        out[i] = await hashOne(reader, targets[i]!, rels.get(targets[i]!.table));
      }
    } finally {
      await db.close();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.jobs ?? 1, targets.length)) }, worker));
  return out;
}
