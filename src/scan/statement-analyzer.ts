/**
 * Reads each statement psql would send: COPY … FROM stdin blocks, GRANT/REVOKE, owners and SET ROLE, the
 * session settings that change how psql lexes (standard_conforming_strings, client_encoding), and hostile
 * patterns at the top level and inside literals. Keeps at most MAX_TOKENS tokens of a statement (each value
 * at most 1 KiB), which is plenty for every statement it parses in full; longer statements are still matched
 * for hostile patterns token by token.
 */
import { HostilePatternMatcher, isUntrustedLanguage, LiteralWordTokenizer, T_OTHER, T_PUNCT, T_QIDENT, T_STRING, T_WORD, type FindingKind } from './hostile-patterns.js';
import { parseDefaultPrivileges, parseGrant, parseRevoke, type RoleRef, type ScannedGrant } from './grant-parser.js';
import { asciiLower, type LiteralMode, type StdStrings, type TokenKind } from './psql-lexer.js';
import { findTopLevelWord, isPunct, isWord, keyword, renderAsWritten, renderName, roleName, type StmtToken } from './statement-tokens.js';
import { showBytes } from '../pg/server-bytes.js';

const MAX_TOKENS = 4096;
/** Statements parsed in full; for all others only the streaming rules run (INSERT-heavy dumps stay fast). */
const PARSED_HEADS = new Set(['copy', 'grant', 'revoke', 'alter', 'set', 'reset', 'rollback']);
const MAX_STORED_VALUE = 256;

/**
 * Client encodings in which the second byte of a character can be an ASCII byte such as `\` or `'`. psql lexes
 * them byte-wise with those bytes masked; this scanner does not, so a dump in one of them is refused.
 * Names are normalised the way PostgreSQL does (lower case, non-alphanumerics removed).
 */
const UNSAFE_ENCODINGS = new Set([
  'sjis', 'shiftjis', 'mskanji', 'win932', 'cp932', 'shiftjis2004', 'big5', 'win950', 'cp950', 'gbk', 'win936', 'cp936',
  'uhc', 'win949', 'cp949', 'johab', 'gb18030',
]);

/**
 * `ALTER ROLE|USER name [IN DATABASE db] SET client_encoding TO 'x'`, `ALTER DATABASE db SET …` (or `RESET
 * client_encoding`), with an encoding psql lexes byte for byte: the default of the role's or database's later
 * sessions, not of the session psql is replaying the file in — pg_dumpall writes it for a role so configured (Django's
 * documented setup sets `client_encoding TO 'utf8'` on its role). A session opened later by a `\connect` of the file
 * would take it, but a multibyte encoding whose characters can hold `\` or `'` stays refused whatever the statement.
 */
function setsAnotherSession(toks: readonly StmtToken[]): boolean {
  const kind = keyword(toks[1]);
  if (kind !== 'role' && kind !== 'user' && kind !== 'database') return false;
  const isName = (t: StmtToken | undefined) => t !== undefined && (t.kind === 'ident' || t.kind === 'qident');
  if (!isName(toks[2])) return false;
  let i = 3;
  if (kind !== 'database' && isWord(toks[i], 'in') && isWord(toks[i + 1], 'database') && isName(toks[i + 2])) i += 3;
  if (isWord(toks[i], 'reset')) return isWord(toks[i + 1], 'client_encoding') && toks.length === i + 2;
  if (!isWord(toks[i], 'set') || !isWord(toks[i + 1], 'client_encoding')) return false;
  if (!(isPunct(toks[i + 2], '=') || isWord(toks[i + 2], 'to')) || toks.length !== i + 4) return false;
  const v = toks[i + 3]!;
  if (v.kind !== 'string' && v.kind !== 'ident') return false;
  return !UNSAFE_ENCODINGS.has((v.kind === 'ident' ? asciiLower(v.value) : v.value.toLowerCase()).replace(/[^a-z0-9]/g, ''));
}

/**
 * The roles of `CREATE|ALTER POLICY … TO r1, r2 [USING|WITH CHECK …]` and of `CREATE|ALTER USER MAPPING FOR r SERVER
 * …`: a dump's only mention of a role may be there, and without it (no globals: placeholders) the restore fails.
 */
function policyAndMappingRoles(toks: readonly StmtToken[]): string[] {
  if (isWord(toks[1], 'user') && isWord(toks[2], 'mapping') && isWord(toks[3], 'for')) {
    const r = isWord(toks[4], 'user') ? null : roleName(toks[4]); // FOR USER is CURRENT_USER's synonym
    return r ? [r] : [];
  }
  if (!isWord(toks[1], 'policy')) return [];
  const to = findTopLevelWord(toks, 3, ['to']);
  if (to < 0 || isWord(toks[to - 1], 'rename')) return [];
  const out: string[] = [];
  for (let i = to + 1; i < toks.length; i += 2) {
    const r = roleName(toks[i]);
    if (r) out.push(r);
    if (!isPunct(toks[i + 1], ',')) break;
  }
  return out;
}

/** Where the analyzer's results go. */
export interface AnalyzerEffects {
  finding(kind: FindingKind, reason: string, line: number): void;
  grant(grant: ScannedGrant): void;
  role(ref: RoleRef): void;
  /** A tablespace objects are created in (`SET default_tablespace = name`, as pg_dump places them). */
  tablespace(name: string): void;
  /** psql will read COPY data for this statement from the lines after the current one. */
  copyIn(table: string, line: number, columns: string | null): void;
  /** psql's standard_conforming_strings changes from the next line on. */
  stdStrings(value: StdStrings): void;
  /** The client encoding (as written, e.g. `LATIN1`) the text is in from the next line on. */
  clientEncoding(name: string): void;
}

/** Options that change what is refused. */
export interface AnalyzerOptions {
  /** Function names (bare or schema-qualified, unquoted) allowed in LANGUAGE c/internal or an untrusted PL. */
  readonly allowedFunctions: ReadonlySet<string>;
}

/** Consumes the lexer's tokens and literal text of one statement at a time. */
export class StatementAnalyzer {
  private tokens: StmtToken[] = [];
  private count = 0;
  private head = '';
  private keep = false;
  private firstLine = 0;
  private mentionsClientEncoding = false;
  private literalsChecked = true;
  private depth = 0;
  private inTransaction = false;
  // CREATE FUNCTION/PROCEDURE and DO: name and LANGUAGE
  private routine: 'function' | 'do' | null = null;
  private routineStage = 0; // 0 before name, 1 in name, 2 after name
  private routineName: StmtToken[] = [];
  private expectLanguage = false;
  private language: string | null = null;
  private languageLine = 0;
  private mentionsStdStrings = false;

  private readonly sqlMatcher: HostilePatternMatcher;
  private readonly literalMatcher: HostilePatternMatcher;
  private readonly literalWords: LiteralWordTokenizer;

  constructor(private readonly effects: AnalyzerEffects, private readonly opts: AnalyzerOptions) {
    const report = (kind: FindingKind, reason: string, line: number) => effects.finding(kind, reason, line);
    this.sqlMatcher = new HostilePatternMatcher('sql', report);
    this.literalMatcher = new HostilePatternMatcher('literal', report);
    this.literalWords = new LiteralWordTokenizer(this.literalMatcher);
  }

  /** True if the current statement has tokens psql has not sent yet. */
  get pending(): boolean {
    return this.count > 0;
  }

  /** A top-level token. */
  token(kind: TokenKind, value: string, line: number): void {
    const lower = kind === 'ident' ? asciiLower(value) : '';
    if (this.count === 0) {
      this.head = lower;
      this.firstLine = line;
      this.keep = PARSED_HEADS.has(lower);
      // Data and comments are prose, not code: keep the literal matcher for code-bearing statements.
      this.literalsChecked = lower !== 'insert' && lower !== 'comment';
    }
    this.count++;
    // CREATE POLICY … TO roles and CREATE USER MAPPING FOR role name roles past the first four tokens.
    if (this.count === 2 && this.head === 'create' && (lower === 'policy' || lower === 'user')) this.keep = true;
    if ((this.keep || this.count <= 4) && this.tokens.length < MAX_TOKENS) {
      this.tokens.push({ kind, value: value.length > MAX_STORED_VALUE ? value.slice(0, MAX_STORED_VALUE) : value, line });
    }
    if (kind === 'punct' && value === '(') this.depth++;
    else if (kind === 'punct' && value === ')' && this.depth > 0) this.depth--;

    switch (kind) {
      case 'ident': this.sqlMatcher.push(T_WORD, lower, line); break;
      case 'qident': this.sqlMatcher.push(T_QIDENT, value, line); break;
      case 'string': this.sqlMatcher.push(T_STRING, '', line); break;
      case 'punct': this.sqlMatcher.push(T_PUNCT, value, line); break;
      default: this.sqlMatcher.push(T_OTHER, value, line);
    }
    if (value.length === 27 && (lower || value.toLowerCase()) === 'standard_conforming_strings') this.mentionsStdStrings = true;
    if (value.length === 15 && (kind === 'ident' || kind === 'string') && (lower || value.toLowerCase()) === 'client_encoding') this.mentionsClientEncoding = true;
    this.trackRoutine(kind, value, lower, line);
  }

  /** Text inside a literal (function bodies, dynamic SQL). */
  literal(text: string, mode: LiteralMode, line: number): void {
    if (!this.literalsChecked) return;
    if (!this.mentionsStdStrings && /standard_conforming_strings/i.test(text)) this.mentionsStdStrings = true;
    this.literalWords.push(text, mode, line);
  }

  /** psql sends the statement (a `;`, or the end of input). */
  statementEnd(line: number): void {
    if (this.count === 0) return;
    this.literalWords.flush(line);
    const toks = isPunct(this.tokens[this.tokens.length - 1], ';') ? this.tokens.slice(0, -1) : this.tokens;
    try {
      this.analyze(toks, line);
    } finally {
      this.tokens = [];
      this.count = 0;
      this.head = '';
      this.depth = 0;
      this.routine = null;
      this.routineStage = 0;
      this.routineName = [];
      this.expectLanguage = false;
      this.language = null;
      this.mentionsStdStrings = false;
      this.mentionsClientEncoding = false;
      this.keep = false;
      this.literalsChecked = true;
      this.sqlMatcher.reset();
      this.literalMatcher.reset();
    }
  }

  /** A `\connect` starts a new session: settings fall back to the server's defaults. */
  newSession(): void {
    this.inTransaction = false;
    this.effects.stdStrings('unknown');
  }

  private analyze(toks: StmtToken[], line: number): void {
    const fx = this.effects;
    let handledStd = false;
    switch (this.head) {
      case 'copy':
        this.copyStatement(toks);
        break;
      case 'grant': {
        const r = parseGrant(toks, this.firstLine);
        r.grants.forEach((g) => fx.grant(g));
        r.roles.forEach((ref) => fx.role(ref));
        break;
      }
      case 'revoke':
        parseRevoke(toks).forEach((ref) => fx.role(ref));
        break;
      case 'create':
        policyAndMappingRoles(toks).forEach((role) => fx.role({ role, as: 'other' }));
        break;
      case 'alter':
        if (isWord(toks[1], 'default') && isWord(toks[2], 'privileges')) {
          parseDefaultPrivileges(toks).forEach((ref) => fx.role(ref));
        } else if (isWord(toks[1], 'policy') || (isWord(toks[1], 'user') && isWord(toks[2], 'mapping'))) {
          policyAndMappingRoles(toks).forEach((role) => fx.role({ role, as: 'other' }));
        } else {
          const owner = lastOwnerTo(toks);
          if (owner) fx.role({ role: owner, as: 'owner' });
        }
        break;
      case 'set':
        handledStd = this.setStatement(toks);
        break;
      case 'reset':
        if (isWord(toks[1], 'standard_conforming_strings') || isWord(toks[1], 'all')) {
          fx.stdStrings('unknown');
          handledStd = true;
        }
        break;
      case 'begin':
      case 'start':
        this.inTransaction = true;
        break;
      case 'commit':
      case 'end':
      case 'abort':
        this.inTransaction = false;
        break;
      case 'rollback':
        if (!isWord(toks[1], 'to') && !isWord(toks[2], 'to')) this.inTransaction = false;
        break;
      case 'load':
        fx.finding('other', 'LOAD loads a shared library into the server', this.firstLine);
        break;
    }
    if (this.mentionsStdStrings && !handledStd) {
      // set_config(), a function body or anything else we cannot follow: psql's setting is no longer known.
      fx.stdStrings('unknown');
    }
    if (this.head !== 'set' && this.mentionsClientEncoding && !setsAnotherSession(toks)) {
      fx.finding('other', 'client_encoding changed or read outside pg_dump\'s SET: psql could lex the rest in another encoding', this.firstLine);
    }
    this.checkRoutine(line);
  }

  private copyStatement(toks: StmtToken[]): void {
    let i = 1;
    if (isWord(toks[i], 'binary')) i++;
    const targetStart = i;
    for (; i < toks.length; i++) {
      const t = toks[i]!; // i < toks.length
      if (t.kind !== 'ident' && t.kind !== 'qident' && !isPunct(t, '.')) break;
      if (t.kind === 'ident' && i > targetStart && !isPunct(toks[i - 1], '.')) break; // FROM/TO after the name
    }
    if (i === targetStart) return; // COPY (query) TO …
    const target = renderAsWritten(toks.slice(targetStart, i));
    let columns: string | null = null;
    if (isPunct(toks[i], '(')) {
      const open = i;
      let depth = 0;
      for (; i < toks.length; i++) {
        if (isPunct(toks[i], '(')) depth++;
        else if (isPunct(toks[i], ')') && --depth === 0) { i++; break; }
      }
      columns = renderAsWritten(toks.slice(open + 1, i - 1));
    }
    if (!isWord(toks[i], 'from') || !isWord(toks[i + 1], 'stdin')) return;
    if (toks.slice(i + 2).some((t) => isWord(t, 'binary')) || isWord(toks[1], 'binary')) {
      // psql would read binary data until end of input; pg_dump never writes it. The scanner goes on in text mode.
      this.effects.finding('other', 'COPY FROM stdin in binary format', this.firstLine);
    }
    this.effects.copyIn(target, this.firstLine, columns);
  }

  /** SET ROLE / SESSION AUTHORIZATION (role references) and the settings that change lexing. Returns true if it set standard_conforming_strings. */
  private setStatement(toks: StmtToken[]): boolean {
    let i = 1;
    let local = false;
    if (isWord(toks[i], 'session') && isWord(toks[i + 1], 'authorization')) {
      const r = roleName(toks[i + 2]);
      if (r) this.effects.role({ role: r, as: 'other' });
      return false;
    }
    if (isWord(toks[i], 'session')) i++;
    else if (isWord(toks[i], 'local')) { i++; local = true; }
    if (isWord(toks[i], 'role')) {
      const r = roleName(toks[i + 1]);
      if (r) this.effects.role({ role: r, as: 'other' });
      return false;
    }
    const name = keyword(toks[i]);
    const hasSep = isPunct(toks[i + 1], '=') || isWord(toks[i + 1], 'to');
    const valueTok = name === 'names' ? toks[i + 1] : hasSep ? toks[i + 2] : undefined;
    const single = valueTok !== undefined && toks.length === (name === 'names' ? i + 2 : i + 3);
    const value = valueTok ? (valueTok.kind === 'ident' ? asciiLower(valueTok.value) : valueTok.value.toLowerCase()) : '';
    if (name === 'standard_conforming_strings') {
      let v: StdStrings = 'unknown';
      // SET LOCAL reverts at commit, and a SET in an aborted transaction never happens: psql keeps the old value.
      if (single && !local && !this.inTransaction) {
        if (['on', 'true', 'yes', '1'].includes(value)) v = 'on';
        else if (['off', 'false', 'no', '0'].includes(value)) v = 'off';
      }
      this.effects.stdStrings(v);
      return true;
    }
    if (name === 'default_tablespace' && single) {
      // An identifier (quoted when it must be) or a string, as pg_dump writes it; '' is the database's default.
      const ts = valueTok.kind === 'ident' ? asciiLower(valueTok.value) : valueTok.kind === 'qident' || valueTok.kind === 'string' ? valueTok.value : '';
      if (ts) this.effects.tablespace(ts);
    }
    if (name === 'client_encoding' || name === 'names') {
      const normalized = value.replace(/[^a-z0-9]/g, '');
      if (!single || UNSAFE_ENCODINGS.has(normalized)) {
        this.effects.finding('other', `client_encoding ${value || '?'}: a multibyte encoding psql lexes differently (backslashes and quotes inside characters)`, this.firstLine);
      } else if (valueTok.kind === 'string' || valueTok.kind === 'ident') {
        // `SET client_encoding = 'LATIN1'` as pg_dump writes it (DEFAULT and the like leave the decoding as it is).
        if (normalized !== 'default') this.effects.clientEncoding(value);
      }
    }
    return false;
  }

  /** Follows CREATE [OR REPLACE] FUNCTION|PROCEDURE name(…) … LANGUAGE x, and DO … LANGUAGE x. */
  private trackRoutine(kind: TokenKind, value: string, lower: string, line: number): void {
    const n = this.count;
    if (n === 1) {
      if (lower === 'do') this.routine = 'do';
      return;
    }
    if (this.head === 'create' && this.routine === null && n <= 4 && (lower === 'function' || lower === 'procedure')) {
      const second = this.tokens[1];
      if (n === 2 || (n === 4 && isWord(second, 'or') && isWord(this.tokens[2], 'replace'))) {
        this.routine = 'function';
        this.routineStage = 1;
        return;
      }
    }
    if (this.routine === null) return;
    if (this.routineStage === 1) {
      if (kind === 'punct' && value === '(') this.routineStage = 2;
      else if (this.routineName.length < 8) this.routineName.push({ kind, value, line });
    }
    if (this.expectLanguage) {
      this.expectLanguage = false;
      if (kind === 'ident' || kind === 'string' || kind === 'qident') {
        this.language = kind === 'ident' ? lower : value;
        this.languageLine = line;
      }
      return;
    }
    if (lower === 'language' && this.depth === 0 && this.language === null) this.expectLanguage = true;
  }

  private checkRoutine(line: number): void {
    if (this.routine === null) return;
    const lang = this.language ?? (this.routine === 'do' ? 'plpgsql' : null);
    if (!lang || !isUntrustedLanguage(lang)) return;
    if (this.routine === 'do') {
      this.effects.finding('untrusted-function', `DO block in LANGUAGE ${lang} runs code on the server`, this.languageLine || line);
      return;
    }
    const name = renderName(this.routineName.map((t) => (t.kind === 'ident' ? { ...t, value: asciiLower(t.value) } : t)));
    const bare = name.includes('.') ? name.slice(name.lastIndexOf('.') + 1) : name;
    // a SQL_ASCII name's bytes that are not UTF-8 are written in the config as the report shows them (`f\xe9`)
    if ([name, bare].some((n) => this.opts.allowedFunctions.has(n) || this.opts.allowedFunctions.has(showBytes(n)))) return;
    this.effects.finding('untrusted-function', `function ${name} in LANGUAGE ${lang}`, this.languageLine || line);
  }
}

/** The role after the last top-level `OWNER TO`. */
function lastOwnerTo(toks: StmtToken[]): string | null {
  let found: string | null = null;
  let from = 1;
  for (;;) {
    const k = findTopLevelWord(toks, from, ['owner']);
    if (k === -1) break;
    if (isWord(toks[k + 1], 'to')) found = roleName(toks[k + 2]) ?? found;
    from = k + 1;
  }
  return found;
}
