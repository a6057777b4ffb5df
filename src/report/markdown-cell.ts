/**
 * Text inside a report.md table: whatever a name or a value holds (any legal identifier: `|`, `\`, line breaks,
 * `<script>`, control characters), the row keeps its cells and the page its structure. One escaper for every table
 * of every markdown renderer, so that no table forgets a character.
 *
 * Renderers disagree on `\|`: GitHub's (cmark-gfm) escapes a pipe by one backslash before it, markdown-it by an odd
 * run of them. A pipe therefore always leaves with an odd run before it, which both read as an escaped pipe.
 */

import { controlPicture } from '../terminal-text.js';

/**
 * Control characters as their visible Control Pictures (U+2400…; C1 controls as U+FFFD): a line break must not end
 * a row, nor vanish, and an escape sequence in a name must not reach a terminal (CLI summary) as one.
 */
export function showControls(s: string): string {
  // eslint-disable-next-line no-control-regex -- the characters replaced
  return s.replace(/[\u0000-\u001F\u007F-\u009F]/g, controlPicture);
}
const picture = showControls;

/** A plain table cell: backslashes, pipes and `<` escaped (no HTML), control characters shown. */
export function mdCell(s: string): string {
  return picture(s).replace(/[\\|<]/g, (c) => `\\${c}`);
}

/**
 * The content of a code span in a table cell (without its backticks): backslashes are literal there, so only a
 * run of them right before a pipe is doubled (to stay an odd run with the pipe's own escape); backticks become `'`.
 */
export function mdCodeCell(s: string): string {
  return picture(s).replace(/`/g, "'").replace(/(\\*)\|/g, (_, run: string) => `${run}${run}\\|`);
}

/** Text inside a fenced code block (report.md's `key: value` blocks): one line stays one line. */
export function mdPre(s: string): string {
  return picture(s);
}

/** Prose on one line (a heading, a check's detail in a list): no line break, no HTML, backslashes literal. */
export function mdLine(s: string): string {
  return picture(s).replace(/[\\<]/g, (c) => `\\${c}`);
}
