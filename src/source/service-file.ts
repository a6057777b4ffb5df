/**
 * libpq's connection service file (`service=name`, PGSERVICE), read as libpq reads it, so that pgdrill's own
 * session (node-postgres, which knows no service files) reaches the server the tools reach: the file named by
 * PGSERVICEFILE, else ~/.pg_service.conf; when the service is not there, PGSYSCONFDIR/pg_service.conf (Debian's
 * libpq: /etc/postgresql-common). Its values never override what the URL itself says.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LibpqParams } from './libpq-url.js';

/** Debian's libpq SYSCONFDIR, where libpq looks for pg_service.conf without PGSYSCONFDIR. */
const DEFAULT_SYSCONFDIR = '/etc/postgresql-common';

/** A service file libpq would refuse, or a service it does not define. */
export class ServiceFileError extends Error {}

function readIfExists(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ServiceFileError(`cannot read the service file ${path}: ${(err as Error).message}`);
  }
}

/** The keywords of `service` in `text`, or null when the file does not define it. */
function serviceIn(text: string, service: string, path: string): LibpqParams | null {
  let inGroup = false;
  let found = false;
  const out: LibpqParams = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\s+$/, '').replace(/^\s+/, '');
    if (!line || line.startsWith('#')) continue;
    if (line.startsWith('[')) {
      if (inGroup) break; // libpq stops at the next group
      inGroup = line.slice(1, line.indexOf(']') < 0 ? undefined : line.indexOf(']')) === service;
      found ||= inGroup;
      continue;
    }
    if (!inGroup) continue;
    const eq = line.indexOf('=');
    if (eq < 0) throw new ServiceFileError(`syntax error in service file ${path}, line ${i + 1}`);
    const key = line.slice(0, eq);
    if (key === 'service') throw new ServiceFileError(`nested service specifications are not supported in service file ${path}, line ${i + 1}`);
    if (!(key in out)) out[key] = line.slice(eq + 1);
  }
  return found ? out : null;
}

/**
 * The keywords libpq takes from the service file for `service`, given the environment the tools get.
 * @throws ServiceFileError when no file defines the service, or one does not parse.
 */
export function readService(service: string, env: Readonly<Record<string, string | undefined>>): LibpqParams {
  const user = env.PGSERVICEFILE ?? (env.HOME ? join(env.HOME, '.pg_service.conf') : null);
  const system = join(env.PGSYSCONFDIR ?? DEFAULT_SYSCONFDIR, 'pg_service.conf');
  for (const path of [user, system]) {
    if (!path) continue;
    const text = readIfExists(path);
    const found = text === null ? null : serviceIn(text, service, path);
    if (found) return found;
  }
  throw new ServiceFileError(`definition of service "${service}" not found (looked in ${[user, system].filter(Boolean).join(' and ')})`);
}
