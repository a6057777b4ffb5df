/** Test extensions installed into the PostgreSQL a test's clusters run (its SHAREDIR), for tests that need one. */
import { access } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';
import { psql } from './clusters.js';

/** The server's SHAREDIR and its extension directory, and why a test cannot install into it (null: it can). */
export async function extensionDirOf(cluster: SandboxCluster): Promise<{ sharedir: string; extdir: string; unwritable: string | null }> {
  const sharedir = (await psql(cluster, 'postgres', { sql: "SELECT setting FROM pg_config WHERE name = 'SHAREDIR'" })).trim();
  const extdir = join(sharedir, 'extension');
  const unwritable = await access(extdir, constants.W_OK).then(() => null, () => `${extdir} is not writable: cannot install a test extension`);
  return { sharedir, extdir, unwritable };
}
