/**
 * Text pgdrill writes to a terminal or a log file (stderr, run.log): names and messages can carry whatever the
 * source's objects are called (an escape sequence in a table name is legal), and writing one raw would let anyone who
 * can create a table on production drive the operator's terminal (move the cursor, rewrite lines, set the title).
 * Control characters other than line feed and tab show as their Control Pictures (U+2400…, DEL as U+2421; C1
 * controls as U+FFFD), and bytes of a SQL_ASCII database that are not UTF-8 as `\xNN` (showBytes).
 */
import { showBytes } from './pg/server-bytes.js';

/** One control character as its visible Control Picture (U+2400…; DEL U+2421; C1 controls U+FFFD). */
export function controlPicture(c: string): string {
  const code = c.charCodeAt(0);
  return code < 0x20 ? String.fromCharCode(0x2400 + code) : code === 0x7f ? '\u2421' : '\uFFFD';
}

export function terminalText(s: string): string {
  // eslint-disable-next-line no-control-regex -- the characters replaced
  return showBytes(s).replace(/[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g, controlPicture);
}
