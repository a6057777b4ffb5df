/**
 * The source's side of the round trip (and, `--deep`, of the large objects) read from the drill's own dump, not from
 * a second pg_dump on production: it is then by construction in the dump's snapshot, and costs the source nothing.
 *
 * A full plain dump is a schema-only dump with data entries in between: the same header, the same schema entries in
 * the same order, the same trailer (checked on the regression database and the odd-object fixtures,
 * test/fidelity/schema-from-dump.test.ts). What only the full dump holds, and is dropped here, entry by entry:
 * - `-- Data for Name: …` entries (TABLE DATA, BLOBS: COPY blocks and `lo_open`/`lowrite` blocks);
 * - `SEQUENCE SET` (`setval`) and `MATERIALIZED VIEW DATA` (REFRESH) entries, which pg_dump counts as data;
 * - large objects' own entries (`BLOB`: `lo_create`, owner) and their `LARGE OBJECT n` comments, ACLs and labels:
 *   a schema-only dump has no large objects.
 * pg_dump's session-state lines (`SET default_tablespace = …;` …) that end a dropped entry are the next entry's: they
 * are kept, written before the next kept entry (round-trip.ts STATE_LINES; the comparison replays them).
 * The `\restrict` keys differ (random in every dump) and are stripped by the comparison anyway (ROUND_TRIP_STRIPPED).
 * An archive (custom, directory) is read back as text with `pg_restore -L` of every entry but TABLE DATA, and the
 * same filter applies: its text equals `pg_dump --schema-only` of the same snapshot (same major).
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import type { Toolchain } from '../toolchain/toolchain.js';
import { runProcess, startProcess } from '../exec/run-process.js';
import { LargeObjectDumpReader, type LargeObjectHash } from './large-object-hash.js';
import { stateLineKey } from './round-trip.js';

/** A `-- Name: …` header of an entry a schema-only dump does not have. */
const DATA_ENTRY = /^-- Name: (?:LARGE OBJECT \d+; Type: [A-Z ]+|.*; Type: (?:SEQUENCE SET|BLOB|BLOB METADATA|MATERIALIZED VIEW DATA));/;
const COPY_END = Buffer.from('\\.\n');
const NL = 0x0a;

/** What the dump gave. */
export interface DumpSideFidelity {
  /** The schema entries, as a schema-only plain dump (null when not asked for). */
  readonly schemaPath: string | null;
  /** Every large object's sha256 (null when not asked for). */
  readonly largeObjects: LargeObjectHash[] | null;
  /** Why the large objects could not be read from the dump (their check then fails naming it). */
  readonly largeObjectsError: string | null;
}

/** What `DumpSchemaExtractor` writes and reads. */
export interface ExtractorOptions {
  /** Write the schema entries here (mode 0600). Default: nowhere. */
  readonly schemaPath?: string | null;
  /** Hash the large objects' bytes (BLOBS entries). Default false. */
  readonly largeObjects?: boolean;
}

/**
 * A line filter over a plain dump's bytes as they stream (`push`, a ChunkConsumer: synchronous, chunks not kept —
 * the chunk pool reuses them). COPY data is skipped with a native search for its `\.` line, never split into lines:
 * a row that looks like an entry header (`--`, `-- Name: …`) stays data.
 */
export class DumpSchemaExtractor {
  private carry: Buffer | null = null;
  /** Chunks of a line longer than a chunk (a large object's `lowrite`), joined once its end arrives: no quadratic copy. */
  private longLine: Buffer[] = [];
  private heldDash = false;
  private dropping = false;
  private blobs = false;
  private inCopy = false;
  /** In a COPY block, the carried position is not at a line start (no `\.` can start there). */
  private copyMidLine = false;
  private readonly out: WriteStream | null;
  private readonly los: LargeObjectDumpReader | null;
  private pending: Buffer[] = [];
  /** State lines (round-trip.ts STATE_LINES) at the end of the dropped entry being read, so far. */
  private stateRun: Buffer[] = [];
  /** State lines that ended dropped entries, written before the next kept entry's header. */
  private carriedState: Buffer[] = [];

  constructor(private readonly o: ExtractorOptions) {
    this.out = o.schemaPath ? createWriteStream(o.schemaPath, { mode: 0o600 }) : null;
    this.out?.on('error', () => {}); // surfaced by finish()
    this.los = o.largeObjects ? new LargeObjectDumpReader() : null;
  }

  /** Feed the next chunk of the dump. */
  push = (chunk: Buffer): void => {
    if (this.carry && !this.inCopy && chunk.indexOf(NL) < 0) return void this.longLine.push(Buffer.from(chunk));
    const buf = this.carry ? Buffer.concat([this.carry, ...this.longLine, chunk]) : chunk;
    this.carry = null;
    this.longLine = [];
    let pos = 0;
    while (pos < buf.length) {
      if (this.inCopy) {
        pos = this.skipCopy(buf, pos);
        if (pos < 0) break;
        continue;
      }
      const nl = buf.indexOf(NL, pos);
      if (nl < 0) {
        this.carry = Buffer.from(buf.subarray(pos));
        break;
      }
      this.line(buf.subarray(pos, nl));
      pos = nl + 1;
    }
    this.flush();
  };

  /** From `pos` (a line start) past the COPY block's `\.` line; -1 when the chunk ends inside the block. */
  private skipCopy(buf: Buffer, pos: number): number {
    for (let from = pos; ;) {
      const i = buf.indexOf(COPY_END, from);
      if (i < 0) break;
      if ((i === pos && !this.copyMidLine) || (i > pos && buf[i - 1] === NL)) {
        this.inCopy = false;
        this.copyMidLine = false;
        return i + COPY_END.length;
      }
      from = i + 1;
    }
    // Keep only a tail that may begin the `\.` line: the block's rows are never held.
    const nl = buf.lastIndexOf(NL);
    const atStart = nl >= pos || !this.copyMidLine;
    const tail = buf.subarray(nl >= pos ? nl + 1 : pos);
    const maybeEnd = atStart && tail.length < COPY_END.length && COPY_END.subarray(0, tail.length).equals(tail);
    this.carry = maybeEnd && tail.length ? Buffer.from(tail) : null;
    this.copyMidLine = !maybeEnd;
    return -1;
  }

  private line(b: Buffer): void {
    if (this.heldDash) {
      this.heldDash = false;
      if (b.length > 3 && b[0] === 0x2d && b[1] === 0x2d && this.header(b.toString('latin1'))) return;
      this.body(Buffer.from('--'));
    }
    if (b.length === 2 && b[0] === 0x2d && b[1] === 0x2d) {
      this.heldDash = true;
      return;
    }
    this.body(b);
  }

  /** A line inside an entry: kept, or (a dropped entry) read for its large objects and COPY blocks. */
  private body(b: Buffer): void {
    if (!this.dropping) return this.keep(b);
    // pg_dump's state lines at a dropped entry's end are the next entries' (round-trip.ts STATE_LINES): kept.
    if (b.length < 1024 && stateLineKey(b.toString('latin1'))) this.stateRun.push(Buffer.from(b));
    else if (b.length || !this.stateRun.length) this.stateRun = [];
    if (this.blobs) return this.los?.line(b.toString('latin1'));
    const text = b.length < 1024 ? b.toString('latin1') : '';
    if (text.startsWith('COPY ') && text.endsWith(' FROM stdin;')) this.inCopy = true;
  }

  /** A `--` line, then `text`: when `text` starts an entry, decide whether it is kept, and keep both lines if so. */
  private header(text: string): boolean {
    const data = text.startsWith('-- Data for Name: ');
    if (!data && !text.startsWith('-- Name: ') && text !== '-- PostgreSQL database dump complete') return false;
    // The state lines a dropped entry ended with are between entries: they set the state of the next kept one.
    if (this.dropping) this.carriedState.push(...this.stateRun);
    this.stateRun = [];
    this.dropping = data || DATA_ENTRY.test(text);
    this.blobs = data && /; Type: BLOB/.test(text);
    if (!this.dropping) {
      for (const line of this.carriedState) {
        this.keep(line);
        this.keep(Buffer.alloc(0));
      }
      this.carriedState = [];
      this.keep(Buffer.from('--'));
      this.keep(Buffer.from(text, 'latin1'));
    }
    return true;
  }

  private keep(b: Buffer): void {
    if (this.out) this.pending.push(Buffer.from(b), Buffer.from('\n'));
  }

  private flush(): void {
    if (this.out && this.pending.length) this.out.write(Buffer.concat(this.pending));
    this.pending = [];
  }

  /** The end of the dump: the last line, the schema file closed, the large objects' hashes. */
  async finish(): Promise<DumpSideFidelity> {
    if (this.carry && !this.inCopy) this.line(Buffer.concat([this.carry, ...this.longLine]));
    if (this.heldDash) this.body(Buffer.from('--'));
    this.carry = null;
    this.flush();
    if (this.out) {
      this.out.end();
      await finished(this.out);
    }
    let largeObjects: LargeObjectHash[] | null = null;
    let largeObjectsError: string | null = null;
    try {
      largeObjects = this.los?.result() ?? null;
    } catch (err) {
      largeObjectsError = (err as Error).message;
    }
    return { schemaPath: this.o.schemaPath ?? null, largeObjects, largeObjectsError };
  }

  /** The dump failed: close the file and remove it. */
  async abandon(): Promise<void> {
    this.out?.destroy();
    if (this.o.schemaPath) await rm(this.o.schemaPath, { force: true });
  }
}

/** An archive's table of contents entry that carries a table's rows (`pg_restore -l`: `id; oid oid TABLE DATA …`). */
const TOC_TABLE_DATA = /^\d+; \d+ \d+ TABLE DATA /;
const TOC_BLOBS = /^\d+; \d+ \d+ BLOBS? /;

/** What `readArchiveSide` needs. */
export interface ArchiveSideOptions extends ExtractorOptions {
  readonly bins: Toolchain;
  /** The custom archive or directory. */
  readonly archive: string;
  /** Where the `pg_restore -L` list is written (removed after). */
  readonly listPath: string;
  readonly signal?: AbortSignal;
}

/**
 * An archive's schema entries and (asked for) large objects through `pg_restore -L` of the entries needed — every
 * one but TABLE DATA for the schema, the BLOBS entries for the large objects — as text through the same filter.
 * Only the archive is read: no session on any server.
 */
export async function readArchiveSide(o: ArchiveSideOptions): Promise<DumpSideFidelity> {
  const bin = o.bins.path('pg_restore');
  const toc = await runProcess({ bin, args: ['--list', o.archive], stdout: 'capture', signal: o.signal });
  const wanted = toc.stdout.split('\n').filter((l) => !l.startsWith(';') && l.trim() && !TOC_TABLE_DATA.test(l) && (o.schemaPath || TOC_BLOBS.test(l)));
  const extractor = new DumpSchemaExtractor(o);
  try {
    await writeFile(o.listPath, wanted.join('\n') + '\n', { mode: 0o600 });
    const proc = startProcess({ bin, args: ['--use-list', o.listPath, '--file=-', o.archive], stdout: 'pipe', signal: o.signal });
    const fed = (async () => {
      for await (const chunk of proc.stdout!) extractor.push(chunk as Buffer);
    })();
    await Promise.all([fed, proc.done]);
    return await extractor.finish();
  } catch (err) {
    await extractor.abandon();
    throw err;
  } finally {
    await rm(o.listPath, { force: true });
  }
}

/**
 * Whether the round trip's source side may come from the dump (default yes; `PGDRILL_ROUND_TRIP_FROM_DUMP=0`: no):
 * the pg_dump that wrote it is the one that dumps the restored copy (an upgrade rehearsal dumps the copy with a newer
 * one: another text), and for an archive pg_restore, which prints its entries, is of that major too. Otherwise the
 * source side is a schema-only pg_dump in the snapshot.
 */
export function schemaFromDumpPossible(bins: Toolchain, format: 'plain' | 'custom' | 'directory'): boolean {
  // On by default: the comparison replays pg_dump's state lines (round-trip.ts STATE_LINES), so where a full dump
  // prints them (after its data entries) does not matter. PGDRILL_ROUND_TRIP_FROM_DUMP=0 takes a schema-only pg_dump
  // in the snapshot instead (a second session on production, as before).
  if (process.env.PGDRILL_ROUND_TRIP_FROM_DUMP === '0') return false;
  if (!bins.has('pg_dump', 'sandbox-dump') || bins.path('pg_dump', 'dump') !== bins.path('pg_dump', 'sandbox-dump')) return false;
  return format === 'plain' || (bins.has('pg_restore') && bins.version('pg_restore').major === bins.version('pg_dump', 'dump').major);
}
