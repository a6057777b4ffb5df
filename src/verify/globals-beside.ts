/**
 * The globals file `pgdrill run` writes beside its dump (`<name>.globals.sql` next to `<name>.sql`, `.dump` or
 * `.dir`, both listed in the run's SHA256SUMS): `verify` of such a dump restores those roles and tablespaces first,
 * as the run did, instead of NOLOGIN placeholders. Only a regular file (not a link) with the artefact's own owner is
 * taken: a file someone else put beside a dump in a shared directory is reported and left alone.
 */
import { lstat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The dump extensions pgdrill's run (and pg_dump's usual names) use; the globals file takes their place. */
const DUMP_EXTENSION = /\.(?:sql\.gz|sql|dump|dir|tar)$/;

/** What was found beside the artefact: a file to restore, or one left alone and why. */
export type GlobalsBeside =
  | { readonly use: string }
  | { readonly ignored: string; readonly why: string };

/** The globals file beside `artifact` (an absolute path), or null when there is none. */
export async function findGlobalsBeside(artifact: string): Promise<GlobalsBeside | null> {
  const name = basename(artifact);
  if (!DUMP_EXTENSION.test(name) || name.endsWith('.globals.sql')) return null;
  const path = join(dirname(artifact), `${name.replace(DUMP_EXTENSION, '')}.globals.sql`);
  const st = await lstat(path).catch(() => null);
  if (!st) return null;
  const dump = await lstat(artifact);
  if (!st.isFile()) return { ignored: path, why: st.isSymbolicLink() ? 'it is a symbolic link' : 'it is not a regular file' };
  if (st.uid !== dump.uid) return { ignored: path, why: `it is owned by uid ${st.uid}, the dump by uid ${dump.uid}` };
  return { use: path };
}
