/** What kind of artefact a path is: plain SQL (maybe gzipped), custom archive, directory archive or tar archive. */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { openRegularFile } from '../exec/input-file.js';
import type { ArtifactFormat } from './read-inventory.js';

/** @throws ConfigError when the path does not exist or is not a dump. */
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
    const buf = Buffer.alloc(512);
    const { bytesRead } = await fh.read(buf, 0, 512, 0);
    const head = buf.subarray(0, bytesRead);
    if (head.subarray(0, 5).toString('latin1') === 'PGDMP') return 'custom';
    if (head[0] === 0x1f && head[1] === 0x8b) return 'plain-gzip';
    if (bytesRead >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
    return 'plain';
  } finally {
    await fh.close();
  }
}
