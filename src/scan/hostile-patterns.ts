/**
 * SQL that pg_dump never writes but a tampered dump could use to reach outside the database during a restore:
 * COPY … PROGRAM, COPY to/from server files, file-reading functions, ALTER SYSTEM, dblink, loading libraries.
 *
 * One matcher runs over the statement's top-level tokens (exact: psql's own lexer produced them) and a second one
 * over the text inside quoted and dollar-quoted literals, where function bodies and dynamic SQL live
 * (`EXECUTE 'COPY t FROM PROGRAM …'`). Inside literals the rules are word-based and a little looser, and
 * adjacent literals are read as one text, so `'COPY t FROM ' || 'PROGRAM …'` is still caught.
 *
 * What this cannot catch (and why a restore must still run unprivileged where possible): SQL assembled at run time
 * from pieces that never spell the keywords, e.g. `chr(67)||'OPY'`, `reverse('MARGORP')`, `convert_from(decode(…))`,
 * or text read from a table; functions that are created here and called later by an application; and anything
 * reached through an ordinary-looking function that an extension or a previous restore already installed.
 */
import type { ScanFinding } from './types.js';

/** The kind of a finding. */
export type FindingKind = ScanFinding['kind'];

/** Reports one match: kind, why, and the 1-based line of the token that completed it. */
export type HitReporter = (kind: FindingKind, reason: string, line: number) => void;

/** Functions that read or write files on the database server (or list them). */
export const SERVER_FILE_FUNCTIONS: ReadonlySet<string> = new Set([
  'pg_read_file', 'pg_read_binary_file', 'pg_ls_dir', 'pg_stat_file', 'lo_import', 'lo_export',
  'pg_file_write', 'pg_file_rename', 'pg_file_unlink', 'pg_file_sync', 'pg_logdir_ls',
]);

/** Functions that reach other servers or change the running server (reported as 'other'). */
export const OTHER_FUNCTIONS: ReadonlySet<string> = new Set([
  'dblink', 'dblink_exec', 'dblink_connect', 'dblink_connect_u', 'dblink_send_query', 'dblink_open', 'pg_reload_conf',
]);

/** Languages whose functions run with the server's OS privileges. Any name ending in `u` is an untrusted PL by convention. */
const UNTRUSTED_NAMED: ReadonlySet<string> = new Set(['c', 'internal', 'plr', 'plsh']);

/** True for LANGUAGE c, internal, and untrusted procedural languages (plpython3u, plperlu, pltclu, …). */
export function isUntrustedLanguage(name: string): boolean {
  const n = name.toLowerCase();
  return UNTRUSTED_NAMED.has(n) || (n.length > 1 && n.endsWith('u'));
}

// Token types the matcher sees.
/** An identifier or keyword, lower-cased. */
export const T_WORD = 0;
/** A double-quoted identifier, exact. */
export const T_QIDENT = 1;
/** A string literal (opaque at the top level). */
export const T_STRING = 2;
/** One punctuation character (or `::`). */
export const T_PUNCT = 3;
/** A number or parameter. */
export const T_OTHER = 4;

const SIGNATURE_WORDS = new Set(['function', 'procedure', 'routine', 'aggregate']);
const QUOTE_OR_CONCAT = new Set(["'", '"', '|', '+']);
const NOT_A_COPY_COMMAND_AFTER = new Set(['from', 'join', 'into', 'table', 'update', 'only', 'references', 'on', 'as']);

/**
 * Streams tokens of one statement (reset between statements) and reports hostile patterns.
 * `tier` 'sql' is for psql's top-level tokens, 'literal' for words found inside literals.
 */
export class HostilePatternMatcher {
  private depth = 0;
  private index = 0;
  private t1 = -1; private v1 = '';
  private t2 = -1; private v2 = '';
  private t3 = -1; private v3 = '';
  private t4 = -1; private v4 = '';
  private copyStage = 0;
  private copyDepth = 0;
  private copyQuoted = 0; // literal tier: quote/concatenation characters seen right after FROM/TO
  private copyWords = 0; // literal tier: name words between COPY and FROM/TO at COPY's depth
  private copyPrevWord = false;
  private copyBinary = false;
  private copyInDq = false;
  /** Line of a `CREATE SUBSCRIPTION` being read (sql tier), and whether it said `connect = false`. */
  private subscription: number | null = null;
  private subscriptionOffline = false;

  constructor(private readonly tier: 'sql' | 'literal', private readonly report: HitReporter) {}

  /** Forgets the current statement. */
  reset(): void {
    if (this.subscription !== null && !this.subscriptionOffline) {
      this.report('other', 'CREATE SUBSCRIPTION without connect = false connects to the publisher (pg_dump always writes connect = false)', this.subscription);
    }
    this.subscription = null;
    this.subscriptionOffline = false;
    this.depth = 0;
    this.index = 0;
    this.t1 = this.t2 = this.t3 = this.t4 = -1;
    this.v1 = this.v2 = this.v3 = this.v4 = '';
    this.copyStage = 0;
  }

  /** One token: `v` is lower-cased for words, exact for quoted identifiers, the character for punctuation. */
  push(t: number, v: string, line: number): void {
    if (t === T_PUNCT) {
      if (v === '(') this.depth++;
      else if (v === ')' && this.depth > 0) this.depth--;
    }
    this.copyRule(t, v, line);
    if (t === T_WORD && v === 'system' && this.t1 === T_WORD && this.v1 === 'alter') {
      const first = this.tier === 'sql'
        ? this.index === 1 || (this.t2 === T_PUNCT && this.v2 === ';')
        : !((this.t2 === T_WORD && (this.v2 === 'grant' || this.v2 === 'revoke' || this.v2 === 'for')) || (this.t2 === T_PUNCT && this.v2 === ','));
      if (first) this.report('alter-system', 'ALTER SYSTEM writes postgresql.auto.conf on the server', line);
    }
    if (t === T_PUNCT && v === '(' && (this.t1 === T_WORD || this.t1 === T_QIDENT)) this.functionRule(this.v1, line);
    this.egressRule(t, v, line);
    if (this.tier === 'literal') this.literalOnlyRules(t, v, line);
    else if (t === T_WORD && v === 'uescape') this.report('other', 'UESCAPE hides identifiers and strings from inspection', line);
    this.t4 = this.t3; this.v4 = this.v3;
    this.t3 = this.t2; this.v3 = this.v2;
    this.t2 = this.t1; this.v2 = this.v1;
    this.t1 = t; this.v1 = v;
    this.index++;
  }

  /** COPY … FROM/TO: only STDIN/STDOUT are what pg_dump writes; PROGRAM runs a shell command, anything else is a server file. */
  private copyRule(t: number, v: string, line: number): void {
    if (this.copyStage === 2) {
      if (this.tier === 'literal' && t === T_PUNCT && QUOTE_OR_CONCAT.has(v) && this.copyQuoted < 8) {
        // 'COPY t FROM ' || 'PROGRAM …' inside a body: look through the quotes and the concatenation
        this.copyQuoted++;
        return;
      }
      this.copyStage = 0;
      const quoted = this.copyQuoted > 0;
      this.copyQuoted = 0;
      if (t === T_WORD && (v === 'stdin' || v === 'stdout')) return;
      if (t === T_WORD && v === 'program') {
        this.report('copy-program', 'COPY … PROGRAM runs a shell command on the database server', line);
        return;
      }
      // Inside literals a word right after FROM is more likely prose ("copy from the old system") than a file.
      if (this.tier === 'sql' || t === T_PUNCT || quoted) this.report('server-file', 'COPY to or from a file on the database server', line);
      return;
    }
    if (this.copyStage === 1) {
      if ((t === T_PUNCT && v === ';') || this.depth < this.copyDepth) this.copyStage = 0;
      else if (t === T_WORD && this.depth === this.copyDepth && (v === 'from' || v === 'to')) {
        this.copyStage = 2;
        this.copyQuoted = 0;
      } else if (this.tier === 'literal' && this.depth === this.copyDepth) {
        // Only `[BINARY] name[.name]` may stand between COPY and FROM/TO: two bare words in a row are prose
        // ("copy all the rows to 'archive'" in a comment), not a command.
        if (t === T_PUNCT && v === '"') this.copyInDq = !this.copyInDq;
        else if (t === T_PUNCT && v === '.') this.copyPrevWord = false;
        else if (t === T_WORD && !this.copyInDq) {
          if (this.copyPrevWord && !(this.copyWords === 1 && this.copyBinary)) this.copyStage = 0;
          this.copyWords++;
          if (this.copyWords === 1 && v === 'binary') this.copyBinary = true;
          this.copyPrevWord = true;
        }
      }
      return;
    }
    if (t === T_WORD && v === 'copy') {
      const starts = this.tier === 'sql'
        ? this.index === 0 || (this.t1 === T_PUNCT && this.v1 === ';')
        : !((this.t1 === T_WORD && NOT_A_COPY_COMMAND_AFTER.has(this.v1)) || (this.t1 === T_PUNCT && (this.v1 === '.' || this.v1 === ',')));
      if (starts) {
        this.copyStage = 1;
        this.copyDepth = this.depth;
        this.copyWords = 0;
        this.copyPrevWord = false;
        this.copyBinary = false;
        this.copyInDq = false;
      }
    }
  }

  /**
   * What would let the restored copy reach another server (docs/jail.md › Egress): naming
   * `restrict_nonsystem_relation_kind` (the sandbox sets it to keep every statement off foreign tables; a `SET` or
   * `set_config` could lift it for a session), `ALTER SUBSCRIPTION name ENABLE | REFRESH | CONNECTION` (also inside
   * literals: dynamic SQL) and a `CREATE SUBSCRIPTION` without `connect = false` (reported at the statement's end):
   * pg_dump writes subscriptions with `connect = false` and never enables one. None is ever in pg_dump's output.
   */
  private egressRule(t: number, v: string, line: number): void {
    if ((t === T_WORD || t === T_QIDENT) && v.toLowerCase() === 'restrict_nonsystem_relation_kind') {
      this.report('other', 'restrict_nonsystem_relation_kind is set by the sandbox to keep the restore off foreign servers; a dump may not change it', line);
    }
    if (this.tier === 'sql' && t === T_WORD && v === 'subscription' && this.index === 1 && this.t1 === T_WORD && this.v1 === 'create') this.subscription = line;
    if (this.subscription !== null && t === T_WORD && v === 'false' && this.t1 === T_PUNCT && this.v1 === '=' && this.t2 === T_WORD && this.v2 === 'connect') this.subscriptionOffline = true;
    if (t === T_WORD && (v === 'enable' || v === 'refresh' || v === 'connection') &&
      this.t2 === T_WORD && this.v2 === 'subscription' && this.t3 === T_WORD && this.v3 === 'alter') {
      this.report('other', `ALTER SUBSCRIPTION … ${v.toUpperCase()} makes the restored copy connect to the publisher`, line);
    }
  }

  /** `name(` for a listed function, unless it is a signature (GRANT … ON FUNCTION pg_read_file(text), ALTER FUNCTION …). */
  private functionRule(name: string, line: number): void {
    const kind: FindingKind | null = SERVER_FILE_FUNCTIONS.has(name) ? 'server-file' : OTHER_FUNCTIONS.has(name) ? 'other' : null;
    if (!kind) return;
    // t1 is the name; look before an optional `schema.`
    let bt = this.t2, bv = this.v2;
    if (bt === T_PUNCT && bv === '.') { bt = this.t4; bv = this.v4; }
    if (bt === T_WORD && SIGNATURE_WORDS.has(bv)) return;
    this.report(kind, `call of ${name}()`, line);
  }

  private literalOnlyRules(t: number, v: string, line: number): void {
    // LANGUAGE c / 'c' inside a body: a function created by dynamic SQL.
    if (t === T_WORD && isUntrustedLanguage(v) &&
      ((this.t1 === T_WORD && this.v1 === 'language') || (this.t1 === T_PUNCT && this.v1 === "'" && this.t2 === T_WORD && this.v2 === 'language'))) {
      this.report('untrusted-function', `dynamic SQL creates a function in LANGUAGE ${v}`, line);
    }
    if (t === T_PUNCT && v === "'" && this.t1 === T_WORD && this.v1 === 'load') {
      this.report('other', 'LOAD of a shared library from dynamic SQL', line);
    }
  }
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/**
 * Splits literal text into words and punctuation for a 'literal' matcher, decoding E'' and U&'' escapes first so
 * that `E'\x43OPY … PROGRAM'` reads as COPY. Keeps only the word being read (at most 64 characters).
 */
export class LiteralWordTokenizer {
  private word = '';
  private wordLine = 0;
  private esc = 0; // 0 none, 1 after backslash, 2 collecting hex/octal/unicode digits
  private escDigits = '';
  private escBase = 16;
  private escMax = 0;
  private nestedE = false;

  constructor(private readonly matcher: HostilePatternMatcher) {}

  /**
   * Feeds text from a literal in the given escape mode. Inside a plain (dollar-quoted) body, a nested `E'…'`
   * literal is decoded too, so `EXECUTE E'\\x43OPY …'` in a function body reads as COPY.
   */
  push(text: string, mode: 'plain' | 'escape' | 'unicode', line: number): void {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      const esc = mode !== 'plain' ? mode : this.nestedE ? 'escape' : null;
      if (this.esc === 2) {
        const ok = this.escBase === 16 ? isHex(c) : c >= 48 && c <= 55;
        if (ok && this.escDigits.length < this.escMax) {
          this.escDigits += text[i];
          if (this.escDigits.length === this.escMax) this.flushEscape(line);
          continue;
        }
        this.flushEscape(line); // not part of the escape: fall through and read it normally
      }
      if (this.esc === 1) {
        this.esc = 0;
        if (esc === 'unicode') {
          if (c === 92) { this.char(92, line); continue; }
          this.startDigits(c === 43 ? 6 : 4, 16);
          if (c !== 43) i--; // the first hex digit is part of the number
          continue;
        }
        if (c === 120) { this.startDigits(2, 16); continue; } // \xHH
        if (c === 117) { this.startDigits(4, 16); continue; } // \uXXXX
        if (c === 85) { this.startDigits(8, 16); continue; } // \UXXXXXXXX
        if (c >= 48 && c <= 55) { this.startDigits(3, 8); i--; continue; } // \ooo
        this.char(c === 110 ? 10 : c === 116 ? 9 : c === 114 ? 13 : c === 98 ? 8 : c === 102 ? 12 : c, line);
        continue;
      }
      if (c === 92 && esc !== null) {
        this.esc = 1;
        continue;
      }
      if (c === 39 && mode === 'plain') {
        if (this.nestedE) this.nestedE = false;
        else if (this.word === 'e') this.nestedE = true; // E' directly after a non-word character
      }
      this.char(c, line);
    }
  }

  /** Ends the statement: the last word is complete. */
  flush(line: number): void {
    if (this.esc === 2) this.flushEscape(line);
    this.esc = 0;
    this.nestedE = false;
    this.endWord();
  }

  private startDigits(max: number, base: number): void {
    this.esc = 2;
    this.escDigits = '';
    this.escMax = max;
    this.escBase = base;
  }

  private flushEscape(line: number): void {
    this.esc = 0;
    if (this.escDigits.length === 0) return;
    const cp = parseInt(this.escDigits, this.escBase);
    this.escDigits = '';
    if (cp <= 0x10ffff) {
      const s = String.fromCodePoint(cp);
      for (let k = 0; k < s.length; k++) this.char(s.charCodeAt(k), line);
    }
  }

  private char(c: number, line: number): void {
    const wordChar = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c >= 128;
    if (wordChar) {
      if (this.word.length === 0) this.wordLine = line;
      if (this.word.length < 64) this.word += String.fromCharCode(c >= 65 && c <= 90 ? c + 32 : c);
      return;
    }
    this.endWord();
    if (c === 32 || c === 9 || c === 10 || c === 13 || c === 12) return;
    this.matcher.push(T_PUNCT, String.fromCharCode(c), line);
  }

  private endWord(): void {
    if (this.word.length === 0) return;
    const w = this.word;
    this.word = '';
    this.matcher.push(T_WORD, w, this.wordLine);
  }
}
