/**
 * The round trip: a schema-only dump of the restored copy must equal a schema-only dump of the source taken in
 * the same snapshot as the backup — the way PostgreSQL's own test suites prove dump/restore fidelity. It covers
 * everything pg_dump knows how to write (operators, casts, text search, FDWs, publications… that the catalog
 * comparison does not list one by one). It names every object whose text differs (pg_dump's `-- Name: …` entry) with
 * its differing lines — not by attribute, as the catalog comparison does.
 *
 * Lines stripped (or masked) before comparing, because they legitimately differ — each documented in
 * ROUND_TRIP_STRIPPED — and pg_dump's session-state lines between entries, replayed into the entries they apply to
 * (STATE_LINES): nothing else is, so any other difference is a finding.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { finished, pipeline } from 'node:stream/promises';
import { ToolError } from '../errors.js';
import type { Toolchain, ToolRole } from '../toolchain/toolchain.js';
import { startProcess } from '../exec/run-process.js';
import type { DumpSessionSettings } from './copy-hash-restored.js';
import type { CrossMajorNormaliser, Side } from './cross-major.js';
import { encodeServerText, hasEscapedBytes, showBytes } from '../pg/server-bytes.js';
import { encodingOfDumpHead } from '../scan/dump-encoding.js';

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
  readonly bins: Toolchain;
  /** Whose pg_dump: 'dump' (the source's side, default) or 'sandbox-dump' (the restored copy's). */
  readonly role?: ToolRole;
  /** Connection environment (PG*), e.g. the source's tool environment or `sandbox.env(db)`. */
  readonly env: Readonly<Record<string, string>>;
  /** Where the dump goes. */
  readonly path: string;
  /** Exported snapshot to dump in (the source side). */
  readonly snapshot?: string;
  /** `--lock-wait-timeout` in ms. Default 30 s. */
  readonly lockWaitTimeoutMs?: number;
  /**
   * The session settings the other side's schema text was written under, when that side is the main dump itself
   * (pg_dump does not fix TimeZone, bytea_output or lc_monetary, and deparsed constants — a timestamptz DEFAULT, a
   * partition bound, a bytea or money literal — follow them). Null or absent: TimeZone UTC, as both schema-only
   * dumps then are.
   */
  readonly session?: DumpSessionSettings | null;
  readonly signal?: AbortSignal;
}

/** A PGOPTIONS word: spaces and backslashes escaped as libpq reads them. */
const optionWord = (s: string) => s.replace(/[\\ ]/g, (c) => `\\${c}`);

/** The environment that makes a schema-only pg_dump print constants as `session` did (UTC when unknown). */
export function schemaDumpEnv(env: Readonly<Record<string, string>>, session: DumpSessionSettings | null | undefined): Record<string, string> {
  const extra = [
    ...(session?.byteaOutput ? [`-c bytea_output=${optionWord(session.byteaOutput)}`] : []),
    ...(session?.lcMonetary ? [`-c lc_monetary=${optionWord(session.lcMonetary)}`] : []),
  ];
  const options = [env.PGOPTIONS, ...extra].filter(Boolean).join(' ');
  return { ...env, PGTZ: session?.timeZone ?? 'UTC', ...(options ? { PGOPTIONS: options } : {}) };
}

/**
 * pg_dump's session-state lines. pg_dump prints one just before an entry's `--` / `-- Name: …` header when the entry
 * needs a state the entries before did not leave (pg_backup_archiver.c: _selectTablespace, _selectTableAccessMethod,
 * _selectOutputSchema, _becomeOwner): where such a line is printed, and whether it is printed at all, depends on the
 * entries before — a full dump's data entries, a schema-only dump's absent ones — not on the object. Such lines, found
 * between entries (only state lines and blank lines between them and the next header), are dropped from the text and
 * replayed: the state in effect is written into each entry whose object it applies to (STATE_APPLIES), so two dumps
 * that differ only by where pg_dump printed state compare equal, while an object created under another tablespace,
 * access method or search_path still differs.
 */
const STATE_LINES: readonly { readonly key: StateKey; readonly pattern: RegExp }[] = [
  { key: 'default_tablespace', pattern: /^SET default_tablespace = .*;$/ },
  { key: 'default_table_access_method', pattern: /^SET default_table_access_method = .*;$/ },
  { key: 'search_path', pattern: /^SELECT pg_catalog\.set_config\('search_path', '.*', false\);$/ },
  // --use-set-session-authorization: the owner is also in every entry's header (`Owner: …`), which is compared.
  { key: 'session_authorization', pattern: /^(SET|RESET) SESSION AUTHORIZATION\b.*;$/ },
];
type StateKey = 'default_tablespace' | 'default_table_access_method' | 'search_path' | 'session_authorization';

/**
 * The entry types whose object a state applies to, as pg_dump sets it for them (pg_dump.c: the ArchiveEntry calls
 * given a `.tablespace` — relations with storage, their indexes and index-backed constraints — or a `.tableam`), so
 * that the state in effect at their header is always the object's own, whatever the entries before were. `*`: every
 * entry in a schema (pg_dump prints search_path per entry only for old archives; then for every such entry).
 */
const STATE_APPLIES: Readonly<Record<StateKey, ReadonlySet<string> | '*' | null>> = {
  default_tablespace: new Set(['TABLE', 'MATERIALIZED VIEW', 'INDEX', 'CONSTRAINT']),
  default_table_access_method: new Set(['TABLE', 'MATERIALIZED VIEW']),
  search_path: '*',
  session_authorization: null,
};

/** The documented reason for the dropped state lines (counted in RoundTripComparison.stripped after ROUND_TRIP_STRIPPED's rules). */
export const STATE_LINES_WHY =
  "pg_dump's session-state lines between entries (SET default_tablespace, SET default_table_access_method, search_path, SET SESSION AUTHORIZATION): printed where the entries before left another state, so a full dump and a schema-only one place them differently; dropped, and the state in effect written into each table, materialized view, index and constraint entry it applies to (`-- state: …` lines)";

/** An entry header's type (`Name: …; Type: TABLE; Schema: …`), and whether it is in a schema. */
function entryType(header: string): { type: string; inSchema: boolean } | null {
  const m = /; Type: ([A-Z][A-Z ]*); Schema: (.*?); Owner: /.exec(header);
  return m ? { type: m[1]!, inSchema: m[2] !== '-' } : null;
}

/** The `-- state: …` lines written into an entry: the state lines in effect that apply to its object. */
function stateLinesFor(header: string, state: ReadonlyMap<StateKey, string>): string[] {
  const e = entryType(header);
  if (!e) return [];
  const out: string[] = [];
  for (const { key } of STATE_LINES) {
    const applies = STATE_APPLIES[key];
    const line = state.get(key);
    if (line === undefined || !applies) continue;
    if (applies === '*' ? e.inSchema : applies.has(e.type)) out.push(`-- state: ${line}`);
  }
  return out;
}

/** The state a line sets, if it is one of pg_dump's state lines. */
export function stateLineKey(line: string): StateKey | null {
  for (const s of STATE_LINES) if (s.pattern.test(line)) return s.key;
  return null;
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
    const proc = startProcess({ bin: o.bins.path('pg_dump', o.role), args, env: schemaDumpEnv(o.env, o.session), stdout: 'pipe', signal: o.signal });
    await Promise.all([pipeline(proc.stdout!, createWriteStream(o.path, { mode: 0o600 })), proc.done]);
  } catch (err) {
    await rm(o.path, { force: true });
    throw err instanceof ToolError ? err : new ToolError('pg_dump', args, null, null, String((err as Error).message), { cause: err });
  }
  return { path: o.path, ms: Math.round(performance.now() - t0), args };
}

/**
 * The major of the pg_dump that wrote a plain dump, from its `-- Dumped by pg_dump version …` header line (within
 * its first 40 lines); null when there is none. Two schema dumps compare line by line only when one major wrote both.
 */
export async function dumpedByMajor(path: string): Promise<number | null> {
  const input = createReadStream(path);
  let n = 0;
  try {
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      const m = /^-- Dumped by pg_dump version (\d+)/.exec(line);
      if (m) return Number(m[1]);
      if (++n >= 40) break;
    }
  } finally {
    input.destroy();
  }
  return null;
}

/** A differing pair of lines (one side null: a line only on the other side, or past the end of a file). */
export interface RoundTripDifference {
  /** 1-based line numbers in each file (null when the line is on the other side only). */
  readonly source_line: number | null;
  readonly restored_line: number | null;
  readonly source: string | null;
  readonly restored: string | null;
}

/** One object (a `-- Name: …` entry of the dumps) whose text differs. */
export interface RoundTripObject {
  /** Its header without `-- ` (the source's, or the restored copy's when only there), e.g. `Name: film; Type: TABLE; Schema: public; Owner: postgres`. */
  readonly section: string;
  readonly kind: 'differs' | 'missing in the restored copy' | 'only in the restored copy';
  /** Its differing lines, as pairs (at most MAX_LINES_PER_OBJECT here; all of them in the differences file). */
  readonly lines: RoundTripDifference[];
  /** Differing pairs beyond `lines`. */
  readonly lines_omitted: number;
}

/** Outcome of the comparison. */
export interface RoundTripComparison {
  readonly equal: boolean;
  /** Lines of the source's dump compared (after stripping). */
  readonly lines_compared: number;
  /** Lines stripped (or masked) per rule, on each side. */
  readonly stripped: { why: string; source: number; restored: number }[];
  /** The first differing object's differing lines, at most 6 (empty when equal). */
  readonly differences: RoundTripDifference[];
  /** The header of the first differing object (null when equal). */
  readonly section: string | null;
  /** How many objects differ (present on one side only, or with other text). */
  readonly objects_differing: number;
  /** The differing objects, in the source dump's order (then those only in the copy), at most MAX_OBJECTS. */
  readonly objects: RoundTripObject[];
  readonly objects_omitted: number;
  /** The file naming every differing object with all its lines (null when equal or not asked for). */
  readonly differences_path: string | null;
}

/** Differing pairs kept in `differences`. */
const FIRST_LINES = 6;
/** Objects listed in the report, and differing line pairs per object there (all are in the differences file). */
export const MAX_OBJECTS = 100;
export const MAX_LINES_PER_OBJECT = 20;
/** Lines of differing objects held in memory to compute their line differences (~10–20 MB); beyond, objects are named with their line ranges only. */
const LINE_BUDGET = 200_000;
/** Above this many cells (source lines × restored lines) an object's lines are compared as multisets, not by LCS. */
const LCS_CELLS = 4_000_000;

const PREAMBLE = '(the dump\'s header, before its first object)';

/** One line after stripping, with its line number. */
interface NumberedLine {
  readonly n: number;
  readonly text: string;
}

/** An object's place in one dump: where it starts and ends, and a digest of its (stripped) text. */
interface Section {
  readonly header: string;
  readonly first: number;
  last: number;
  /** sha256 of its lines (128 bits, hex), set once the object has ended. */
  digest: string;
}

/** A dump's first 64 KiB (where pg_dump writes its `SET client_encoding`). */
async function dumpHead(path: string): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(64 * 1024);
    const { bytesRead } = await fh.read(b, 0, b.length, 0);
    return b.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/**
 * A dump's lines, decoded in the dump's own encoding — not as UTF-8: every byte of a LATIN1 or SQL_ASCII dump that is
 * not UTF-8 would be the same U+FFFD, and `café` would equal `cafê` — and split where readline splits them (`\n`,
 * `\r\n`, a lone `\r`), one array per chunk read.
 */
async function* lineBatches(path: string): AsyncGenerator<string[]> {
  const decoder = encodingOfDumpHead(await dumpHead(path)).decoder();
  const input = createReadStream(path);
  let carry = '';
  const split = (text: string, last: boolean): string[] => {
    // A trailing \r waits for the next chunk: it may be the first half of a \r\n.
    const held = !last && text.endsWith('\r');
    const lines = (held ? text.slice(0, -1) : text).split(/\r\n|\n|\r/);
    carry = lines.pop()! + (held ? '\r' : '');
    return lines;
  };
  try {
    for await (const chunk of input) {
      const lines = split(carry + decoder.write(chunk as Buffer), false);
      if (lines.length) yield lines;
    }
    const lines = split(carry + decoder.end(), true);
    if (carry) lines.push(carry);
    if (lines.length) yield lines;
  } finally {
    input.destroy();
  }
}

/** An object's key: its header without the owner (an owner difference is then a differing line of the same object). */
const keyOf = (header: string) => header.replace(/; Owner: .*$/, '');
const TRAILER = "(the dump's trailer)";

/**
 * Receives a dump's lines one by one: its number in the file, its text after stripping (and the cross-major rewrite),
 * and its object — `key`, unique within the dump (the header's key, `#n` for its n-th repetition: two entries with one
 * header are rare), and `header`.
 */
type ObjectLineSink = (n: number, text: string, key: string, header: string) => void;

/** How one dump is read: its stripped lines, and the cross-major rewrite of its objects (none by default). */
interface DumpReading {
  readonly stripped: readonly StrippedLine[];
  readonly counts: number[];
  readonly side: Side;
  readonly normaliser?: CrossMajorNormaliser | null;
  /** Count the normaliser's applications (false when the same dump is read a second time). */
  readonly count: boolean;
  /** State lines dropped (STATE_LINES), counted when `count`. */
  readonly stateLines: { n: number };
}

/**
 * `sink` wrapped in the cross-major normaliser, when one is active: each object's lines (contiguous) are gathered and
 * rewritten as a whole. A rewritten line keeps the number of the line it replaces; added lines take the object's
 * last number. Returns the sink to feed and the function that flushes the last object.
 */
function normalising(r: DumpReading, sink: ObjectLineSink): { sink: ObjectLineSink; end: () => void } {
  const n = r.normaliser;
  if (!n?.active) return { sink, end: () => {} };
  let numbers: number[] = [];
  let texts: string[] = [];
  let key = '';
  let header = '';
  const flush = () => {
    if (!texts.length) return;
    const out = n.section(header, texts, r.side, r.count);
    for (let i = 0; i < out.length; i++) sink(numbers[Math.min(i, numbers.length - 1)]!, out[i]!, key, header);
    numbers = [];
    texts = [];
  };
  return {
    sink: (ln, text, k, h) => {
      if (texts.length && key !== k) flush();
      if (!texts.length) [key, header] = [k, h];
      numbers.push(ln);
      texts.push(text);
    },
    end: flush,
  };
}

/**
 * Feed a dump's lines to `sink`, each with its object: ROUND_TRIP_STRIPPED lines stripped (or masked; `counts[i]`
 * counts the lines rule i matched), pg_dump's `-- Name: …` headers start objects, and the `--` line just before a
 * header belongs to the object it introduces, so an object's text is the same wherever it sits in the dump. Lines
 * before the first header are the preamble; `-- PostgreSQL database dump complete` starts the trailer.
 *
 * One synchronous pass per chunk read, no object per line: a chain of async generators, a line and an object per
 * line at each level, made the round trip of a 5,000-table schema (100,000 lines a side) take ~40 MB of heap and
 * 3–10 s of CPU beside the drill's other checks (docs/performance.md).
 */
async function eachObjectLine(path: string, r: DumpReading, to: ObjectLineSink): Promise<void> {
  const { sink, end } = normalising(r, to);
  const seen = new Map<string, number>();
  let key = keyOf(PREAMBLE);
  let header = PREAMBLE;
  let pending = 0; // the number of a `--` line waiting for the next one, 0 for none
  let n = 0;
  // State lines (and the blank lines after them) waiting to be known as between entries (a header follows) or not.
  let held: { n: number; text: string }[] = [];
  const state = new Map<StateKey, string>();
  const release = () => {
    for (const h of held) sink(h.n, h.text, key, header);
    held = [];
  };
  for await (const batch of lineBatches(path)) {
    for (const line of batch) {
      n++;
      const i = r.stripped.findIndex((s) => s.pattern.test(line));
      let text = line;
      if (i >= 0) {
        r.counts[i]!++;
        const rule = r.stripped[i]!;
        if (rule.replace === undefined) continue;
        text = line.replace(rule.pattern, rule.replace);
      }
      if (!pending && (stateLineKey(text) || (held.length && text === ''))) {
        held.push({ n, text });
        continue;
      }
      const starts = text.startsWith('-- Name: ') ? text.slice(3) : text === '-- PostgreSQL database dump complete' ? TRAILER : null;
      if (starts !== null) {
        if (held.length) {
          // Between entries: the state changes, the lines go (counted as stripped).
          for (const h of held) {
            const k = stateLineKey(h.text);
            if (!k) continue;
            state.set(k, h.text);
            if (r.count) r.stateLines.n++;
          }
          held = [];
        }
        header = starts;
        const base = keyOf(starts);
        const k = (seen.get(base) ?? 0) + 1;
        seen.set(base, k);
        key = k === 1 ? base : `${base} #${k}`;
      } else if (held.length && !(text === '--' && !pending)) {
        release();
      }
      if (pending) sink(pending, '--', key, header);
      pending = 0;
      if (text === '--') {
        pending = n;
        continue;
      }
      sink(n, text, key, header);
      if (starts !== null && starts !== TRAILER) for (const s of stateLinesFor(starts, state)) sink(n, s, key, header);
    }
  }
  release();
  if (pending) sink(pending, '--', key, header);
  end();
}

/**
 * The objects of a dump, each with where it starts and ends and a digest of its (stripped) text; and the dump's line
 * count. An object's lines are contiguous, so one hash is open at a time: memory holds a short record per object.
 */
async function sectionsOf(path: string, reading: DumpReading): Promise<{ sections: Map<string, Section>; lines: number }> {
  const sections = new Map<string, Section>();
  let lines = 0;
  let key: string | null = null;
  let section: Section | null = null;
  let hash = createHash('sha256');
  await eachObjectLine(path, reading, (n, text, k, header) => {
    lines++;
    if (key !== k || !section) {
      if (section) section.digest = hash.digest('hex').slice(0, 32);
      key = k;
      section = { header, first: n, last: n, digest: '' };
      sections.set(k, section);
      hash = createHash('sha256');
    }
    section.last = n;
    // A lone surrogate (a SQL_ASCII byte) as its byte, not as U+FFFD; other text is hashed as UTF-8 without a Buffer per line.
    hash.update(hasEscapedBytes(text) ? encodeServerText(text) : text).update('\n');
  });
  if (section) (section as Section).digest = hash.digest('hex').slice(0, 32);
  return { sections, lines };
}

/** The lines of the given objects (by key), read again from the dump; an object that does not fit in `budget` lines is left out. */
async function linesOf(path: string, reading: DumpReading, wanted: ReadonlySet<string>, budget: { left: number }): Promise<Map<string, NumberedLine[]>> {
  const out = new Map<string, NumberedLine[]>();
  const dropped = new Set<string>();
  await eachObjectLine(path, { ...reading, counts: reading.stripped.map(() => 0), count: false }, (n, text, key) => {
    if (!wanted.has(key) || dropped.has(key)) return;
    if (budget.left <= 0) {
      out.delete(key);
      dropped.add(key);
      return;
    }
    budget.left--;
    let list = out.get(key);
    if (!list) out.set(key, (list = []));
    list.push({ n, text });
  });
  return out;
}

/** Differing line pairs of one object: an LCS diff (multiset for huge objects), deletions and insertions paired by hunk. */
function diffLines(a: readonly NumberedLine[], b: readonly NumberedLine[]): RoundTripDifference[] {
  const out: RoundTripDifference[] = [];
  const pair = (dels: NumberedLine[], ins: NumberedLine[]) => {
    for (let i = 0; i < Math.max(dels.length, ins.length); i++) {
      const x = dels[i];
      const y = ins[i];
      out.push({ source_line: x?.n ?? null, restored_line: y?.n ?? null, source: x?.text ?? null, restored: y?.text ?? null });
    }
  };
  if (a.length * b.length > LCS_CELLS) {
    const count = new Map<string, number>();
    for (const y of b) count.set(y.text, (count.get(y.text) ?? 0) + 1);
    const dels = a.filter((x) => {
      const c = count.get(x.text) ?? 0;
      if (c) count.set(x.text, c - 1);
      return !c;
    });
    const left = new Map<string, number>();
    for (const x of a) left.set(x.text, (left.get(x.text) ?? 0) + 1);
    const ins = b.filter((y) => {
      const c = left.get(y.text) ?? 0;
      if (c) left.set(y.text, c - 1);
      return !c;
    });
    pair(dels, ins);
    return out;
  }
  const n = a.length;
  const m = b.length;
  const w = m + 1;
  const L = new Int32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      L[i * w + j] = a[i]!.text === b[j]!.text ? L[(i + 1) * w + j + 1]! + 1 : Math.max(L[(i + 1) * w + j]!, L[i * w + j + 1]!);
    }
  }
  let i = 0;
  let j = 0;
  let dels: NumberedLine[] = [];
  let ins: NumberedLine[] = [];
  while (i < n || j < m) {
    if (i < n && j < m && a[i]!.text === b[j]!.text) {
      pair(dels, ins);
      dels = [];
      ins = [];
      i++;
      j++;
    } else if (j >= m || (i < n && L[(i + 1) * w + j]! >= L[i * w + j + 1]!)) {
      dels.push(a[i++]!);
    } else {
      ins.push(b[j++]!);
    }
  }
  pair(dels, ins);
  return out;
}

/** What compareSchemaDumps may write. */
export interface CompareOptions {
  /** Write every differing object with all its lines here (only when the dumps differ). Default: nowhere. */
  readonly differencesPath?: string;
  /** Rewrite objects that legitimately differ between the source's major and the sandbox's (cross-major.ts). Default none. */
  readonly normaliser?: CrossMajorNormaliser | null;
}

/** One object that differs between the dumps, by its pg_dump header. */
interface DifferingObject {
  readonly key: string;
  readonly section: string;
  readonly kind: RoundTripObject['kind'];
}

/** One side of the comparison: its dump path, its sections and the lines read of the differing ones. */
interface ComparedSide {
  readonly path: string;
  readonly sections: Map<string, Section>;
  readonly lines: Map<string, NumberedLine[]>;
}

/** Objects whose digests differ or that one side lacks: the source's in its order, then those only restored. */
function differingObjects(src: Map<string, Section>, rst: Map<string, Section>): DifferingObject[] {
  const differing: DifferingObject[] = [];
  for (const [key, s] of src) {
    const r = rst.get(key);
    if (!r) differing.push({ key, section: s.header, kind: 'missing in the restored copy' });
    else if (r.digest !== s.digest) differing.push({ key, section: s.header, kind: 'differs' });
  }
  const only = [...rst].filter(([key]) => !src.has(key)).sort((x, y) => x[1].first - y[1].first);
  for (const [key, r] of only) differing.push({ key, section: r.header, kind: 'only in the restored copy' });
  return differing;
}

/**
 * Diff every differing object's lines, write them all to differencesPath (when given) and return the first
 * MAX_OBJECTS for the report.
 */
async function writeDifferences(differing: readonly DifferingObject[], source: ComparedSide, restored: ComparedSide, differencesPath: string | undefined): Promise<RoundTripObject[]> {
  const objects: RoundTripObject[] = [];
  const out = differencesPath ? createWriteStream(differencesPath, { mode: 0o600 }) : null;
  const failed = out ? new Promise<never>((_, reject) => out.once('error', reject)) : null;
  failed?.catch(() => {});
  const write = async (text: string) => {
    // bytes of a SQL_ASCII dump that are not UTF-8 as \xNN, as the report shows them
    if (out && !out.write(showBytes(text))) await Promise.race([once(out, 'drain'), failed!]);
  };
  try {
    await write(`# pgdrill round trip: ${differing.length} object(s) differ between
#   source   ${source.path}
#   restored ${restored.path}
# (after stripping ROUND_TRIP_STRIPPED; "-" source line, "+" restored line, with line numbers)
`);
    for (const d of differing) {
      const s = source.sections.get(d.key);
      const r = restored.sections.get(d.key);
      const a = source.lines.get(d.key);
      const b = restored.lines.get(d.key);
      const known = (d.kind === 'only in the restored copy' || a) && (d.kind === 'missing in the restored copy' || b);
      const pairs = known ? diffLines(a ?? [], b ?? []) : [];
      await write(`
## ${d.section} — ${d.kind}
`);
      if (!known) {
        await write(`(too large to hold: compare source lines ${s ? `${s.first}–${s.last}` : '(none)'} with restored lines ${r ? `${r.first}–${r.last}` : '(none)'})
`);
      }
      for (const p of pairs) {
        if (p.source !== null) await write(`- ${p.source_line}: ${p.source}
`);
        if (p.restored !== null) await write(`+ ${p.restored_line}: ${p.restored}
`);
      }
      if (objects.length < MAX_OBJECTS) {
        objects.push({ section: d.section, kind: d.kind, lines: pairs.slice(0, MAX_LINES_PER_OBJECT), lines_omitted: Math.max(0, pairs.length - MAX_LINES_PER_OBJECT) });
      }
    }
    if (out) {
      out.end();
      await Promise.race([finished(out), failed!]);
    }
  } catch (err) {
    out?.destroy();
    throw err;
  }
  return objects;
}

/**
 * Compare two schema dumps object by object (pg_dump's `-- Name: …` entries), after stripping ROUND_TRIP_STRIPPED
 * lines and replaying the state lines between entries (STATE_LINES; counted as the last entry of `stripped`): each dump is read as a stream into one digest per object (never the whole files in memory), objects are
 * matched by header, and only the differing ones are read again for their lines. Every differing object is counted
 * and named — present on one side only, or with other text — with its differing lines.
 */
export async function compareSchemaDumps(sourcePath: string, restoredPath: string, stripped = ROUND_TRIP_STRIPPED, opts: CompareOptions = {}): Promise<RoundTripComparison> {
  const sc = stripped.map(() => 0);
  const rc = stripped.map(() => 0);
  const [ss, rs] = [{ n: 0 }, { n: 0 }];
  const reading = (side: Side, counts: number[]): DumpReading => ({ stripped, counts, side, normaliser: opts.normaliser, count: true, stateLines: side === 'source' ? ss : rs });
  const [src, rst] = await Promise.all([sectionsOf(sourcePath, reading('source', sc)), sectionsOf(restoredPath, reading('restored', rc))]);
  const counts = [...stripped.map((s, i) => ({ why: s.why, source: sc[i]!, restored: rc[i]! })), { why: STATE_LINES_WHY, source: ss.n, restored: rs.n }];
  let differing = differingObjects(src.sections, rst.sections);
  const equal = () => ({ equal: true, lines_compared: src.lines, stripped: counts, objects_differing: 0, differences: [], section: null, objects: [], objects_omitted: 0, differences_path: null });
  if (!differing.length) return equal();

  const wanted = new Set(differing.map((d) => d.key));
  const budget = { left: LINE_BUDGET };
  const sLines = await linesOf(sourcePath, reading('source', sc), wanted, budget);
  const rLines = await linesOf(restoredPath, reading('restored', rc), wanted, budget);
  // A change only the pair shows (cross-major.ts `equivalent`): objects whose lines were both read.
  const explained = (d: DifferingObject) => {
    const [a, b] = [sLines.get(d.key), rLines.get(d.key)];
    return d.kind === 'differs' && !!a && !!b && !!opts.normaliser?.equivalent('sections', d.section, a.map((l) => l.text).join('\n'), b.map((l) => l.text).join('\n'));
  };
  if (opts.normaliser?.active) differing = differing.filter((d) => !explained(d));
  if (!differing.length) return equal();
  const base = { lines_compared: src.lines, stripped: counts, objects_differing: differing.length };
  const objects = await writeDifferences(differing, { path: sourcePath, sections: src.sections, lines: sLines }, { path: restoredPath, sections: rst.sections, lines: rLines }, opts.differencesPath);
  const first = objects[0]!;
  return {
    equal: false, ...base, differences: first.lines.slice(0, FIRST_LINES), section: first.section, objects,
    objects_omitted: differing.length - objects.length, differences_path: opts.differencesPath ?? null,
  };
}
