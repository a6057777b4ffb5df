import type { DumpInventory } from '../inventory/types.js';

/** Something in a plain dump that psql or the server would execute and pg_dump never writes. */
export interface ScanFinding {
  /** 'meta-command': a psql backslash command other than pg_dump's own; 'copy-program': COPY … PROGRAM;
   * 'server-file': COPY … TO/FROM a server file, lo_import/lo_export, pg_read_file & co.; 'alter-system': ALTER SYSTEM;
   * 'untrusted-function': CREATE FUNCTION/PROCEDURE in LANGUAGE c/internal or an untrusted PL (plpython3u, plperlu, …)
   * outside an extension; 'other': anything else refused. */
  readonly kind: 'meta-command' | 'copy-program' | 'server-file' | 'alter-system' | 'untrusted-function' | 'other';
  /** 1-based line number in the dump text. */
  readonly line: number;
  /** What was found, shortened to at most 200 characters. */
  readonly text: string;
}

/** A COPY … FROM stdin block and what it held. */
export interface CopyBlock {
  /** Target as written after COPY, e.g. `public.actor`. */
  readonly table: string;
  /** Data rows seen (lines before the terminating `\.`). */
  readonly rows: number;
  /** False when the dump ended inside the block (truncated). */
  readonly terminated: boolean;
  /** 1-based line of the COPY statement. */
  readonly line: number;
  /** The column list as the COPY statement names it (dump's column order, as written, without parentheses), or null when it names none. */
  readonly columns?: string | null;
  /** Order-independent hash of the data lines' bytes (src/scan/copy-hash.ts); its row count equals `rows`. */
  readonly hash?: string;
  /**
   * The whole block's bytes `[start, end)` in the (uncompressed) dump — its COPY line through the `\.` line and
   * its newline — when the COPY statement is a line of its own at the top level (pg_dump's form) and the block is
   * terminated; absent otherwise. A replay can hold such a block back (foreign-table data: load-dump.ts).
   */
  readonly span?: { readonly start: number; readonly end: number };
}

/** What one pass over a plain SQL dump found. */
export interface PlainScanResult {
  readonly inventory: DumpInventory;
  readonly copyBlocks: readonly CopyBlock[];
  /** Trailer state: a complete pg_dump plain dump has the `-- PostgreSQL database dump complete` comment, and on
   * 15.14+/16.10+/17.6+ `\restrict KEY` at the top and `\unrestrict KEY` (same key) at the end. */
  readonly trailer: {
    readonly complete: boolean;
    readonly restrictKey: string | null;
    readonly unrestrictKey: string | null;
    /** Where the dump header says which pg_dump/server wrote it: `-- Dumped from database version 15.18 ...` */
    readonly dumpedFrom: string | null;
    readonly dumpedBy: string | null;
  };
  readonly findings: readonly ScanFinding[];
  /** Findings beyond the first 1000, counted but not listed (a hostile dump can hold millions). */
  readonly findingsOmitted?: number;
  readonly lines: number;
  readonly bytes: number;
  /**
   * pg_dump's own `BEGIN;` / `COMMIT;` lines around large-object data (a `Type: BLOBS` entry), each a whole
   * top-level line: a restore in one transaction (`psql --single-transaction`) drops their text, or pg_dump's COMMIT
   * would end it early (src/restore/transaction-lines.ts). In the order of the dump.
   */
  readonly pgDumpTransactionLines: readonly PgDumpTransactionLine[];
  /** The materialized views' REFRESH lines after the dump's first foreign table (MatviewRefreshLine), in order. Absent: none. */
  readonly matviewRefreshes?: readonly MatviewRefreshLine[];
}

/**
 * pg_dump's `REFRESH MATERIALIZED VIEW schema.name;` line of a `MATERIALIZED VIEW DATA` entry, once the dump has
 * declared a foreign table: a refresh the restore may hold back and run itself (src/restore/deferred-refresh.ts).
 * `[start, end)`: the line's bytes in the (uncompressed) dump, without its newline.
 */
export interface MatviewRefreshLine {
  readonly line: number;
  readonly start: number;
  readonly end: number;
  /** The statement as written (pg_dump's form: a whole line, the name schema-qualified and quoted where needed). */
  readonly statement: string;
}

/** One of pg_dump's own BEGIN;/COMMIT; lines: its number and its text's bytes in the (uncompressed) dump, `[start, end)` without the newline. */
export interface PgDumpTransactionLine {
  readonly line: number;
  readonly start: number;
  readonly end: number;
}

/** What a scan accepts beyond pg_dump's own output. Default: nothing. */
export interface PlainScanOptions {
  /** Hash every COPY block's data lines (`CopyBlock.hash`, src/scan/copy-hash.ts). Default true; off only to measure its cost. */
  readonly hashCopyData?: boolean;
  /** COPY bytes hashed on the scanner's thread before a worker thread takes over. Default 8 MiB (for tests and benchmarks). */
  readonly hashOffThreadAfter?: number;
  readonly allow?: {
    /** psql backslash commands (name with or without the backslash, e.g. `set`) accepted anywhere, as long as their
     * arguments hold no backslash or backquote. Default: none; `\restrict`, `\unrestrict` and `\connect` as pg_dump
     * writes them are always accepted. */
    readonly metaCommands?: readonly string[];
    /** Functions (bare or schema-qualified name, unquoted) allowed to be LANGUAGE c/internal or an untrusted PL. Default: none. */
    readonly functions?: readonly string[];
  };
}
