/**
 * A re-implementation of psql's input lexer (src/fe_utils/psqlscan.l, PostgreSQL 15-18) for one question:
 * where does psql see a backslash command, and where does it cut statements? A dump is only safe to replay if
 * this lexer and psql agree on every byte, so the rules below follow psqlscan.l exactly where that matters
 * (quotes, comments, dollar quotes, parentheses, the CREATE FUNCTION … BEGIN heuristic, psql variables) and
 * report an *anomaly* wherever psql versions or settings could read the text differently.
 *
 * Two facts about psql shape the design:
 * - psql reads its input line by line (split on `\n` only) and feeds each line to the lexer *without* the
 *   newline; state such as "inside a string" carries over, but every token, `--`, `/*`, `$tag$` or `''` is
 *   cut at the line end. `\r` is an ordinary newline *inside* a line for the lexer (it ends `--` comments).
 * - `standard_conforming_strings` and the client encoding are sampled once per line (psql_scan_setup), so
 *   a `SET` takes effect from the next line.
 *
 * The lexer sees decoded text (in the dump's encoding; SQL_ASCII's bytes that are not UTF-8 as U+DC80–U+DCFF): every
 * ASCII byte stays itself, and every non-ASCII code unit is >= 0x80, which psqlscan.l treats alike as identifier characters. Encodings in which a
 * multibyte character can contain ASCII bytes (SJIS, BIG5, GBK, …) are refused by the statement analyzer.
 */

/** Kinds of tokens psql's lexer recognises outside quotes and comments. */
export type TokenKind = 'ident' | 'qident' | 'string' | 'number' | 'param' | 'punct' | 'var';

/** How the text of a quoted literal must be decoded: as is, with C-style (`E''`) or with Unicode (`U&''`) escapes. */
export type LiteralMode = 'plain' | 'escape' | 'unicode';

/** What psql believes `standard_conforming_strings` is; 'unknown' until the dump sets it (the server default applies). */
export type StdStrings = 'on' | 'off' | 'unknown';

/** Receives what the lexer finds, in input order. */
export interface LexerSink {
  /** A token at the top level (outside quotes and comments). Quoted values are unquoted; long values are cut. */
  token(kind: TokenKind, value: string, line: number): void;
  /** psql would send the query buffer here (a `;` outside parentheses and BEGIN … END). */
  statementEnd(line: number): void;
  /** A backslash command: `text` runs from the backslash to the end of the line. `wholeLine`: it starts the line. */
  metaCommand(text: string, line: number, wholeLine: boolean): void;
  /** Text inside a quoted or dollar-quoted literal, in pieces, for patterns hidden in function bodies. */
  literalText(text: string, mode: LiteralMode, line: number): void;
  /** Something psql versions or settings could read differently, or that psql mangles (NUL bytes). */
  anomaly(reason: string, line: number): void;
}

// Lexer states (psqlscan.l start conditions, plus our own for comments and meta-commands).
const S_INITIAL = 0;
const S_LINE_COMMENT = 1;
const S_XC = 2; // /* */ comment, nested
const S_STR = 3; // any single-quoted literal; strKind says which
const S_XQS = 4; // after a closing quote: is the string continued?
const S_XD = 5; // "quoted identifier" (also U&"…")
const S_DOLQ = 6; // $tag$ … $tag$
const S_META = 7; // backslash command, to end of line

// Single-quoted literal kinds.
const K_XQ = 0; // standard string: backslash is a plain character
const K_XE = 1; // E'' (or any '' with standard_conforming_strings off): backslash escapes
const K_XB = 2; // B''
const K_XH = 3; // X''
const K_XUS = 4; // U&''

// Pending constructs in INITIAL that need one more character to decide.
const P_NONE = 0;
const P_DASH = 1;
const P_SLASH = 2;
const P_DOT = 3;
const P_BACKSLASH = 4;
const P_COLON = 5;
const P_COLONVAR = 6;
const P_UAMP = 7;

// Number sub-states.
const N_NONE = 0;
const N_INT = 1;
const N_INT_DOT = 2;
const N_FRAC = 3;
const N_EXP = 4;
const N_EXP_SIGN = 5;
const N_EXP_DIG = 6;

// psql variable reference forms (:name, :'name', :"name", :{?name}).
const CM_PLAIN = 0;
const CM_SQ = 1;
const CM_DQ = 2;
const CM_TEST = 3;

/** Values longer than this are cut: keywords, role names and language names are all far shorter. */
const MAX_VALUE = 1024;
/** A backslash command's text is kept up to here; the allowed ones are far shorter. */
const MAX_META = 1024;

/**
 * Variables psql defines itself (or that pgdrill passes with -v). A reference like `:VERSION` outside quotes is
 * replaced by psql with the variable's value, which is then lexed: `:LAST_ERROR_MESSAGE` would inject text
 * the server chose (and an attacker can shape), so pg_dump-foreign references to these are reported.
 */
const PSQL_VARIABLES = new Set([
  'AUTOCOMMIT', 'COMP_KEYWORD_CASE', 'DBNAME', 'ECHO', 'ECHO_HIDDEN', 'ENCODING', 'ERROR', 'FETCH_COUNT',
  'HIDE_TABLEAM', 'HIDE_TOAST_COMPRESSION', 'HISTCONTROL', 'HISTFILE', 'HISTSIZE', 'HOST', 'IGNOREEOF', 'LASTOID',
  'LAST_ERROR_MESSAGE', 'LAST_ERROR_SQLSTATE', 'ON_ERROR_ROLLBACK', 'ON_ERROR_STOP', 'PORT', 'PROMPT1', 'PROMPT2',
  'PROMPT3', 'QUIET', 'ROW_COUNT', 'SERVER_VERSION_NAME', 'SERVER_VERSION_NUM', 'SHELL_ERROR', 'SHELL_EXIT_CODE',
  'SHOW_ALL_RESULTS', 'SHOW_CONTEXT', 'SINGLELINE', 'SINGLESTEP', 'SQLSTATE', 'USER', 'VERBOSITY', 'VERSION',
  'VERSION_NAME', 'VERSION_NUM', 'WATCH_INTERVAL',
]);

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
/** ident_start / dolq_start: [A-Za-z\200-\377_] */
function isIdentStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c >= 128;
}
/** dolq_cont / variable_char: [A-Za-z\200-\377_0-9] */
function isDolqCont(c: number): boolean {
  return isIdentStart(c) || isDigit(c);
}
/** ident_cont: dolq_cont plus `$` */
function isIdentCont(c: number): boolean {
  return isDolqCont(c) || c === 36;
}

/** ASCII-only lower case, as pg_strcasecmp and the server's identifier folding do for UTF-8. */
export function asciiLower(s: string): string {
  let upper = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128) return s.replace(/[A-Z]+/g, (m) => m.toLowerCase()); // leave non-ASCII letters alone
    if (c >= 65 && c <= 90) upper = true;
  }
  return upper ? s.toLowerCase() : s;
}

/** Decodes the body of an E'' literal (escapes only; the quotes are already resolved). */
export function decodeEscapeString(raw: string): string {
  return raw.replace(/\\(x[0-9A-Fa-f]{1,2}|[0-7]{1,3}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|[\s\S])/g, (_m, e: string) => {
    // `\x`, `\u`, `\U` without their hex digits: the letter itself (PostgreSQL reads a lone `\x` so and rejects the others);
    // never NaN, which made String.fromCodePoint throw on a hostile dump.
    if (e.length === 1 && (e === 'x' || e === 'u' || e === 'U')) return e;
    switch (e[0]) {
      case 'x': return String.fromCharCode(parseInt(e.slice(1), 16));
      case 'u': case 'U': return String.fromCodePoint(Math.min(parseInt(e.slice(1), 16), 0x10ffff));
      case 'b': return '\b';
      case 'f': return '\f';
      case 'n': return '\n';
      case 'r': return '\r';
      case 't': return '\t';
      default: return /^[0-7]/.test(e) ? String.fromCharCode(parseInt(e, 8) & 0xff) : e;
    }
  });
}

/** Decodes the body of a U&'' literal or U&"" identifier with the default escape character. */
export function decodeUnicodeString(raw: string): string {
  return raw.replace(/\\(\\|[0-9A-Fa-f]{4}|\+[0-9A-Fa-f]{6})/g, (_m, e: string) =>
    e === '\\' ? '\\' : String.fromCodePoint(Math.min(parseInt(e.replace('+', ''), 16), 0x10ffff)));
}

/**
 * The incremental lexer. Feed it the decoded text of one line in any number of pieces, then call `endLine()`;
 * it keeps only the state psql keeps plus the current token (bounded by MAX_VALUE).
 */
export class PsqlLexer {
  private state = S_INITIAL;
  private line = 1;
  private atCol0 = false;
  private lineCol = 0;
  private stateAtLineStart = S_INITIAL;
  private nulReported = false;

  private std: StdStrings = 'unknown';
  private nextStd: StdStrings | null = null;

  // psqlscan.l's own state
  private parenDepth = 0;
  private beginDepth = 0;
  private identCount = 0;
  private identifiers = ['', '', '', ''];
  private xcDepth = 0;
  private xcPend = 0;

  // INITIAL pendings
  private pend = P_NONE;
  private bsAtCol0 = false;
  private ident: string | null = null;
  private num = N_NONE;
  private numText = '';
  /** The exponent's letter (`e` or `E`) while the number is N_EXP. */
  private expLetter = '';
  /** The identifier being read continues a number (`1e$a$`, `1b`): never a string prefix (`1b'…'` is no B''). */
  private identJunk = false;
  private dolInit: string | null = null;
  private inParam = false;
  private colonMode = CM_PLAIN;
  private colonName = '';

  // literals
  private strKind = K_XQ;
  private strAmbiguous = false;
  private strRaw = '';
  private strLine = 0;
  private strQuotePending = false;
  private escPending = false;
  private bsRun = 0;
  private xqsPhase = 0; // 0 nothing seen, 1 blanks before a newline, 2 after a newline
  private xqsComment = false;
  private xqsDash = false;
  private xqsNewline = false; // the closing quote ended a line: the server saw a newline here
  private xdQuotePending = false;
  private xdUnicode = false;
  private dolTag = '';
  private dolCand: string | null = null;

  // server-side string continuation ('a'<newline>'b'), which psql does not see across lines
  private contKind = -1;
  private contNewline = false;

  private metaText = '';
  private metaWhole = false;

  constructor(private readonly sink: LexerSink) {}

  /** 1-based number of the line being fed. */
  get currentLine(): number {
    return this.line;
  }

  /** True when no statement text is pending and the lexer is outside quotes and comments. */
  get idle(): boolean {
    return (this.state === S_INITIAL || this.state === S_XQS) && this.parenDepth === 0 && this.beginDepth === 0;
  }

  /** True when the lexer is inside a literal, quoted identifier or block comment. */
  get insideQuote(): boolean {
    return this.state === S_STR || this.state === S_XD || this.state === S_DOLQ || this.state === S_XC;
  }

  /** True when the current line began at the top level (not inside a literal or comment): headers count only there. */
  get lineStartedAtTop(): boolean {
    return this.stateAtLineStart === S_INITIAL || this.stateAtLineStart === S_XQS;
  }

  /** Sets psql's idea of standard_conforming_strings from the next line on (psql samples it per line). */
  setStdStringsFromNextLine(value: StdStrings): void {
    this.nextStd = value;
  }

  /** Starts line `line` (1-based). */
  beginLine(line: number): void {
    this.line = line;
    this.lineCol = 0;
    this.nulReported = false;
    this.stateAtLineStart = this.state;
  }

  /** Feeds a piece of the current line (never containing `\n`). */
  feed(text: string): void {
    const n = text.length;
    if (n === 0) return;
    if (!this.nulReported && text.indexOf('\u0000') !== -1) {
      this.nulReported = true;
      // psql reads lines with fgets() and strlen(): a NUL silently drops the rest of the line and glues the next
      // line on, so psql and any other reader disagree about where lines, quotes and COPY data end.
      this.sink.anomaly('NUL byte: psql drops the rest of the line and joins the next one to it', this.line);
    }
    const startCol = this.lineCol;
    this.lineCol += n;
    let i = 0;
    while (i < n) {
      switch (this.state) {
        case S_INITIAL:
          if (this.ident !== null) {
            // fast path: the rest of an identifier
            let j = i;
            while (j < n && isIdentCont(text.charCodeAt(j))) j++;
            if (j > i) {
              if (this.ident.length < MAX_VALUE) this.ident += text.slice(i, Math.min(j, i + MAX_VALUE - this.ident.length));
              i = j;
              break;
            }
          }
          if (text.charCodeAt(i) === 32 && this.pend === P_NONE && this.ident === null && this.num === N_NONE &&
            !this.inParam && this.dolInit === null) {
            i++; // fast path: a blank between tokens
            break;
          }
          this.atCol0 = startCol + i === 0;
          this.stepInitial(text.charCodeAt(i));
          this.atCol0 = false;
          i++;
          break;
        case S_LINE_COMMENT: {
          const r = text.indexOf('\r', i);
          if (r === -1) {
            i = n;
          } else {
            this.state = S_INITIAL;
            this.contNewline = true;
            i = r + 1;
          }
          break;
        }
        case S_STR:
          i = this.runString(text, i);
          break;
        case S_XD:
          i = this.runXd(text, i);
          break;
        case S_DOLQ:
          i = this.runDollar(text, i);
          break;
        case S_META: {
          if (this.metaText.length < MAX_META) this.metaText += text.slice(i, i + MAX_META - this.metaText.length);
          i = n;
          break;
        }
        default:
          this.step(text.charCodeAt(i));
          i++;
      }
    }
  }

  /** Ends the current line: psql's lexer reaches the end of its buffer here. */
  endLine(): void {
    this.resolveAtLineEnd();
    if (this.nextStd !== null) {
      this.std = this.nextStd;
      this.nextStd = null;
    }
  }

  /** Ends the input (after the last `endLine()`): flushes a string whose continuation was still open. */
  endInput(): void {
    if (this.state === S_XQS) this.failXqs();
  }

  // ---------------------------------------------------------------------------------------------------------
  // dispatch

  /** One character in whatever state (used for pushed-back characters and the rare states). */
  private step(c: number): void {
    switch (this.state) {
      case S_INITIAL:
        this.stepInitial(c);
        return;
      case S_LINE_COMMENT:
        if (c === 13) {
          this.state = S_INITIAL;
          this.contNewline = true;
        }
        return;
      case S_XC:
        this.stepXc(c);
        return;
      case S_XQS:
        this.stepXqs(c);
        return;
      case S_META:
        if (this.metaText.length < MAX_META) this.metaText += String.fromCharCode(c);
        return;
      default: {
        const s = String.fromCharCode(c);
        const used = this.state === S_STR ? this.runString(s, 0) : this.state === S_XD ? this.runXd(s, 0) : this.runDollar(s, 0);
        if (used === 0) this.step(c); // the literal ended before this character: it belongs to the next state
      }
    }
  }

  private refeed(s: string): void {
    for (let k = 0; k < s.length; k++) this.step(s.charCodeAt(k));
  }

  private emit(kind: TokenKind, value: string): void {
    this.contKind = -1;
    this.sink.token(kind, value, this.line);
  }

  // ---------------------------------------------------------------------------------------------------------
  // INITIAL

  private stepInitial(c: number): void {
    if (this.ident !== null) {
      if (isIdentCont(c)) {
        if (this.ident.length < MAX_VALUE) this.ident += String.fromCharCode(c);
        return;
      }
      if (this.resolveIdent(c)) return;
    }
    if (this.num !== N_NONE && this.stepNumber(c)) return;
    if (this.inParam) {
      if (isDigit(c)) return;
      this.inParam = false;
      // psql 15.18 (measured) and 16+ lex `$1abc` as one junk token, older psql as a parameter and an identifier.
      const glued = isIdentStart(c);
      if (glued) this.sink.anomaly('parameter immediately followed by a name ($1abc): psql versions split it differently', this.line);
      this.emit('param', '$');
      if (glued) {
        // The name is part of the junk token: `$1b'…'` is a plain literal, not B'…'.
        this.ident = String.fromCharCode(c);
        this.identJunk = true;
        return;
      }
    }
    if (this.dolInit !== null && this.stepDollarStart(c)) return;
    if (this.pend !== P_NONE && this.stepPending(c)) return;
    this.startToken(c);
  }

  private startToken(c: number): void {
    switch (c) {
      case 32: case 9: case 12: // space, tab, form feed
        return;
      case 13: // \r: a newline for the lexer
        this.contNewline = true;
        return;
      case 45: this.pend = P_DASH; return; // -
      case 47: this.pend = P_SLASH; return; // /
      case 46: this.pend = P_DOT; return; // .
      case 58: this.pend = P_COLON; return; // :
      case 92: // backslash
        this.pend = P_BACKSLASH;
        this.bsAtCol0 = this.atCol0 && this.stateAtLineStart === S_INITIAL;
        return;
      case 39: this.startQuote(-1); return; // '
      case 34: this.startXd(false); return; // "
      case 36: this.dolInit = ''; return; // $
      case 40: // (
        this.parenDepth++;
        this.emit('punct', '(');
        return;
      case 41: // )
        if (this.parenDepth > 0) this.parenDepth--;
        this.emit('punct', ')');
        return;
      case 59: // ;
        this.emit('punct', ';');
        if (this.parenDepth === 0 && this.beginDepth === 0) {
          this.identCount = 0;
          this.sink.statementEnd(this.line);
        }
        return;
      default:
        if (isDigit(c)) {
          this.num = N_INT;
          this.numText = String.fromCharCode(c);
        } else if (isIdentStart(c)) {
          this.ident = String.fromCharCode(c);
        } else {
          this.emit('punct', String.fromCharCode(c));
        }
    }
  }

  /** The identifier ended before `c`; returns true if `c` was consumed (as a string prefix's quote, or `&`). */
  private resolveIdent(c: number): boolean {
    const id = this.ident!;
    this.ident = null;
    const junk = this.identJunk;
    this.identJunk = false;
    if (id.length === 1 && !junk) {
      if (c === 39) {
        // xestart / xbstart / xhstart / xnstart: flex prefers the two-character match over the identifier.
        switch (id) {
          case 'e': case 'E': this.startQuote(K_XE); return true;
          case 'b': case 'B': this.startQuote(K_XB); return true;
          case 'x': case 'X': this.startQuote(K_XH); return true;
          case 'n': case 'N': this.startQuote(-1); return true;
        }
      }
      if ((id === 'u' || id === 'U') && c === 38) {
        this.pend = P_UAMP;
        return true;
      }
    }
    this.finishIdent(id);
    return false;
  }

  /** psqlscan.l's {identifier} rule, including the BEGIN … END tracking for CREATE FUNCTION/PROCEDURE bodies. */
  private finishIdent(id: string): void {
    if (this.identCount === 0) this.identifiers = ['', '', '', ''];
    const lower = id.length <= 9 ? asciiLower(id) : '';
    if (lower === 'create' || lower === 'function' || lower === 'procedure' || lower === 'or' || lower === 'replace') {
      if (this.identCount < 4) this.identifiers[this.identCount] = lower.charAt(0);
    }
    this.identCount++;
    const ids = this.identifiers;
    if (ids[0] === 'c' && (ids[1] === 'f' || ids[1] === 'p' || (ids[1] === 'o' && ids[2] === 'r' && (ids[3] === 'f' || ids[3] === 'p'))) &&
      this.parenDepth === 0) {
      if (lower === 'begin') this.beginDepth++;
      else if (lower === 'case') {
        if (this.beginDepth >= 1) this.beginDepth++;
      } else if (lower === 'end') {
        if (this.beginDepth > 0) this.beginDepth--;
      }
    }
    this.emit('ident', id);
  }

  /** Numbers: digits, `.digits`, exponent. Returns true if `c` belongs to the number. */
  private stepNumber(c: number): boolean {
    switch (this.num) {
      case N_INT:
        if (isDigit(c)) { this.numText += String.fromCharCode(c); return true; }
        if (c === 46) { this.num = N_INT_DOT; return true; }
        if (c === 101 || c === 69) { this.num = N_EXP; this.expLetter = String.fromCharCode(c); return true; }
        break;
      case N_INT_DOT:
        if (c === 46) {
          // {decimalfail}: `1..10` is 1, .., 10
          this.num = N_NONE;
          this.emit('number', this.numText);
          this.emit('punct', '.');
          return false;
        }
        this.numText += '.';
        if (isDigit(c)) { this.num = N_FRAC; this.numText += String.fromCharCode(c); return true; }
        if (c === 101 || c === 69) { this.num = N_EXP; this.expLetter = String.fromCharCode(c); return true; }
        break;
      case N_FRAC:
        if (isDigit(c)) { this.numText += String.fromCharCode(c); return true; }
        if (c === 101 || c === 69) { this.num = N_EXP; this.expLetter = String.fromCharCode(c); return true; }
        break;
      case N_EXP:
        if (isDigit(c)) { this.num = N_EXP_DIG; return true; }
        if (c === 43 || c === 45) { this.num = N_EXP_SIGN; return true; }
        this.endNumber(c, true);
        // psql (15.18, measured by test/psql/differential) reads one junk token, the number and the name glued to
        // it: `1e$a$` opens no dollar quote, `1e'…'` is a plain literal (no E''), `1e-x` is `1e-` and `x`.
        this.ident = this.expLetter;
        this.identJunk = true;
        this.stepInitial(c);
        return true;
      case N_EXP_SIGN:
        if (isDigit(c)) { this.num = N_EXP_DIG; return true; }
        return this.endNumber(c, true);
      case N_EXP_DIG:
        if (isDigit(c)) return true;
        break;
    }
    return this.endNumber(c, false);
  }

  private endNumber(c: number, incompleteExponent: boolean): boolean {
    this.num = N_NONE;
    // psql 15.18 (measured, test/psql/differential) and 16+ read `1e'x'`, `1abc`, `0x1F`, `1_000` as one junk
    // token, a number with a name glued to it; older psql split them into a number and a name (or an E'' string).
    // The versions disagree about strings and identifier counts: an anomaly.
    const glued = c >= 0 && isIdentStart(c);
    if (incompleteExponent || glued) {
      this.sink.anomaly('number immediately followed by letters (1e\'…\', 0x1F, 1_000, 1abc): psql versions lex it differently', this.line);
    }
    this.emit('number', this.numText);
    if (!glued || incompleteExponent) return false;
    // The name glued to the number belongs to the same junk token: `1b'…'` is a plain literal, not B'…'.
    this.ident = String.fromCharCode(c);
    this.identJunk = true;
    return true;
  }

  /** After `$` in INITIAL: a parameter `$1`, a dollar quote `$tag$`, or a lone `$`. */
  private stepDollarStart(c: number): boolean {
    const tag = this.dolInit!;
    if (tag === '' && isDigit(c)) {
      this.dolInit = null;
      this.inParam = true;
      return true;
    }
    if (c === 36) {
      this.dolInit = null;
      this.dolTag = tag;
      this.dolCand = null;
      this.state = S_DOLQ;
      this.strRaw = '';
      this.strLine = this.line;
      this.contKind = -1;
      return true;
    }
    if (tag === '' ? isIdentStart(c) : isDolqCont(c)) {
      if (tag.length < MAX_VALUE) this.dolInit = tag + String.fromCharCode(c);
      return true;
    }
    // {dolqfailed}: the `$` stands alone and the tag is rescanned as an identifier.
    this.dolInit = null;
    this.emit('punct', '$');
    if (tag.length > 0) {
      this.ident = tag;
      this.stepInitial(c);
      return true;
    }
    return false;
  }

  private stepPending(c: number): boolean {
    const p = this.pend;
    this.pend = P_NONE;
    switch (p) {
      case P_DASH:
        if (c === 45) { this.state = S_LINE_COMMENT; return true; }
        this.emit('punct', '-');
        return false;
      case P_SLASH:
        if (c === 42) { this.state = S_XC; this.xcDepth = 0; this.xcPend = 0; return true; }
        this.emit('punct', '/');
        return false;
      case P_DOT:
        if (isDigit(c)) { this.num = N_FRAC; this.numText = '.' + String.fromCharCode(c); return true; }
        this.emit('punct', '.');
        return false;
      case P_BACKSLASH:
        if (c === 59 || c === 58) {
          // "\\"[;:] puts a literal ; or : into the query buffer; \; joins statements into one query string.
          this.contKind = -1;
          if (c === 59) this.identCount = 0;
          this.sink.metaCommand(c === 59 ? '\\;' : '\\:', this.line, false);
          return true;
        }
        this.state = S_META;
        this.metaText = '\\' + String.fromCharCode(c);
        this.metaWhole = this.bsAtCol0;
        return true;
      case P_UAMP:
        if (c === 39) { this.startQuote(K_XUS); return true; }
        if (c === 34) { this.startXd(true); return true; }
        // {xufailed}: `u` is echoed without counting as an identifier, then `&` is rescanned.
        this.emit('punct', 'u');
        this.emit('punct', '&');
        return false;
      case P_COLON:
        if (c === 58) { this.emit('punct', '::'); return true; }
        if (c === 61) { this.emit('punct', ':='); return true; }
        if (isDolqCont(c)) { this.colonMode = CM_PLAIN; this.colonName = String.fromCharCode(c); this.pend = P_COLONVAR; return true; }
        if (c === 39) { this.colonMode = CM_SQ; this.colonName = ''; this.pend = P_COLONVAR; return true; }
        if (c === 34) { this.colonMode = CM_DQ; this.colonName = ''; this.pend = P_COLONVAR; return true; }
        if (c === 123) { this.colonMode = CM_TEST; this.colonName = ''; this.pend = P_COLONVAR; return true; }
        this.emit('punct', ':');
        return false;
      case P_COLONVAR:
        return this.stepColonVar(c);
    }
    return false;
  }

  /** psql variable references. Failed forms throw back everything after the colon, as psqlscan.l does. */
  private stepColonVar(c: number): boolean {
    const name = this.colonName;
    switch (this.colonMode) {
      case CM_PLAIN:
        if (isDolqCont(c)) { if (this.colonName.length < MAX_VALUE) this.colonName += String.fromCharCode(c); this.pend = P_COLONVAR; return true; }
        this.variable(name, false);
        return false;
      case CM_SQ:
      case CM_DQ: {
        const closer = this.colonMode === CM_SQ ? 39 : 34;
        if (isDolqCont(c)) { if (this.colonName.length < MAX_VALUE) this.colonName += String.fromCharCode(c); this.pend = P_COLONVAR; return true; }
        if (c === closer && name.length > 0) { this.variable(name, true); return true; }
        this.emit('punct', ':');
        this.refeed(String.fromCharCode(closer) + name + String.fromCharCode(c));
        return true;
      }
      default: {
        // :{?name}
        if (name === '' ) {
          if (c === 63) { this.colonName = '?'; this.pend = P_COLONVAR; return true; }
        } else if (isDolqCont(c)) {
          if (this.colonName.length < MAX_VALUE) this.colonName += String.fromCharCode(c); this.pend = P_COLONVAR; return true;
        } else if (c === 125 && name.length > 1) {
          this.emit('var', name);
          return true;
        }
        this.emit('punct', ':');
        this.refeed('{' + name + String.fromCharCode(c));
        return true;
      }
    }
  }

  private variable(name: string, quoted: boolean): void {
    this.emit('var', name);
    if (quoted || PSQL_VARIABLES.has(name)) {
      this.sink.anomaly(`psql variable interpolation :${quoted ? "'…'" : name}: psql substitutes text here`, this.line);
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // literals

  /** Starts a single-quoted literal; kind -1 is a plain `'`, which follows standard_conforming_strings. */
  private startQuote(kind: number): void {
    let ambiguous = false;
    if (kind === -1) {
      kind = this.std === 'off' ? K_XE : K_XQ;
      ambiguous = this.std === 'unknown';
      // The server continues 'a'<newline>'b' as one literal in the first literal's kind; psql sees two literals
      // (it never sees the newline) and gives the second the current kind. If backslash rules differ, the
      // server's idea of where the literal ends differs from psql's.
      if (this.contKind >= 0 && this.contNewline && (this.contKind === K_XE) !== (kind === K_XE)) {
        this.sink.anomaly('string literal continued on the next line with different backslash rules: psql and the server disagree where it ends', this.line);
      }
    }
    this.contKind = -1;
    this.state = S_STR;
    this.strKind = kind;
    this.strAmbiguous = ambiguous;
    this.strRaw = '';
    this.strLine = this.line;
    this.strQuotePending = false;
    this.escPending = false;
    this.bsRun = 0;
  }

  private literalMode(): LiteralMode {
    return this.strKind === K_XE ? 'escape' : this.strKind === K_XUS ? 'unicode' : 'plain';
  }

  private literal(text: string): void {
    if (text.length === 0) return;
    if (this.strRaw.length < MAX_VALUE) this.strRaw += text.slice(0, MAX_VALUE - this.strRaw.length);
    this.sink.literalText(text, this.state === S_DOLQ ? 'plain' : this.literalMode(), this.line);
  }

  /** Consumes string content from `text[i]`; returns the next index. */
  private runString(text: string, i: number): number {
    const n = text.length;
    if (this.strQuotePending) {
      this.strQuotePending = false;
      if (text.charCodeAt(i) === 39) {
        // xqdouble: '' is an embedded quote
        this.quoteInString();
        this.literal("'");
        return i + 1;
      }
      this.state = S_XQS;
      this.xqsPhase = 0;
      this.xqsComment = false;
      this.xqsDash = false;
      this.xqsNewline = false;
      return i; // the character is examined by the xqs state
    }
    if (this.escPending) {
      this.escPending = false;
      this.literal('\\' + text[i]);
      return i + 1;
    }
    const xe = this.strKind === K_XE;
    let q = text.indexOf("'", i);
    let b = xe ? text.indexOf('\\', i) : -1;
    if (q === -1) q = n;
    if (b === -1) b = n;
    const stop = q < b ? q : b;
    if (stop > i) {
      const chunk = text.slice(i, stop);
      if (this.strAmbiguous) this.trackBackslashes(chunk);
      this.literal(chunk);
    }
    if (stop === n) return n;
    if (stop === b) {
      this.escPending = true;
      return stop + 1;
    }
    this.quoteInString();
    this.strQuotePending = true;
    return stop + 1;
  }

  /** With standard_conforming_strings unknown, a quote after an odd run of backslashes ends the literal only if it is on. */
  private trackBackslashes(chunk: string): void {
    let k = chunk.length - 1;
    while (k >= 0 && chunk.charCodeAt(k) === 92) k--;
    const trailing = chunk.length - 1 - k;
    this.bsRun = k < 0 ? this.bsRun + trailing : trailing;
  }

  private quoteInString(): void {
    if (this.strAmbiguous && this.bsRun % 2 === 1) {
      this.sink.anomaly('backslash before a quote while standard_conforming_strings is not yet known: psql reads this literal differently if it is off', this.line);
      this.strAmbiguous = false;
    }
    this.bsRun = 0;
  }

  /** After a closing quote: whitespace with a newline and another quote continue the literal (quotecontinue). */
  private stepXqs(c: number): void {
    if (this.xqsComment) {
      if (c === 13) { this.xqsComment = false; this.xqsPhase = 2; }
      return;
    }
    if (this.xqsDash) {
      this.xqsDash = false;
      if (c === 45) { this.xqsComment = true; if (this.xqsPhase === 0) this.xqsPhase = 1; return; }
      this.failXqs();
      this.emit('punct', '-');
      this.stepInitial(c);
      return;
    }
    switch (c) {
      case 32: case 9: case 12:
        if (this.xqsPhase === 0) this.xqsPhase = 1;
        return;
      case 13:
        this.xqsPhase = 2;
        return;
      case 45:
        this.xqsDash = true;
        return;
      case 39:
        if (this.xqsPhase === 2) {
          this.state = S_STR; // same kind as before: the literal goes on
          this.bsRun = 0;
          return;
        }
    }
    this.failXqs();
    this.stepInitial(c);
  }

  /** The literal is over: report it as a token and go back to INITIAL. */
  private failXqs(): void {
    this.state = S_INITIAL;
    const kind = this.strKind;
    const raw = this.strRaw;
    const value = kind === K_XE ? decodeEscapeString(raw) : kind === K_XUS ? decodeUnicodeString(raw) : raw;
    this.sink.token('string', value, this.strLine);
    this.contKind = kind;
    this.contNewline = this.xqsPhase === 2 || this.xqsNewline;
  }

  private startXd(unicode: boolean): void {
    this.contKind = -1;
    this.state = S_XD;
    this.xdUnicode = unicode;
    this.xdQuotePending = false;
    this.strRaw = '';
    this.strLine = this.line;
  }

  private runXd(text: string, i: number): number {
    if (this.xdQuotePending) {
      this.xdQuotePending = false;
      if (text.charCodeAt(i) === 34) {
        if (this.strRaw.length < MAX_VALUE) this.strRaw += '"';
        return i + 1;
      }
      this.closeXd();
      return i;
    }
    const q = text.indexOf('"', i);
    const stop = q === -1 ? text.length : q;
    if (stop > i && this.strRaw.length < MAX_VALUE) this.strRaw += text.slice(i, Math.min(stop, i + MAX_VALUE - this.strRaw.length));
    if (q === -1) return text.length;
    this.xdQuotePending = true;
    return q + 1;
  }

  private closeXd(): void {
    this.state = S_INITIAL;
    const raw = this.strRaw;
    this.sink.token('qident', this.xdUnicode ? decodeUnicodeString(raw) : raw, this.strLine);
    this.contKind = -1;
  }

  /** Inside $tag$…: look for `$tag$`, psqlscan.l-style (a failed `$x$` gives its last `$` back). */
  private runDollar(text: string, i: number): number {
    const n = text.length;
    while (i < n) {
      if (this.dolCand === null) {
        const d = text.indexOf('$', i);
        if (d === -1) {
          this.literal(text.slice(i));
          return n;
        }
        this.literal(text.slice(i, d + 1));
        this.dolCand = '';
        i = d + 1;
        continue;
      }
      const c = text.charCodeAt(i);
      if (c === 36) {
        if (this.dolCand === this.dolTag) {
          this.dolCand = null;
          this.closeDollar();
          return i + 1;
        }
        this.literal('$');
        this.dolCand = '';
        i++;
        continue;
      }
      if (this.dolCand === '' ? isIdentStart(c) : isDolqCont(c)) {
        if (this.dolCand.length <= this.dolTag.length) this.dolCand += text.charAt(i);
        else this.dolCand = null; // longer than our tag: cannot match
        this.literal(text.charAt(i));
        i++;
        continue;
      }
      this.dolCand = null;
    }
    return n;
  }

  private closeDollar(): void {
    this.state = S_INITIAL;
    let raw = this.strRaw;
    const delim = '$' + this.dolTag;
    if (raw.endsWith(delim)) raw = raw.slice(0, raw.length - delim.length);
    this.sink.token('string', raw, this.strLine);
    this.contKind = -1;
  }

  private stepXc(c: number): void {
    if (this.xcPend === 47 && c === 42) { this.xcDepth++; this.xcPend = 0; return; }
    if (this.xcPend === 42 && c === 47) {
      this.xcPend = 0;
      if (this.xcDepth <= 0) this.state = S_INITIAL;
      else this.xcDepth--;
      return;
    }
    this.xcPend = c === 47 || c === 42 ? c : 0;
  }

  // ---------------------------------------------------------------------------------------------------------
  // end of line: psql's lexer hits the end of its buffer

  private resolveAtLineEnd(): void {
    // Pending constructs may push characters back (failed :'var'), so repeat until settled.
    for (let guard = 0; guard < 8; guard++) {
      if (!this.resolveOnce()) break;
    }
    switch (this.state) {
      case S_LINE_COMMENT:
        this.state = S_INITIAL;
        break;
      case S_XC:
        this.xcPend = 0;
        break;
      case S_STR:
        this.escPending = false; // a backslash at the end of a line escapes nothing on the next
        if (this.strQuotePending) {
          this.strQuotePending = false;
          this.state = S_XQS; // closing quote was the last character: psql starts the next line in xqs
          this.xqsPhase = 0;
          this.xqsComment = false;
          this.xqsDash = false;
          this.xqsNewline = true;
        } else {
          if (this.strRaw.length < MAX_VALUE) this.strRaw += '\n';
          this.sink.literalText('\n', this.literalMode(), this.line);
        }
        this.bsRun = 0; // a backslash ending a line escapes nothing in either reading
        break;
      case S_XQS:
        if (this.xqsPhase !== 0 || this.xqsComment || this.xqsDash) {
          const dash = this.xqsDash;
          this.failXqs();
          if (dash) this.emit('punct', '-');
        }
        break;
      case S_XD:
        if (this.xdQuotePending) this.closeXd();
        else if (this.strRaw.length < MAX_VALUE) this.strRaw += '\n';
        break;
      case S_DOLQ:
        this.dolCand = null;
        this.sink.literalText('\n', 'plain', this.line);
        break;
      case S_META:
        this.state = S_INITIAL;
        this.sink.metaCommand(this.metaText, this.line, this.metaWhole);
        this.metaText = '';
        break;
    }
    if (this.contKind >= 0) this.contNewline = true;
  }

  /** Resolves one pending INITIAL construct as if the input ended; returns true if something was resolved. */
  private resolveOnce(): boolean {
    if (this.state !== S_INITIAL) return false;
    if (this.ident !== null) {
      const id = this.ident;
      this.ident = null;
      this.identJunk = false;
      this.finishIdent(id);
      return true;
    }
    if (this.num !== N_NONE) {
      const incomplete = this.num === N_EXP || this.num === N_EXP_SIGN;
      if (this.num === N_INT_DOT) this.numText += '.';
      this.num = N_NONE;
      this.endNumber(-1, incomplete);
      return true;
    }
    if (this.inParam) {
      this.inParam = false;
      this.emit('param', '$');
      return true;
    }
    if (this.dolInit !== null) {
      const tag = this.dolInit;
      this.dolInit = null;
      this.emit('punct', '$');
      if (tag.length > 0) this.ident = tag;
      return true;
    }
    const p = this.pend;
    if (p === P_NONE) return false;
    this.pend = P_NONE;
    switch (p) {
      case P_DASH: this.emit('punct', '-'); break;
      case P_SLASH: this.emit('punct', '/'); break;
      case P_DOT: this.emit('punct', '.'); break;
      case P_COLON: this.emit('punct', ':'); break;
      case P_UAMP: this.emit('punct', 'u'); this.emit('punct', '&'); break;
      case P_BACKSLASH:
        this.sink.metaCommand('\\', this.line, this.bsAtCol0);
        break;
      case P_COLONVAR:
        if (this.colonMode === CM_PLAIN) {
          this.variable(this.colonName, false);
        } else {
          this.emit('punct', ':');
          const opener = this.colonMode === CM_SQ ? "'" : this.colonMode === CM_DQ ? '"' : '{';
          this.refeed(opener + this.colonName);
        }
        break;
    }
    return true;
  }
}
