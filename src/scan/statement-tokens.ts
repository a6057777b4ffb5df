/** The top-level tokens of one statement, as the statement analyzer keeps them, and small helpers to read them. */
import { asciiLower, type TokenKind } from './psql-lexer.js';

/** One top-level token. Identifiers keep their spelling; quoted identifiers and strings are unquoted. */
export interface StmtToken {
  readonly kind: TokenKind;
  readonly value: string;
  readonly line: number;
}

/** True if `t` is the unquoted keyword `word` (lower case). */
export function isWord(t: StmtToken | undefined, word: string): boolean {
  return t !== undefined && t.kind === 'ident' && t.value.length === word.length && asciiLower(t.value) === word;
}

/** True if `t` is the punctuation `p`. */
export function isPunct(t: StmtToken | undefined, p: string): boolean {
  return t !== undefined && t.kind === 'punct' && t.value === p;
}

/** The lower-cased keyword, or '' if `t` is not an unquoted identifier. */
export function keyword(t: StmtToken | undefined): string {
  return t !== undefined && t.kind === 'ident' ? asciiLower(t.value) : '';
}

/** Role names that are keywords, not roles that must exist. */
const ROLE_KEYWORDS = new Set(['public', 'current_user', 'session_user', 'current_role', 'none', 'default']);

/**
 * A role as the server will look it up: unquoted names fold to lower case, quoted ones stay exact.
 * Returns null for PUBLIC, CURRENT_USER and the like (no role of that name needs to exist).
 */
export function roleName(t: StmtToken | undefined): string | null {
  if (!t) return null;
  if (t.kind === 'qident' || t.kind === 'string') return t.value;
  if (t.kind !== 'ident') return null;
  const lower = asciiLower(t.value);
  return ROLE_KEYWORDS.has(lower) ? null : lower;
}

/**
 * Splits tokens[from, to) on commas at parenthesis depth 0.
 */
export function splitTopLevel(tokens: readonly StmtToken[], from: number, to: number): StmtToken[][] {
  const parts: StmtToken[][] = [];
  let cur: StmtToken[] = [];
  let depth = 0;
  for (let i = from; i < to; i++) {
    const t = tokens[i];
    if (t === undefined) break; // `to` past the end
    if (isPunct(t, '(')) depth++;
    else if (isPunct(t, ')') && depth > 0) depth--;
    if (depth === 0 && isPunct(t, ',')) {
      parts.push(cur);
      cur = [];
      continue;
    }
    cur.push(t);
  }
  if (cur.length) parts.push(cur);
  return parts;
}

/** Index of the first unquoted keyword from `words` at depth 0 in tokens[from, to), or -1. */
export function findTopLevelWord(tokens: readonly StmtToken[], from: number, words: readonly string[], to = tokens.length): number {
  let depth = 0;
  for (let i = from; i < to; i++) {
    const t = tokens[i];
    if (t === undefined) break; // `to` past the end
    if (isPunct(t, '(')) depth++;
    else if (isPunct(t, ')') && depth > 0) depth--;
    else if (depth === 0 && t.kind === 'ident' && words.includes(asciiLower(t.value))) return i;
  }
  return -1;
}

/** Renders a name or signature without quotes: `public.f(integer, text)`, `timestamp with time zone`. */
export function renderName(tokens: readonly StmtToken[]): string {
  let out = '';
  let prevWordish = false;
  for (const t of tokens) {
    const wordish = t.kind === 'ident' || t.kind === 'qident' || t.kind === 'number' || t.kind === 'string';
    if (wordish && prevWordish) out += ' ';
    out += t.value;
    if (t.kind === 'punct' && t.value === ',') out += ' ';
    prevWordish = wordish;
  }
  return out;
}

/** Renders a name as written, quotes kept where they were: `public."Order Details"`. */
export function renderAsWritten(tokens: readonly StmtToken[]): string {
  return tokens.map((t) => (t.kind === 'qident' ? `"${t.value.replace(/"/g, '""')}"` : t.value)).join('');
}
