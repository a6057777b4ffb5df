/**
 * Opening a session on the fleet's coordination database for the readers (`fleet status`, `fleet report`): the URL
 * read as libpq reads it (src/source/connection.ts: query parameters, a service, the PG* environment, the password
 * from PGPASSWORD or ~/.pgpass, never argv), and the session read-only and bounded in time like every session pgdrill
 * opens on a server it does not own.
 */
import pg from 'pg';
import { ConfigError, EnvironmentError } from '../errors.js';
import { resolveSource, scrubber } from '../source/connection.js';
import { isLibpqUrl, parseLibpqUrl, redactUrl } from '../source/libpq-url.js';

/** A session on the coordination database; `redacted` names it in messages. */
export interface CoordinationSession extends AsyncDisposable {
  readonly client: pg.Client;
  readonly redacted: string;
}

/** Options of `openCoordination`. */
export interface CoordinationOptions {
  /** Ends the connection attempt and the session. */
  readonly signal?: AbortSignal;
}

/** True for a libpq URL with a password in it (one that does not parse is left to resolveSource's message). */
function holdsPassword(url: string): boolean {
  try {
    return isLibpqUrl(url) && parseLibpqUrl(url).password !== undefined;
  } catch {
    return false;
  }
}

/** `--queue`, else PGDRILL_QUEUE (as `fleet sync` and `worker` read it). */
export function queueUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const url = flag ?? env.PGDRILL_QUEUE;
  if (!url) throw new ConfigError('--queue is required (or PGDRILL_QUEUE): the libpq URL of the coordination database');
  return url;
}

/**
 * Connect to the coordination database named by `url` (`--queue`), read-only.
 * @throws ConfigError (exit 2) for a URL that does not parse or holds a password (argv is no place for it);
 *   EnvironmentError (exit 4) when it cannot be reached.
 */
export async function openCoordination(url: string, opts: CoordinationOptions = {}): Promise<CoordinationSession> {
  if (holdsPassword(url)) {
    throw new ConfigError(`--queue ${redactUrl(url)} holds a password: command lines are visible to every local user — put it in PGPASSWORD, PGPASSFILE or ~/.pgpass instead`);
  }
  let spec: ReturnType<typeof resolveSource>;
  try {
    spec = resolveSource(url);
  } catch (err) {
    // resolveSource speaks of the source; this is the queue.
    if (err instanceof ConfigError) throw new ConfigError(`--queue: ${err.message.replace(/--source/g, '--queue').replace(/the source(?:'s)?/g, 'the coordination database')}`, [], { cause: err });
    throw err;
  }
  const client = new pg.Client({ ...spec.connection, application_name: 'pgdrill fleet' });
  client.on('error', () => {}); // a dropped connection rejects the pending query instead of crashing the process
  const onAbort = () => void client.end().catch(() => {});
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await client.connect();
  } catch (err) {
    opts.signal?.removeEventListener('abort', onAbort);
    if (opts.signal?.aborted) throw opts.signal.reason;
    const why = scrubber(spec.secrets)((err as Error).message);
    throw new EnvironmentError(`cannot connect to the coordination database ${spec.redacted}: ${why}. Check --queue, that the server runs, and the credentials (PGPASSWORD or ~/.pgpass).`, undefined, { cause: err });
  }
  return {
    client,
    redacted: spec.redacted,
    [Symbol.asyncDispose]: async () => {
      opts.signal?.removeEventListener('abort', onAbort);
      await client.end().catch(() => {});
    },
  };
}
