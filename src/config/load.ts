/** Reading and validating a config file. */
import { parseDocument } from 'yaml';
import { ConfigError } from '../errors.js';
import { formatLimit, readBoundedFile, resolveInputPath } from '../exec/input-file.js';
import { ConfigSchema, type DrillConfig } from './schema.js';
import { describeYamlErrors } from './yaml-errors.js';

/** Validate an already-parsed config object; every problem is reported at once with its path. */
export function validateConfig(raw: unknown, where = 'config'): DrillConfig {
  const r = ConfigSchema.safeParse(raw ?? {});
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`);
  throw new ConfigError(`${where} is not valid (${problems.length} problem${problems.length > 1 ? 's' : ''}); fix these and run again:`, problems);
}

/**
 * Largest config file read: a config is a few KiB; a 2-million-key file took minutes and gigabytes to parse while
 * pgdrill could not react to SIGTERM, so anything larger is refused before it is parsed.
 */
export const MAX_CONFIG_BYTES = 1 << 20;

/**
 * Most YAML alias (`*name`) expansions in one config: a legitimate config shares a few blocks; a "billion laughs"
 * alias bomb expands exponentially and is refused instead.
 */
export const MAX_CONFIG_ALIASES = 100;

/**
 * Read a YAML (or JSON) file (`what`: "config file", "fleet file") and return what it holds, unvalidated. The file
 * must be a regular file (a FIFO or device is refused at once), at most `MAX_CONFIG_BYTES`, with at most
 * `MAX_CONFIG_ALIASES` alias expansions.
 * @throws ConfigError (exit 2) naming the file and the limit or the problems.
 */
export async function readYamlFile(path: string, what = 'config file'): Promise<unknown> {
  const input = await resolveInputPath(path, what);
  const text = (await readBoundedFile(input.path, what, MAX_CONFIG_BYTES)).toString('utf8');
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length) {
    const problems = describeYamlErrors(text, doc.errors);
    throw new ConfigError(`${path} is not valid YAML (${problems.length} problem${problems.length > 1 ? 's' : ''}):`, problems);
  }
  try {
    return doc.toJS({ maxAliasCount: MAX_CONFIG_ALIASES });
  } catch (err) {
    if (/alias/i.test((err as Error).message)) {
      throw new ConfigError(
        `${what} ${path} expands YAML aliases more than ${MAX_CONFIG_ALIASES} times (limit ${MAX_CONFIG_ALIASES}, size limit ${formatLimit(MAX_CONFIG_BYTES)}): refused — ` +
          'a config shares a few blocks at most; this looks like an alias bomb',
        [], { cause: err },
      );
    }
    throw new ConfigError(`${path} is not valid YAML: ${(err as Error).message}`, [], { cause: err });
  }
}

/**
 * Read a YAML (or JSON) config file and validate it (limits: `readYamlFile`).
 * @throws ConfigError (exit 2) naming the file and the limit or the problems.
 */
export async function loadConfig(path: string): Promise<DrillConfig> {
  return validateConfig(await readYamlFile(path, 'config file'), path);
}
