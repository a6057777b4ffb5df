/** What kind of artefact a path is: plain SQL (maybe gzipped), custom archive, directory archive or tar archive. */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { constants, createGunzip } from 'node:zlib';
import { ConfigError } from '../errors.js';
import { openRegularFile } from '../exec/input-file.js';
import { describeContent, hasPlainHeader, HEADER_SEARCH_BYTES, notADumpMessage } from './dump-header.js';
import type { ArtifactFormat } from './read-inventory.js';

/**
 * The format of the dump at `path`, from its first bytes (never its name).
 * @throws ConfigError (exit 2) when the path does not exist or is not something pg_dump wrote: no plain dump header,
 *   no archive magic (an empty file, random bytes, a text file, a zip…), a tar archive without toc.dat first.
 */
export async function detectFormat(path: string): Promise<ArtifactFormat> {
  let st;
  try {
    st = await stat(path);
  } catch {
    throw new ConfigError(`${path}: no such file or directory`);
  }
  if (st.isDirectory()) {
    try {
      await stat(join(path, 'toc.dat'));
      return 'directory';
    } catch {
      throw new ConfigError(`${path} is a directory without toc.dat: not a pg_dump directory archive`);
    }
  }
  // Never blocks on a FIFO, never follows a link swapped in (ConfigError, exit 2).
  const fh = await openRegularFile(path, 'the dump');
  try {
    const buf = Buffer.alloc(HEADER_SEARCH_BYTES);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const head = buf.subarray(0, bytesRead);
    if (head.subarray(0, 5).toString('latin1') === 'PGDMP') return 'custom';
    if (head[0] === 0x1f && head[1] === 0x8b) {
      const text = await gunzipHead(head);
      // A gzip stream damaged before its first text is a damaged dump, not a foreign file: the full read reports it.
      if (text !== null && !hasPlainHeader(text)) throw new ConfigError(notADumpMessage(path, `gunzipped, ${describeContent(text, text.length)}`, true));
      return 'plain-gzip';
    }
    if (bytesRead >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') {
      // pg_dump -Ft writes toc.dat first; the name field is the header's first 100 bytes, NUL-padded.
      const first = head.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
      if (first !== 'toc.dat') {
        throw new ConfigError(notADumpMessage(path, `it is a tar archive whose first member is "${first.slice(0, 100)}", not toc.dat as in every tar archive pg_dump -Ft writes`));
      }
      return 'tar';
    }
    if (!hasPlainHeader(head)) throw new ConfigError(notADumpMessage(path, describeContent(head, st.size)));
    return 'plain';
  } finally {
    await fh.close();
  }
}

/**
 * Up to HEADER_SEARCH_BYTES of the text of a gzip stream whose first bytes are `compressed` (a cut input yields what
 * it holds); null when the stream fails before yielding any text.
 */
async function gunzipHead(compressed: Buffer): Promise<Buffer | null> {
  const gunzip = createGunzip({ finishFlush: constants.Z_SYNC_FLUSH });
  Readable.from([compressed]).pipe(gunzip);
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of gunzip) {
      chunks.push(chunk as Buffer);
      length += (chunk as Buffer).length;
      if (length >= HEADER_SEARCH_BYTES) break;
    }
  } catch {
    /* damaged: judged on what was read */
  } finally {
    gunzip.destroy();
  }
  return length ? Buffer.concat(chunks) : null;
}
