/** Writing the file `pgdrill init` makes: a new file only, unless told to replace one. */
import { writeFile } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import { writeFileAtomic } from '../outputs/atomic-file.js';

/**
 * Write `text` to `path`. Without `force` the file must not exist: it is created exclusively (O_EXCL), so neither
 * an existing file nor a symlink of that name — dangling or not — is ever written through. With `force` a new file
 * is renamed over the old one (a symlink is replaced, not followed).
 * @throws ConfigError (exit 2) when the file exists and `force` is not set.
 */
export async function writeConfigFile(path: string, text: string, opts: { readonly force?: boolean } = {}): Promise<void> {
  if (opts.force) return writeFileAtomic(path, text);
  try {
    await writeFile(path, text, { flag: 'wx', mode: 0o644 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new ConfigError(`${path} already exists; pgdrill init never overwrites a file: choose another --out, or add --force to replace it`, [], { cause: err });
    throw new ConfigError(`cannot write ${path}: ${(err as Error).message}`, [], { cause: err });
  }
}
