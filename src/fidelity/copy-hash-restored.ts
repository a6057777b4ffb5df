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

/** A COPY block to read back: its target and column list exactly as the dump's COPY statement wrote them. */
export interface CopyTarget {
  readonly table: string;
  readonly columns?: string | null;
}

/** One table read back: its rows and hash, or why it could not be read. */
export type RestoredCopyHash = CopyTarget & ({ readonly rows: number; readonly hash: string; readonly ms: number } | { readonly error: string });

const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** The statements that make a session's COPY text pg_dump's; client_encoding last (nothing decoded after it). */
export function dumpSessionStatements(s: DumpSessionSettings, encoding: string): string[] {
  return [
    "SET DateStyle = 'ISO'", "SET IntervalStyle = 'postgres'", 'SET extra_float_digits = 3', 'SET default_transaction_read_only = on',
    ...(s.timeZone ? [`SET TimeZone = ${literal(s.timeZone)}`] : []),
    ...(s.byteaOutput ? [`SET bytea_output = ${literal(s.byteaOutput)}`] : []),
    `SET client_encoding = ${literal(encoding)}`,
  ];
}

/**
 * Quoted identifiers that hold non-ASCII characters, rewritten as `U&"…"` escapes: the statement then is ASCII and
 * means the same in any client_encoding (node-postgres sends it as UTF-8, the server reads it in the dump's).
 */
export function asciiIdentifiers(sql: string): string {
  return sql.replace(/"((?:[^"]|"")*)"/g, (whole, body: string) => {
    if (![...body].some((ch) => ch.codePointAt(0)! > 0x7f)) return whole;
    let out = '';
    for (const ch of body) {
      const cp = ch.codePointAt(0)!;
      if (ch === '\\') out += '\\\\';
      else if (cp < 0x80) out += ch;
      else out += cp <= 0xffff ? `\\${cp.toString(16).padStart(4, '0')}` : `\\+${cp.toString(16).padStart(6, '0')}`;
    }
    return `U&"${out}"`;
  });
}

/** The COPY TO statement that reads a block's table back in the dump's column order. */
export function copyOutSql(t: CopyTarget, encoding: string): string {
  const sql = `COPY ${t.table}${t.columns ? ` (${t.columns})` : ''} TO STDOUT`;
  return /^(UTF8|SQL_ASCII)$/.test(encoding) ? sql : asciiIdentifiers(sql);
}

/** Read back and hash one table on a prepared session. */
async function hashOne(db: DbSession, t: CopyTarget, encoding: string): Promise<RestoredCopyHash> {
  const t0 = performance.now();
  const h = new CopyLineHasher();
  try {
    await db.copyOut(copyOutSql(t, encoding), (chunk) => h.update(chunk));
  } catch (err) {
    return { table: t.table, columns: t.columns ?? null, error: (err as Error).message };
  }
  const r: CopyHash = h.finish();
  return { table: t.table, columns: t.columns ?? null, rows: r.rows, hash: r.hash, ms: Math.round(performance.now() - t0) };
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
  readonly signal?: AbortSignal;
}

/**
 * Hash every target, over `jobs` sessions side by side (each takes the next table from a shared queue). A session
 * whose settings the sandbox refuses (say lc_monetary names a locale it lacks) reads with the sandbox's own.
 * Results in `targets` order.
 */
export async function hashRestoredCopies(targets: readonly CopyTarget[], o: RestoredCopyOptions): Promise<RestoredCopyHash[]> {
  const out: RestoredCopyHash[] = new Array<RestoredCopyHash>(targets.length);
  let next = 0;
  const worker = async () => {
    const db = await o.open();
    try {
      if (o.settings.lcMonetary) await db.query(`SET lc_monetary = ${literal(o.settings.lcMonetary)}`).catch(() => {});
      for (const sql of dumpSessionStatements(o.settings, o.encoding)) await db.query(sql);
      while (next < targets.length) {
        o.signal?.throwIfAborted();
        const i = next++;
        out[i] = await hashOne(db, targets[i]!, o.encoding);
      }
    } finally {
      await db.close();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.jobs ?? 1, targets.length)) }, worker));
  return out;
}
