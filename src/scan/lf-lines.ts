/**
 * Lines as psql and PostgreSQL read a script: split at LF only. node:readline also ends a line at a lone CR (and
 * drops it), which rewrites a quoted name or value holding a CR (`CREATE ROLE "a<CR>b"` became `"a<LF>b"`, another
 * role); a script passed on line by line must keep every other byte as it was.
 */
import type { Readable } from 'node:stream';

/** The LF-separated lines of `input` (UTF-8), without their LF; a CR stays part of its line. */
export async function* lfLines(input: Readable): AsyncGenerator<string> {
  input.setEncoding('utf8');
  let rest = '';
  for await (const chunk of input as AsyncIterable<string>) {
    rest += chunk;
    let at = rest.indexOf('\n');
    let from = 0;
    while (at !== -1) {
      yield rest.slice(from, at);
      from = at + 1;
      at = rest.indexOf('\n', from);
    }
    rest = rest.slice(from);
  }
  if (rest) yield rest;
}
