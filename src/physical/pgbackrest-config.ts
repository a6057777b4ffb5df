/**
 * `pgbackrest:STANZA[@LABEL]` artefacts and the pgBackRest configuration they are read through. pgdrill reads a
 * repository only where it can prove the reading cannot write: a repository on this host (repoN-type posix or cifs),
 * bound read-only into the jail pgBackRest runs in. A repository on another host (repoN-host) or in an object store
 * is refused for now: pgdrill could not bind it read-only, and has no test of it.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { readBoundedFile, resolveInputPath } from '../exec/input-file.js';

/** A pgBackRest artefact: the stanza, and the backup's label (null: the newest backup). */
export interface PgBackRestArtifact {
  readonly stanza: string;
  readonly label: string | null;
}

/** pgBackRest's default configuration file, and the directory of files it includes. */
export const DEFAULT_PGBACKREST_CONFIG = '/etc/pgbackrest/pgbackrest.conf';
export const DEFAULT_PGBACKREST_INCLUDE = '/etc/pgbackrest/conf.d';

const STANZA_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const LABEL_RE = /^\d{8}-\d{6}F(?:_\d{8}-\d{6}[DI])?$/;

/** Whether `text` names a pgBackRest artefact (starts with `pgbackrest:`). */
export function isPgBackRestArtifact(text: string): boolean {
  return text.startsWith('pgbackrest:');
}

/**
 * Parse `pgbackrest:STANZA[@LABEL]` (LABEL as `pgbackrest info` prints it: 20261206-144756F, or
 * 20261206-144756F_20261206-144808I for a differential or incremental).
 * @throws ConfigError (exit 2) naming what is wrong.
 */
export function parsePgBackRestArtifact(text: string): PgBackRestArtifact {
  const rest = text.slice('pgbackrest:'.length);
  const at = rest.indexOf('@');
  const stanza = at < 0 ? rest : rest.slice(0, at);
  const label = at < 0 ? null : rest.slice(at + 1);
  if (!STANZA_RE.test(stanza)) throw new ConfigError(`${text}: "${stanza}" is not a stanza name (letters, digits, '_', '.', '-'); write pgbackrest:STANZA or pgbackrest:STANZA@LABEL`);
  if (label !== null && !LABEL_RE.test(label)) {
    throw new ConfigError(`${text}: "${label}" is not a pgBackRest backup label (like 20261206-144756F or 20261206-144756F_20261206-144808I, as \`pgbackrest info\` lists them)`);
  }
  return { stanza, label };
}

/** A repository the configuration names for a stanza. */
export interface PgBackRestRepo {
  readonly key: number;
  readonly path: string;
}

/** What pgdrill needs to know of a configuration. */
export interface PgBackRestConfig {
  /** The configuration file, resolved (passed to every pgBackRest command as --config). */
  readonly file: string;
  /** Files included from the include directory (only when the default configuration is used). */
  readonly included: readonly string[];
  readonly repos: readonly PgBackRestRepo[];
}

/**
 * Read the configuration (`file`, default pgBackRest's own) as pgBackRest reads it for `stanza`: [global] and
 * [STANZA] sections and their `:command` variants, plus conf.d when the default file is used.
 * @throws ConfigError (exit 2) for a file that cannot be read, a repository on another host or of another type.
 */
export async function readPgBackRestConfig(stanza: string, file?: string): Promise<PgBackRestConfig> {
  const given = file ?? DEFAULT_PGBACKREST_CONFIG;
  const resolved = await resolveInputPath(given, 'the pgBackRest configuration');
  const texts = [(await readBoundedFile(resolved.path, 'the pgBackRest configuration', 1 << 20)).toString('utf8')];
  const included: string[] = [];
  if (file === undefined) {
    const names = await readdir(DEFAULT_PGBACKREST_INCLUDE).catch(() => [] as string[]);
    for (const n of names.filter((x) => x.endsWith('.conf')).sort()) {
      const p = join(DEFAULT_PGBACKREST_INCLUDE, n);
      texts.push((await readBoundedFile(p, 'a pgBackRest configuration file', 1 << 20)).toString('utf8'));
      included.push(p);
    }
  }
  const options = new Map<string, string>();
  for (const t of texts) for (const [k, v] of sectionOptions(t, stanza)) options.set(k, v);
  return { file: resolved.path, included, repos: reposOf(options, resolved.path) };
}

/** The options of the sections that apply to `stanza`, stanza sections last (they win). */
function sectionOptions(text: string, stanza: string): [string, string][] {
  const global: [string, string][] = [];
  const own: [string, string][] = [];
  let into: [string, string][] | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const sec = /^\[([^\]]+)\]$/.exec(line);
    if (sec) {
      const name = sec[1]!.split(':')[0];
      into = name === 'global' ? global : name === stanza ? own : null;
      continue;
    }
    const eq = line.indexOf('=');
    if (into && eq > 0) into.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
  }
  return [...global, ...own];
}

function reposOf(options: Map<string, string>, file: string): PgBackRestRepo[] {
  const keys = new Set<number>();
  for (const k of options.keys()) {
    const m = /^repo(\d+)-/.exec(k);
    if (m) keys.add(Number(m[1]));
  }
  if (keys.size === 0) keys.add(1);
  const repos: PgBackRestRepo[] = [];
  for (const key of [...keys].sort((a, b) => a - b)) {
    const host = options.get(`repo${key}-host`);
    if (host) throw new ConfigError(`${file}: repo${key}-host = ${host}: a repository on another host is not supported yet — pgdrill reads only a repository on this host, which it can bind read-only. Run pgdrill on the repository host.`);
    const type = options.get(`repo${key}-type`) ?? 'posix';
    if (type !== 'posix' && type !== 'cifs') {
      throw new ConfigError(`${file}: repo${key}-type = ${type}: only repositories on a file system (posix, cifs) are supported yet; pgdrill cannot prove that reading an object store writes nothing`);
    }
    repos.push({ key, path: options.get(`repo${key}-path`) ?? '/var/lib/pgbackrest' });
  }
  return repos;
}
