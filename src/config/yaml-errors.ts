/**
 * YAML parse errors told at the line the user has to fix, with that line's text. The parser reports where it
 * noticed the problem, which is often elsewhere: an unclosed quote or bracket at the end of the file, a line
 * indented one space too deep at the line before it (whose value it seems to continue).
 */
import { CST, Parser, type YAMLError } from 'yaml';

/** A place in the text: 1-based line and column. */
interface Place {
  readonly line: number;
  readonly col: number;
}

function placeOf(lineStarts: readonly number[], offset: number): Place {
  let i = 0;
  while (i + 1 < lineStarts.length && lineStarts[i + 1]! <= offset) i++;
  return { line: i + 1, col: offset - lineStarts[i]! + 1 };
}

const indentOf = (text: string): number => /^ */.exec(text)![0].length;

/** The start of the first quoted scalar without its closing quote, or flow collection without its bracket. */
function unclosedOpener(text: string): number | null {
  let found: number | null = null;
  for (const doc of new Parser().parse(text)) {
    if (doc.type !== 'document') continue;
    CST.visit(doc, (item) => {
      for (const token of [item.key, item.value]) {
        if (found !== null || !token) continue;
        if ((token.type === 'double-quoted-scalar' || token.type === 'single-quoted-scalar')) {
          const q = token.source[0]!;
          if (token.source.length < 2 || !token.source.endsWith(q)) found = token.offset;
        } else if (token.type === 'flow-collection' && !token.end.some((t) => t.type === 'flow-map-end' || t.type === 'flow-seq-end')) {
          found = token.offset;
        }
      }
    });
  }
  return found;
}

/** Where the user should look for `err`, and what to tell them beyond the parser's message. */
function locate(text: string, lines: readonly string[], lineStarts: readonly number[], err: YAMLError): { place: Place; hint: string; message?: string } {
  const start = placeOf(lineStarts, err.pos[0]);
  if (err.code === 'MISSING_CHAR' || (err.code === 'BAD_INDENT' && /must be sufficiently indented and end with/.test(err.message))) {
    const opener = unclosedOpener(text);
    if (opener !== null) return { place: placeOf(lineStarts, opener), hint: 'opened here and never closed' };
  }
  if (err.code === 'MULTILINE_IMPLICIT_KEY' || err.code === 'BLOCK_AS_IMPLICIT_KEY') {
    // A line indented deeper than the one before it reads as that line's value going on: the deeper line is the mistake.
    const next = start.line < lines.length ? start.line + 1 : null;
    if (next !== null && indentOf(lines[next - 1]!) > indentOf(lines[start.line - 1]!)) {
      return {
        place: { line: next, col: indentOf(lines[next - 1]!) + 1 },
        message: `indented deeper than line ${start.line} above it, so YAML reads it as the rest of line ${start.line}'s value`,
        hint: 'indent it like the key above it',
      };
    }
    return { place: start, message: 'a key that runs onto the next line', hint: 'a key and its value need ": " between them (a colon and a space)' };
  }
  return { place: start, hint: '' };
}

/**
 * The line's text for the message: everything after a URL's scheme hidden (a password, or a webhook's token in its
 * path: the message may end up in cron mail or a journal), control characters shown, long lines cut.
 */
function shown(line: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this escapes
  const s = line.replace(/\r$/, '').replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s'"]+/gi, '$1***').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return s.length > 160 ? `${s.slice(0, 160)}…` : s;
}

/**
 * One line per problem: `line L, column C: what — hint`, then the offending line and a caret under the column.
 * Errors the parser reports twice for one mistake are told once.
 */
export function describeYamlErrors(text: string, errors: readonly YAMLError[]): string[] {
  const lines = text.split('\n');
  const lineStarts: number[] = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lineStarts.push(i + 1);
  const seen = new Set<number>();
  const out: string[] = [];
  for (const err of errors) {
    const where = locate(text, lines, lineStarts, err);
    const { place, hint } = where;
    if (seen.has(place.line)) continue;
    seen.add(place.line);
    const message = where.message ?? err.message.replace(/ at line \d+, column \d+:[\s\S]*$/, '');
    const gutter = `    ${place.line} | `;
    out.push(`line ${place.line}, column ${place.col}: ${message}${hint ? ` — ${hint}` : ''}\n${gutter}${shown(lines[place.line - 1] ?? '')}\n${' '.repeat(gutter.length - 2)}| ${' '.repeat(Math.max(0, place.col - 1))}^`);
  }
  return out;
}
