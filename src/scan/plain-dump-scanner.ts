/**
 * One streaming pass over a plain SQL dump (pg_dump -Fp, or pg_restore -f - output): inventory, COPY blocks and
 * row counts, trailer, and content that psql or the server would execute although pg_dump never writes it.
 *
 * Memory stays bounded whatever the input: SQL text is lexed as it arrives (only the current token, at most
 * 4096 tokens of the current statement and the first 8 KiB of the current line are kept) and COPY data is
 * counted on the raw bytes without decoding.
 *
 * The verdict on hostile content holds for the way pgdrill replays a dump: `psql -X -v ON_ERROR_STOP=1`. Without
 * ON_ERROR_STOP a COPY that fails (say, its table is missing) makes psql read the block's data lines as SQL and
 * backslash commands, and this scanner, like psql with ON_ERROR_STOP, treats them as data.
 */
import { createReadStream } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { GrantEntry, InventoryEntry } from '../inventory/types.js';
import { CopyDataCounter } from './copy-data.js';
import { CopyLineHasher } from './copy-hash.js';
import { OffThreadCopyHasher } from './copy-hash-worker.js';
import { displayName, dumpEncoding, UTF8, type DumpEncoding, type DumpTextDecoder } from './dump-encoding.js';
import { parseHeaderLine } from './dump-headers.js';
import type { FindingKind } from './hostile-patterns.js';
import { classifyMetaCommand } from './meta-command-policy.js';
import { PsqlLexer, type LexerSink, type LiteralMode, type StdStrings, type TokenKind } from './psql-lexer.js';
import { StatementAnalyzer } from './statement-analyzer.js';
import type { CopyBlock, MatviewRefreshLine, PgDumpTransactionLine, PlainScanOptions, PlainScanResult, ScanFinding } from './types.js';

export type { PlainScanOptions } from './types.js';

/** Findings kept in the result; a hostile dump can hold millions, and the first ones are enough to refuse it. */
const MAX_FINDINGS = 1000;
/** The start of the current line kept for finding texts. */
const MAX_LINE_HEAD = 8192;
/** pg_dump's refresh of one materialized view (fmtQualifiedId: lower-case names bare, any other quoted). */
const PG_DUMP_REFRESH = /^REFRESH MATERIALIZED VIEW (?:[a-z_][a-z0-9_$]*|"(?:[^"]|"")+")\.(?:[a-z_][a-z0-9_$]*|"(?:[^"]|"")+");$/;
/** The start of a comment line kept: pg_dump's `-- Name:` header of a function with 100 arguments of long
 * schema-qualified type names runs past 13,000 characters. */
const MAX_COMMENT_LINE = 65536;
/**
 * COPY bytes hashed on the scanner's own thread before a worker takes over (copy-hash-worker.ts): a small dump
 * (and every unit test) starts no thread; a large one pays the thread's start once.
 */
const OFF_THREAD_AFTER = 8 * 1024 * 1024;
/** Finding texts are cut to this length (ScanFinding.text). */
const MAX_FINDING_TEXT = 200;

interface OpenCopy {
  readonly table: string;
  readonly line: number;
  readonly columns: string | null;
  /** Byte where the block's COPY line starts, when that line is the COPY statement alone (CopyBlock.span). */
  readonly start: number | null;
  readonly counter: CopyDataCounter;
  readonly hasher: CopyLineHasher | null;
  /** Where copyBlocks will hold it (the off-thread hasher's block number). */
  readonly index: number;
  /** Hashed on the worker thread from some point on (its hash is filled in by `finish`). */
  offThread: boolean;
}

interface QueuedCopy {
  readonly table: string;
  readonly line: number;
  readonly columns: string | null;
  /** Set at the end of the COPY's line when that line is the statement alone, as pg_dump writes it. */
  start: number | null;
}

/** A push parser for plain dumps: `push()` chunks cut anywhere, then `finish()` once. */
export class PlainDumpScanner {
  private readonly lexer: PsqlLexer;
  private readonly analyzer: StatementAnalyzer;
  /** The dump's text encoding: UTF8 until a `SET client_encoding` says otherwise (from the line after it on). */
  private encoding: DumpEncoding = UTF8;
  private decoder: DumpTextDecoder = UTF8.decoder();
  private nextEncoding: string | null = null;
  private readonly allowedMeta: ReadonlySet<string>;
  private readonly hashCopyData: boolean;
  private readonly offThreadAfter: number;
  /** COPY bytes hashed on this thread so far; past `offThreadAfter` the worker takes over. */
  private copyBytesHashed = 0;
  private offThread: OffThreadCopyHasher | null = null;

  private bytes = 0;
  private newlines = 0;
  private lastByte = -1;
  private lineHead = '';
  private lineHasText = false;

  private copy: OpenCopy | null = null;
  private readonly queuedCopies: QueuedCopy[] = [];
  private copyNulReported = false;

  private readonly entries: InventoryEntry[] = [];
  private readonly grants: GrantEntry[] = [];
  private readonly roles = new Map<string, { owner: number; grant: number; other: number }>();
  private readonly tablespaces = new Set<string>();
  private readonly copyBlocks: CopyBlock[] = [];
  private readonly findings: ScanFinding[] = [];
  private findingsOmitted = 0;
  /** Findings of the current line whose text is the line itself, filled in when the line ends. */
  private readonly lineFindings: { kind: FindingKind; reason: string; index: number }[] = [];

  /** Inside a `Type: BLOBS` entry (large-object data), where pg_dump writes its own BEGIN/COMMIT lines. */
  private inLargeObjects = false;
  /** No statement text pending and the lexer at the top level when the current line began. */
  private idleAtLineStart = true;
  /** Where the current line's first byte is in the input. */
  private lineStartByte = 0;
  private readonly transactionLines: PgDumpTransactionLine[] = [];
  /** Inside a `Type: MATERIALIZED VIEW DATA` entry (pg_dump's REFRESH of one materialized view). */
  private inMatviewData = false;
  /** A `Type: FOREIGN TABLE` entry was seen: from then on the REFRESH lines are listed. */
  private foreignTableSeen = false;
  /** Where the current line's newline is in the input (its end). */
  private lineEndByte = 0;
  private readonly refreshLines: MatviewRefreshLine[] = [];

  private trailerSeen = false;
  private restrictKey: string | null = null;
  private unrestrictKey: string | null = null;
  private dumpedFrom: string | null = null;
  private dumpedBy: string | null = null;
  private result: PlainScanResult | null = null;

  /** @param opts what to accept beyond pg_dump's own output (default: nothing). */
  constructor(opts: PlainScanOptions = {}) {
    this.hashCopyData = opts.hashCopyData ?? true;
    this.offThreadAfter = opts.hashOffThreadAfter ?? OFF_THREAD_AFTER;
    this.allowedMeta = new Set((opts.allow?.metaCommands ?? []).map((m) => m.replace(/^\\/, '')));
    this.analyzer = new StatementAnalyzer({
      finding: (kind, reason, line) => this.finding(kind, reason, line),
      grant: (g) => this.grants.push(this.encoding.decoded ? g : { ...g, role: this.shown(g.role), object: this.shown(g.object) }),
      role: (ref) => this.countRole(ref.role, ref.as),
      tablespace: (name) => this.tablespaces.add(name),
      copyIn: (table, line, columns) => this.queuedCopies.push({ table, line, columns, start: null }),
      stdStrings: (v: StdStrings) => this.lexer.setStdStringsFromNextLine(v),
      clientEncoding: (name: string) => (this.nextEncoding = name),
    }, { allowedFunctions: new Set(opts.allow?.functions ?? []) });
    const sink: LexerSink = {
      token: (kind: TokenKind, value: string, line: number) => {
        this.trailerSeen = false;
        this.analyzer.token(kind, value, line);
      },
      statementEnd: (line: number) => this.analyzer.statementEnd(line),
      metaCommand: (text: string, line: number, wholeLine: boolean) => this.metaCommand(text, line, wholeLine),
      literalText: (text: string, mode: LiteralMode, line: number) => this.analyzer.literal(text, mode, line),
      anomaly: (reason: string, line: number) => this.finding('other', reason, line),
    };
    this.lexer = new PsqlLexer(sink);
    this.lexer.beginLine(1);
  }

  /** Feeds the next chunk of the dump. Chunks may split lines, quotes, multibyte characters or `\.` anywhere. */
  push(chunk: Buffer): void {
    if (this.result) throw new Error('PlainDumpScanner.push() after finish()');
    const n = chunk.length;
    if (n === 0) return;
    this.bytes += n;
    this.lastByte = chunk[n - 1]!; // n > 0
    let pos = 0;
    while (pos < n) {
      if (this.copy) {
        pos = this.copyData(chunk, pos);
        continue;
      }
      const nl = chunk.indexOf(0x0a, pos);
      const end = nl === -1 ? n : nl;
      if (end > pos) this.sqlText(this.decoder.write(chunk.subarray(pos, end)));
      if (nl === -1) break;
      this.sqlText(this.decoder.end()); // an incomplete character before a newline is invalid: U+FFFD
      this.lineEndByte = this.bytes - n + nl;
      this.endSqlLine();
      pos = nl + 1;
      this.lineStartByte = this.bytes - n + pos;
    }
  }

  /**
   * Findings so far (listed and omitted), updated synchronously by `push()`: every finding on a line is counted
   * by the time `push()` returns with that line's newline consumed. The overlapped restore
   * (src/restore/stream-restore.ts) forwards a line to psql only while this is 0.
   */
  get findingCount(): number {
    return this.findings.length + this.findingsOmitted;
  }

  /**
   * pg_dump's own `BEGIN;`/`COMMIT;` lines around large-object data so far, in order; each is listed by the time
   * `push()` has consumed its newline (the overlapped restore drops their text from psql's input).
   */
  get pgDumpTransactions(): readonly PgDumpTransactionLine[] {
    return this.transactionLines;
  }

  /**
   * pg_dump's REFRESH lines of materialized views after the dump's first foreign table so far, in order; each is
   * listed by the time `push()` has consumed its newline (the overlapped restore holds them back from psql).
   */
  get matviewRefreshes(): readonly MatviewRefreshLine[] {
    return this.refreshLines;
  }

  /** Ends the input and returns what the pass found. Further calls return the same result. */
  finish(): PlainScanResult {
    if (this.result) return this.result;
    if (this.copy) {
      this.copy.counter.finishAtEndOfInput();
      this.closeCopy();
    } else {
      this.sqlText(this.decoder.end());
      if (this.lineHasText) this.endSqlLine(false); // psql processes a last line without newline
    }
    this.lexer.endInput();
    const idle = this.lexer.idle && !this.analyzer.pending;
    if (this.analyzer.pending) this.analyzer.statementEnd(this.lexer.currentLine); // psql sends it at end of input
    for (const q of this.queuedCopies.splice(0)) this.copyBlocks.push({ table: q.table, rows: 0, terminated: false, line: q.line, columns: q.columns, ...(this.hashCopyData ? { hash: new CopyLineHasher().finish().hash } : {}) });
    this.flushLineFindings();
    this.collectOffThread();
    const keysMatch = this.restrictKey === null || this.restrictKey === this.unrestrictKey;
    const ended = this.copyBlocks.every((b) => b.terminated);
    this.result = {
      inventory: {
        entries: this.entries, grants: this.grants, roles: Object.fromEntries(this.roles), tablespaces: [...this.tablespaces].sort(),
        encoding: this.encoding.name,
      },
      copyBlocks: this.copyBlocks,
      trailer: {
        complete: this.trailerSeen && idle && ended && keysMatch,
        restrictKey: this.restrictKey,
        unrestrictKey: this.unrestrictKey,
        dumpedFrom: this.dumpedFrom,
        dumpedBy: this.dumpedBy,
      },
      findings: this.findings,
      ...(this.findingsOmitted ? { findingsOmitted: this.findingsOmitted } : {}),
      lines: this.newlines + (this.bytes > 0 && this.lastByte !== 0x0a ? 1 : 0),
      bytes: this.bytes,
      pgDumpTransactionLines: this.transactionLines,
      ...(this.refreshLines.length ? { matviewRefreshes: this.refreshLines } : {}),
    };
    return this.result;
  }

  // ---------------------------------------------------------------------------------------------------------

  private sqlText(text: string): void {
    if (text.length === 0) return;
    this.lineHasText = true;
    const limit = (this.lineHead || text).startsWith('-') ? MAX_COMMENT_LINE : MAX_LINE_HEAD;
    if (this.lineHead.length < limit) this.lineHead += text.length > limit ? text.slice(0, limit) : text;
    this.lexer.feed(text);
  }

  private endSqlLine(newline = true): void {
    const topLevel = this.lexer.lineStartedAtTop;
    this.lexer.endLine();
    const idle = this.lexer.idle && !this.analyzer.pending;
    if (topLevel && this.lineHead.startsWith('--')) this.headerLine(this.lineHead);
    // pg_dump's own transaction around large-object data: a whole line, alone at the top level (nothing pending
    // before it, nothing after it), in a BLOBS entry — never text inside a literal, a comment or COPY data.
    else if (this.inLargeObjects && topLevel && this.idleAtLineStart && idle && (this.lineHead === 'BEGIN;' || this.lineHead === 'COMMIT;')) {
      // The whole line is one of two ASCII texts: its bytes are its characters.
      this.transactionLines.push({ line: this.newlines + 1, start: this.lineStartByte, end: this.lineStartByte + this.lineHead.length });
    }
    // pg_dump's REFRESH of a materialized view, a whole line of its own entry, once a foreign table was declared:
    // the restore may hold it back (src/restore/deferred-refresh.ts). Its bytes end at the newline.
    else if (this.inMatviewData && this.foreignTableSeen && newline && this.encoding.decoded && topLevel && this.idleAtLineStart && idle && PG_DUMP_REFRESH.test(this.lineHead)) {
      this.refreshLines.push({ line: this.newlines + 1, start: this.lineStartByte, end: this.lineEndByte, statement: this.lineHead });
    }
    // A COPY statement alone on its line, at the top level (pg_dump's `COPY t (cols) FROM stdin;`): its block can be
    // held back from a replay as a whole (CopyBlock.span). The line's text is whole (not cut at MAX_LINE_HEAD).
    const q = this.queuedCopies.length === 1 ? this.queuedCopies[0]! : null;
    if (q && q.line === this.newlines + 1 && topLevel && this.idleAtLineStart && idle && /^COPY [^;]* FROM stdin;$/.test(this.lineHead)) q.start = this.lineStartByte;
    this.idleAtLineStart = idle;
    this.flushLineFindings();
    this.lineHead = '';
    this.lineHasText = false;
    if (this.nextEncoding !== null) {
      // psql switches when the server acknowledges the SET: the following lines are in the new encoding.
      this.encoding = dumpEncoding(this.nextEncoding);
      this.decoder = this.encoding.decoder();
      this.nextEncoding = null;
    }
    if (!newline) return;
    this.newlines++;
    this.lexer.beginLine(this.newlines + 1);
    if (this.queuedCopies.length) this.openCopy();
  }

  private headerLine(text: string): void {
    const h = parseHeaderLine(text);
    if (!h) return;
    const line = this.newlines + 1;
    switch (h.kind) {
      case 'entry': {
        this.inLargeObjects = h.type === 'BLOBS';
        this.inMatviewData = h.type === 'MATERIALIZED VIEW DATA';
        if (h.type === 'FOREIGN TABLE' || h.alternatives?.some((a) => a.type === 'FOREIGN TABLE')) this.foreignTableSeen = true;
        const show = (n: string | null) => (n === null ? null : this.shown(n));
        const alternatives = h.alternatives?.map((a) => ({ type: a.type, schema: show(a.schema), name: this.shown(a.name) }));
        this.entries.push({ type: h.type, schema: show(h.schema), name: this.shown(h.name), owner: show(h.owner), line, ...(alternatives ? { alternatives } : {}) });
        if (h.owner) this.countRole(h.owner, 'owner');
        break;
      }
      case 'complete':
        this.trailerSeen = true;
        break;
      case 'dumped-from':
        this.dumpedFrom ??= h.version;
        break;
      case 'dumped-by':
        this.dumpedBy ??= h.version;
        break;
    }
  }

  private metaCommand(text: string, line: number, wholeLine: boolean): void {
    const v = classifyMetaCommand(text, wholeLine, this.allowedMeta);
    switch (v.kind) {
      case 'restrict':
        this.restrictKey ??= v.key;
        this.trailerSeen = false;
        return;
      case 'unrestrict':
        this.unrestrictKey = v.key; // may follow the trailer
        return;
      case 'connect':
        this.trailerSeen = false;
        this.analyzer.newSession();
        return;
      case 'allowed':
        this.trailerSeen = false;
        return;
      case 'refused':
        this.trailerSeen = false;
        this.addFinding({ kind: 'meta-command', line, text: shorten(text.replace(/\r$/, '')) });
    }
  }

  private finding(kind: FindingKind, reason: string, line: number): void {
    if (line === this.newlines + 1 && !this.copy) {
      // Text comes from the whole line, known when it ends.
      const index = this.addFinding({ kind, line, text: reason });
      if (index >= 0) this.lineFindings.push({ kind, reason, index });
      return;
    }
    this.addFinding({ kind, line, text: shorten(reason) });
  }

  private addFinding(f: ScanFinding): number {
    if (this.findings.length >= MAX_FINDINGS) {
      this.findingsOmitted++;
      return -1;
    }
    this.findings.push(f);
    return this.findings.length - 1;
  }

  private flushLineFindings(): void {
    if (this.lineFindings.length === 0) return;
    const snippet = this.lineHead.trim();
    for (const f of this.lineFindings) {
      const old = this.findings[f.index]!; // an index addFinding returned
      this.findings[f.index] = { ...old, text: shorten(snippet ? `${f.reason}: ${snippet}` : f.reason) };
    }
    this.lineFindings.length = 0;
  }

  /** A name as the inventory keeps it: decoded, or with `\xNN` escapes (SQL_ASCII, an encoding read byte for byte). */
  private shown(name: string): string {
    return displayName(this.encoding, name);
  }

  private countRole(name: string, as: 'owner' | 'grant' | 'other'): void {
    const role = this.shown(name);
    let r = this.roles.get(role);
    if (!r) {
      r = { owner: 0, grant: 0, other: 0 };
      this.roles.set(role, r);
    }
    r[as]++;
  }

  // ---------------------------------------------------------------------------------------------------------
  // COPY data

  private openCopy(): void {
    const q = this.queuedCopies.shift()!;
    const hasher = this.hashCopyData ? new CopyLineHasher() : null;
    this.copy = { table: q.table, line: q.line, columns: q.columns, start: q.start, counter: new CopyDataCounter(), hasher, index: this.copyBlocks.length, offThread: false };
    if (hasher && this.offThread) this.toWorker(this.copy);
    this.trailerSeen = false;
  }

  /** Consumes COPY data from chunk[pos]; returns where SQL resumes (or the chunk's length). */
  private copyData(chunk: Buffer, pos: number): number {
    const c = this.copy!;
    const before = c.counter.newlines;
    const stop = c.counter.scan(chunk, pos);
    const end = stop === -1 ? chunk.length : stop;
    if (c.hasher) this.hashCopy(c, chunk, pos, end);
    if (!this.copyNulReported) {
      const z = chunk.indexOf(0, pos);
      if (z !== -1 && z < end) {
        // psql's fgets()/strlen() drops what follows a NUL and stops recognising `\.` on the next line.
        this.copyNulReported = true;
        const line = this.newlines + 1 + countNewlines(chunk, pos, z);
        this.addFinding({ kind: 'other', line, text: 'NUL byte in COPY data: psql would misplace the end of the block' });
      }
    }
    this.newlines += c.counter.newlines - before;
    if (stop === -1) return chunk.length;
    this.closeCopy(this.bytes - chunk.length + stop);
    this.idleAtLineStart = true;
    this.lineStartByte = this.bytes - chunk.length + stop;
    this.lexer.beginLine(this.newlines + 1);
    if (this.queuedCopies.length) this.openCopy();
    return stop;
  }

  /** Hash a run of the block's bytes: here for the first OFF_THREAD_AFTER bytes of the dump's COPY data, then on the worker. */
  private hashCopy(c: OpenCopy, chunk: Buffer, pos: number, end: number): void {
    if (!c.offThread && (this.copyBytesHashed += end - pos) > this.offThreadAfter) {
      this.offThread ??= new OffThreadCopyHasher();
      this.toWorker(c);
    }
    if (c.offThread) this.offThread!.update(chunk, pos, end);
    else c.hasher!.update(chunk, pos, end);
  }

  /** The open block goes on on the worker from where this thread's hasher stands. */
  private toWorker(c: OpenCopy): void {
    this.offThread!.start(c.index, c.hasher!.state());
    c.offThread = true;
  }

  /** The hashes the worker computed, into their blocks. */
  private collectOffThread(): void {
    if (!this.offThread) return;
    const results = this.offThread.results();
    this.offThread = null;
    for (const [i, r] of results) this.copyBlocks[i] = { ...this.copyBlocks[i]!, hash: r.hash };
  }

  /** `end`: the byte after the block's `\.` line (its newline included), when it ended there. */
  private closeCopy(end?: number): void {
    const c = this.copy!;
    if (c.offThread) this.offThread!.end(c.index);
    const hash = c.hasher && !c.offThread ? { hash: c.hasher.finish().hash } : {};
    const span = c.start !== null && end !== undefined && c.counter.terminated ? { span: { start: c.start, end } } : {};
    this.copyBlocks.push({ table: c.table, rows: c.counter.rows, terminated: c.counter.terminated, line: c.line, columns: c.columns, ...hash, ...span });
    this.copy = null;
  }
}

function countNewlines(buf: Buffer, from: number, to: number): number {
  let n = 0;
  for (let i = buf.indexOf(0x0a, from); i !== -1 && i < to; i = buf.indexOf(0x0a, i + 1)) n++;
  return n;
}

function shorten(text: string): string {
  return text.length <= MAX_FINDING_TEXT ? text : `${text.slice(0, MAX_FINDING_TEXT - 1)}…`;
}

/** A Writable that feeds every chunk to `scanner` (for `stream.pipeline`); call `scanner.finish()` after it ends. */
export function scannerSink(scanner: PlainDumpScanner): Writable {
  return new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      try {
        scanner.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
  });
}

/** Scans a plain dump file; a path ending in `.gz` is gunzipped on the fly. */
export async function scanPlainDumpFile(path: string, opts?: PlainScanOptions): Promise<PlainScanResult> {
  const scanner = new PlainDumpScanner(opts);
  const input = createReadStream(path, { highWaterMark: 1 << 20 });
  if (path.endsWith('.gz')) await pipeline(input, createGunzip(), scannerSink(scanner));
  else await pipeline(input, scannerSink(scanner));
  return scanner.finish();
}
