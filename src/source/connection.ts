/**
 * How pgdrill reaches the source: a libpq URL or the PG* environment. The password goes to node-postgres and
 * to child tools through PGPASSWORD only, never argv; every session is read-only and named `pgdrill`.
 */
import { parse } from 'pg-connection-string';
import { ConfigError } from '../errors.js';
import type { ConnectionConfig } from '../pg/client.js';

/** Timeouts of pgdrill's sessions on the source. */
export interface SourceSessionTimeouts {
  /**
   * statement_timeout of pgdrill's own sessions, so that no catalog query can run on unbounded. Default 60 s
   * (config source.statement_timeout). The snapshot session lifts it (`SET statement_timeout = 0`) for the exact
   * counts, which must be able to count big tables; pg_dump sets its own (0).
   */
  readonly statementTimeoutMs?: number;
  /** lock_timeout: no pgdrill statement waits longer than this for a lock. Default 30 s (config backup.lock_wait_timeout). */
  readonly lockTimeoutMs?: number;
}

/**
 * The startup options (libpq `options`, PGOPTIONS for the tools) of every session pgdrill opens on the source:
 * read-only by default, and bounded in time and in lock waits.
 */
export function sourceSessionOptions(t: SourceSessionTimeouts = {}): string {
  const ms = (v: number | undefined, dflt: number) => Math.max(1, Math.round(v ?? dflt));
  return `-c default_transaction_read_only=on -c statement_timeout=${ms(t.statementTimeoutMs, 60_000)} -c lock_timeout=${ms(t.lockTimeoutMs, 30_000)}`;
}

/** Settings every pgdrill session on the source carries by default (also given to pg_dump/pg_dumpall through PGOPTIONS). */
export const SOURCE_SESSION_OPTIONS = sourceSessionOptions();
export const APPLICATION_NAME = 'pgdrill';

/** A resolved source: config for node-postgres, environment for PostgreSQL's tools, a redacted label. */
export interface SourceSpec {
  readonly connection: ConnectionConfig;
  readonly toolEnv: Readonly<Record<string, string>>;
  /** The URL with its password replaced by `***`, for logs and reports. */
  readonly redacted: string;
  /** The password, only so that logs can be scrubbed of it. */
  readonly secrets: readonly string[];
  /** The session options every connection to the source carries (see `sourceSessionOptions`). */
  readonly sessionOptions: string;
}

const ENV_PASSTHROUGH = [
  'PGHOST', 'PGHOSTADDR', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGPASSFILE', 'PGDATABASE', 'PGSERVICE', 'PGSERVICEFILE',
  'PGSSLMODE', 'PGSSLROOTCERT', 'PGSSLCERT', 'PGSSLKEY', 'PGCONNECT_TIMEOUT', 'PGTARGETSESSIONATTRS', 'PGSYSCONFDIR',
] as const;

const URL_PARAM_ENV: Record<string, string> = {
  sslmode: 'PGSSLMODE', sslrootcert: 'PGSSLROOTCERT', sslcert: 'PGSSLCERT', sslkey: 'PGSSLKEY',
  connect_timeout: 'PGCONNECT_TIMEOUT', target_session_attrs: 'PGTARGETSESSIONATTRS', passfile: 'PGPASSFILE',
};

/** Replace the password in a libpq URL with ***. */
export function redactUrl(url: string): string {
  return url
    .replace(/^(postgres(?:ql)?:\/\/[^:@/?#]*:)([^@/?#]*)@/i, '$1***@')
    .replace(/([?&]password=)[^&]*/gi, '$1***');
}

/**
 * Resolve the source from a URL (`--source`) or, when none is given, from the PG* environment. `timeouts` bound
 * every session (default: statement_timeout 60 s, lock_timeout 30 s).
 * @throws ConfigError for a URL that cannot be parsed.
 */
export function resolveSource(url: string | undefined, env: NodeJS.ProcessEnv = process.env, timeouts: SourceSessionTimeouts = {}): SourceSpec {
  const toolEnv: Record<string, string> = {};
  for (const k of ENV_PASSTHROUGH) if (env[k]) toolEnv[k] = env[k]!;
  // HOME lets libpq find ~/.pgpass when no password is given.
  if (env.HOME) toolEnv.HOME = env.HOME;
  if (!url) {
    const c: ConnectionConfig = {};
    const label = `postgresql://${toolEnv.PGUSER ?? ''}@${toolEnv.PGHOST ?? ''}${toolEnv.PGPORT ? `:${toolEnv.PGPORT}` : ''}/${toolEnv.PGDATABASE ?? ''}`;
    return finish(c, toolEnv, `${label} (from PG* environment)`, toolEnv.PGPASSWORD ? [toolEnv.PGPASSWORD] : [], timeouts);
  }
  if (!/^postgres(ql)?:\/\//i.test(url)) {
    throw new ConfigError(`--source must be a libpq URL (postgresql://user@host:port/dbname), got "${redactUrl(url)}"`);
  }
  let p: ReturnType<typeof parse>;
  try {
    p = parse(url);
  } catch (err) {
    throw new ConfigError(`cannot parse --source URL "${redactUrl(url)}": ${(err as Error).message}`, [], { cause: err });
  }
  // A URL fully replaces the environment's connection settings, so that nothing mixes.
  for (const k of ['PGHOST', 'PGHOSTADDR', 'PGPORT', 'PGUSER', 'PGDATABASE', 'PGSERVICE']) delete toolEnv[k];
  if (p.host) toolEnv.PGHOST = p.host;
  if (p.port) toolEnv.PGPORT = String(p.port);
  if (p.user) toolEnv.PGUSER = p.user;
  if (p.password) toolEnv.PGPASSWORD = p.password;
  if (p.database) toolEnv.PGDATABASE = p.database;
  const q = new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
  for (const [param, envName] of Object.entries(URL_PARAM_ENV)) {
    const v = q.get(param);
    if (v) toolEnv[envName] = v;
  }
  const c: ConnectionConfig = {
    host: p.host ?? undefined,
    port: p.port ? Number(p.port) : undefined,
    user: p.user ?? undefined,
    password: p.password ?? undefined,
    database: p.database ?? undefined,
    ssl: (p.ssl as ConnectionConfig['ssl']) ?? undefined,
  };
  const secrets = [p.password, toolEnv.PGPASSWORD].filter((s): s is string => !!s);
  return finish(c, toolEnv, redactUrl(url), secrets, timeouts);
}

function finish(c: ConnectionConfig, toolEnv: Record<string, string>, redacted: string, secrets: string[], timeouts: SourceSessionTimeouts): SourceSpec {
  const sessionOptions = sourceSessionOptions(timeouts);
  const connection: ConnectionConfig = {
    ...c,
    application_name: APPLICATION_NAME,
    options: sessionOptions,
    connectionTimeoutMillis: 15_000,
  };
  if (!connection.password && toolEnv.PGPASSWORD) connection.password = toolEnv.PGPASSWORD;
  const env = { ...toolEnv, PGOPTIONS: sessionOptions, PGAPPNAME: APPLICATION_NAME };
  return { connection, toolEnv: env, redacted, secrets: [...new Set(secrets)], sessionOptions };
}

/** Scrub known secrets from a string (logs, error messages). */
export function scrubber(secrets: readonly string[]): (s: string) => string {
  const real = secrets.filter((s) => s.length >= 1);
  return (s) => real.reduce((acc, secret) => acc.split(secret).join('***'), redactUrl(s));
}
