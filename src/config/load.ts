/** Reading and validating a config file. */
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { ConfigError } from '../errors.js';
import { ConfigSchema, type DrillConfig } from './schema.js';

/** Validate an already-parsed config object; every problem is reported at once with its path. */
export function validateConfig(raw: unknown, where = 'config'): DrillConfig {
  const r = ConfigSchema.safeParse(raw ?? {});
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`);
  throw new ConfigError(`${where} is not valid (${problems.length} problem${problems.length > 1 ? 's' : ''}); fix these and run again:`, problems);
}

/** Read a YAML (or JSON) config file and validate it. */
export async function loadConfig(path: string): Promise<DrillConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`, [], { cause: err });
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) {
    throw new ConfigError(`${path} is not valid YAML:`, doc.errors.map((e) => e.message));
  }
  return validateConfig(doc.toJS(), path);
}
