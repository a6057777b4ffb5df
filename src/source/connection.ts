/**
 * How pgdrill reaches the source: a libpq URL or the PG* environment. The password goes to node-postgres and
 * to child tools through PGPASSWORD only, never argv; every session is read-only and named `pgdrill`.
 */
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { parse } from 'pg-connection-string';
import { ConfigError, EnvironmentError } from '../errors.js';
import type { ConnectionConfig } from '../pg/client.js';
import { isLibpqUrl, parseLibpqUrl, PERCENT_ENCODING_ADVICE, redactUrl, redactUrlsIn, type LibpqParams } from './libpq-url.js';
import { readService } from './service-file.js';

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
  return `${READ_ONLY_OPTION} -c statement_timeout=${ms(t.statementTimeoutMs, 60_000)} -c lock_timeout=${ms(t.lockTimeoutMs, 30_000)}`;
}

/** The startup option that makes a session read-only from its login on (before a login event trigger runs). */
const READ_ONLY_OPTION = '-c default_transaction_read_only=on';

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
  /**
   * Without a URL: what libpq's defaults and the PG* environment (or service file) gave, one line per setting with
   * where it came from (host or socket first, as psql tries it), for the message when the connection fails. Null with a URL.
   */
  readonly defaults: readonly string[] | null;
  /**
   * How pgdrill's sessions are made read-only: `startup` (the default: `default_transaction_read_only=on` as a startup
   * option, so nothing at all can write in them, not even a login event trigger), or `after-login` (the source's login
   * event trigger writes, which the startup option makes fail and with it the login: the option is dropped and every
   * session of pgdrill's sets read-only as its first statements, verified by SHOW; pg_dump's and pg_dumpall's are
   * read-only by what they send: see src/source/login.ts).
   */
  readonly readOnly: 'startup' | 'after-login';
}

const ENV_PASSTHROUGH = [
  'PGHOST', 'PGHOSTADDR', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGPASSFILE', 'PGDATABASE', 'PGSERVICE', 'PGSERVICEFILE',
  'PGSSLMODE', 'PGSSLROOTCERT', 'PGSSLCERT', 'PGSSLKEY', 'PGCONNECT_TIMEOUT', 'PGTARGETSESSIONATTRS', 'PGSYSCONFDIR',
] as const;

/** What names the server, database and role: a URL replaces the environment's values of these as a whole. */
const TARGET_ENV = ['PGHOST', 'PGHOSTADDR', 'PGPORT', 'PGUSER', 'PGDATABASE', 'PGSERVICE'] as const;

/**
 * The libpq keywords pgdrill honours — in its own node-postgres sessions and in the tools alike — and the environment
 * variable that carries each to the tools. `options` is merged with pgdrill's session options (which come last and
 * win); `application_name` is pgdrill's own (`pgdrill`: the lock watch and the audit find its sessions by it).
 */
const KEYWORD_ENV: Readonly<Record<string, string>> = {
  host: 'PGHOST', hostaddr: 'PGHOSTADDR', port: 'PGPORT', dbname: 'PGDATABASE', user: 'PGUSER', password: 'PGPASSWORD',
  sslmode: 'PGSSLMODE', sslrootcert: 'PGSSLROOTCERT', sslcert: 'PGSSLCERT', sslkey: 'PGSSLKEY',
  connect_timeout: 'PGCONNECT_TIMEOUT', target_session_attrs: 'PGTARGETSESSIONATTRS', options: 'PGOPTIONS',
  application_name: 'PGAPPNAME', service: 'PGSERVICE',
};

/** Debian's libpq default socket directory: where libpq connects when no host is given. */
const DEFAULT_SOCKET_DIR = '/var/run/postgresql';

export { redactUrl } from './libpq-url.js';

/** A ConfigError for a --source URL that does not parse, showing it redacted and saying how to encode it. */
function badUrl(url: string, why: string, err?: unknown): ConfigError {
  return new ConfigError(`cannot parse --source URL "${redactUrl(url)}": ${why}; ${PERCENT_ENCODING_ADVICE}`, [], { cause: err });
}

/** node-postgres's TLS settings for the libpq ssl* keywords (libpq's meaning of each sslmode). No TLS on a Unix socket, as libpq. */
function sslFor(k: LibpqParams, host: string): ConnectionConfig['ssl'] {
  const mode = k.sslmode ?? ((k.sslrootcert || k.sslcert || k.sslkey) ? 'prefer' : undefined);
  if (!mode || mode === 'disable' || mode === 'allow' || host.startsWith('/')) return undefined;
  const q = new URLSearchParams({ sslmode: mode });
  for (const key of ['sslrootcert', 'sslcert', 'sslkey']) if (k[key]) q.set(key, k[key]);
  return parse(`postgresql://localhost/?${q}`, { useLibpqCompat: true }).ssl as ConnectionConfig['ssl'];
}

/**
 * Resolve the source from a URL (`--source`) or, when none is given, from the PG* environment. `timeouts` bound
 * every session (default: statement_timeout 60 s, lock_timeout 30 s).
 *
 * The URL is read as libpq reads it (see libpq-url.ts): query parameters count (`?dbname=`, `?host=`, `?port=`,
 * `?user=`, `?sslmode=`, `?options=`, `?service=` …), a service file is resolved here so that pgdrill's own session
 * and the tools get the same effective keywords, and the tools get them as PG* variables (the password in
 * PGPASSWORD), never in argv. A keyword pgdrill cannot honour in its own session is refused, not ignored.
 * @throws ConfigError for a URL that does not parse (shown redacted), an unsupported keyword, several hosts, or a
 *   service that is not defined.
 */
export function resolveSource(url: string | undefined, env: NodeJS.ProcessEnv = process.env, timeouts: SourceSessionTimeouts = {}): SourceSpec {
  const toolEnv: Record<string, string> = {};
  for (const k of ENV_PASSTHROUGH) if (env[k]) toolEnv[k] = env[k]!;
  // HOME lets libpq find ~/.pgpass when no password is given.
  if (env.HOME) toolEnv.HOME = env.HOME;
  let fromUrl: LibpqParams = {};
  if (url !== undefined) {
    if (!isLibpqUrl(url)) {
      throw new ConfigError(`--source must be a libpq URL (postgresql://user@host:port/dbname), got "${redactUrl(url)}"`);
    }
    try {
      fromUrl = parseLibpqUrl(url);
    } catch (err) {
      throw badUrl(url, (err as Error).message, err);
    }
    // A URL fully replaces the environment's connection settings, so that nothing mixes.
    for (const k of TARGET_ENV) delete toolEnv[k];
  }
  const fromEnv: LibpqParams = {};
  for (const [keyword, name] of Object.entries(KEYWORD_ENV)) if (toolEnv[name]) fromEnv[keyword] = toolEnv[name]!;
  // libpq's order: what the URL says, then the service file, then the environment.
  const service = fromUrl.service ?? fromEnv.service;
  let fromService: LibpqParams = {};
  if (service) {
    try {
      fromService = readService(service, toolEnv);
    } catch (err) {
      throw new ConfigError(`the source's service: ${(err as Error).message}`, [], { cause: err });
    }
  }
  const k: LibpqParams = { ...fromEnv, ...fromService, ...fromUrl };
  delete k.service;
  const unsupported = Object.keys(k).filter((key) => !(key in KEYWORD_ENV));
  if (unsupported.length) {
    throw new ConfigError(
      `the source's connection parameter(s) ${unsupported.join(', ')} are not supported: pgdrill's own sessions could not honour them as libpq would ` +
        `(supported: ${Object.keys(KEYWORD_ENV).join(', ')})`,
    );
  }
  if (/,/.test(k.host ?? '') || /,/.test(k.hostaddr ?? '') || /,/.test(k.port ?? '')) {
    throw new ConfigError('the source names several hosts or ports: name one server (pgdrill drills, pins and compares one server)');
  }
  if (k.port !== undefined && !/^\d+$/.test(k.port)) {
    throw url !== undefined && fromUrl.port !== undefined ? badUrl(url, 'the port is not a number') : new ConfigError("the source's port is not a number: check PGPORT or the service file");
  }
  // The tools get the effective keywords as PG* variables: the service is resolved already (in libpq a service file
  // would otherwise win over the variables that carry the URL's values).
  delete toolEnv.PGSERVICE;
  for (const [keyword, value] of Object.entries(k)) if (keyword !== 'options' && keyword !== 'application_name') toolEnv[KEYWORD_ENV[keyword]!] = value;
  const host = k.hostaddr ?? k.host ?? DEFAULT_SOCKET_DIR;
  const user = k.user ?? userInfo().username;
  const c: ConnectionConfig = {
    host,
    port: Number(k.port ?? 5432),
    user,
    password: k.password,
    database: k.dbname ?? user,
    ssl: sslFor(k, host),
    ...(k.connect_timeout && Number(k.connect_timeout) > 0 ? { connectionTimeoutMillis: Math.max(2, Number(k.connect_timeout)) * 1000 } : {}),
  };
  const label = url !== undefined
    ? redactUrl(url)
    : `${host.startsWith('/') ? `postgresql://${user}@/${c.database}?host=${host}&port=${c.port}` : `postgresql://${user}@${host}:${c.port}/${c.database}`} (libpq defaults and the PG* environment)`;
  const defaults = url === undefined ? describeDefaults(k, { ...fromService }, service, c) : null;
  const secrets = k.password ? [k.password, encodeURIComponent(k.password)] : [];
  if (url !== undefined) {
    // The password as typed in the URL (encoded or not), so that logs are scrubbed of every form of it.
    const raw = /^postgres(?:ql)?:\/\/([^@/]*)@/.exec(url)?.[1];
    if (raw?.includes(':')) secrets.push(raw.slice(raw.indexOf(':') + 1));
  }
  return finish(c, toolEnv, label, secrets, timeouts, defaults, k.options);
}

/**
 * Where each setting of a source given by no URL came from: the service file, a PG* variable, or libpq's default
 * (the Unix socket in libpq's default directory first, as psql tries it; the OS user; a database named after the user).
 */
function describeDefaults(k: LibpqParams, fromService: LibpqParams, service: string | undefined, c: ConnectionConfig): string[] {
  const from = (keyword: string, unset: string): string =>
    keyword in fromService ? `service ${service}` : k[keyword] !== undefined ? KEYWORD_ENV[keyword]! : `${KEYWORD_ENV[keyword]} unset: ${unset}`;
  const host = String(c.host);
  const hostLine = k.hostaddr !== undefined
    ? `hostaddr ${k.hostaddr} (${from('hostaddr', '')})`
    : host.startsWith('/')
      ? `Unix socket ${join(host, `.s.PGSQL.${c.port}`)} (${from('host', "libpq's default socket directory, tried first as psql does")})`
      : `host ${host} (${from('host', '')})`;
  return [
    hostLine,
    `port ${c.port} (${from('port', 'the default')})`,
    `user ${c.user} (${from('user', 'the OS user')})`,
    `database ${c.database} (${from('dbname', 'the user name')})`,
  ];
}

/**
 * The error for a source that could not be reached: what was tried — with no URL, libpq's defaults and where each
 * came from, and whether the default socket exists — the driver's message (scrubbed), and what to check.
 */
export function connectError(spec: SourceSpec, err: unknown, scrub: (s: string) => string): EnvironmentError {
  const why = scrub((err as Error).message);
  if ((err as { code?: unknown }).code === '25006') {
    // A write at login, refused by the read-only session: only a login event trigger (PostgreSQL 17+) writes there.
    return new EnvironmentError(
      `cannot connect to the source ${spec.redacted}: the server refused the login with "${why}". A login event trigger ` +
        '(PostgreSQL 17+, CREATE EVENT TRIGGER … ON login) on the source writes at every login, and pgdrill\'s sessions ' +
        'are read-only from the moment they log in, so the trigger\'s write fails and with it the login. Nothing was ' +
        'written. To drill this source, make the trigger skip pgdrill\'s role (e.g. IF session_user = \'<drill role>\' ' +
        'THEN RETURN; END IF) or its application_name \'pgdrill\'; find the triggers with SELECT evtname FROM ' +
        "pg_event_trigger WHERE evtevent = 'login'.",
      undefined, { cause: err },
    );
  }
  const where = (err as { where?: unknown }).where;
  if (typeof where === 'string' && where.trim()) {
    // An error with a context at login is raised by code the server ran for the login: a login event trigger (17+).
    return new EnvironmentError(
      `cannot connect to the source ${spec.redacted}: the server refused the login with "${why}" (raised in ${scrub(where.trim().split('\n').join('; '))}). ` +
        'A login event trigger (PostgreSQL 17+, CREATE EVENT TRIGGER … ON login) on the source refused pgdrill\'s session ' +
        `(role ${String(spec.connection.user)}, application_name 'pgdrill'). Nothing was written. To drill this source, let the drill role log in ` +
        "(e.g. IF session_user = '<drill role>' THEN RETURN; END IF in the trigger's function); find the triggers with SELECT evtname, evtfoid::regproc " +
        "FROM pg_event_trigger WHERE evtevent = 'login'.",
      undefined, { cause: err },
    );
  }
  if (!spec.defaults) {
    return new EnvironmentError(`cannot connect to the source ${spec.redacted}: ${why}. Check the URL, that the server runs, and the credentials (PGPASSWORD or .pgpass).`, undefined, { cause: err });
  }
  const socket = /^Unix socket (\S+)/.exec(spec.defaults[0]!)?.[1];
  const missing = socket !== undefined && !existsSync(socket) ? ' — no socket there: no server listens in that directory' : '';
  return new EnvironmentError(
    `cannot connect to the source: ${why}. No source was given (no --source, no source.url in the config), so pgdrill ` +
      `tried what psql would, libpq's defaults and the PG* environment:\n${spec.defaults.map((d, i) => `  - ${d}${i === 0 ? missing : ''}`).join('\n')}\n` +
      'Give --source postgresql://USER@HOST:PORT/DBNAME (or source.url in the config), or set PGHOST (a socket directory such as /tmp, or a host name), PGPORT, PGUSER and PGDATABASE; the password goes in PGPASSWORD or ~/.pgpass.',
    undefined, { cause: err },
  );
}

function finish(c: ConnectionConfig, toolEnv: Record<string, string>, redacted: string, secrets: string[], timeouts: SourceSessionTimeouts, defaults: readonly string[] | null, userOptions?: string): SourceSpec {
  // The user's options first: pgdrill's (read-only, timeouts) come last and win.
  const sessionOptions = [userOptions?.trim(), sourceSessionOptions(timeouts)].filter(Boolean).join(' ');
  const connection: ConnectionConfig = {
    connectionTimeoutMillis: 15_000,
    ...c,
    application_name: APPLICATION_NAME,
    options: sessionOptions,
  };
  if (!connection.password && toolEnv.PGPASSWORD) connection.password = toolEnv.PGPASSWORD;
  const env = { ...toolEnv, PGOPTIONS: sessionOptions, PGAPPNAME: APPLICATION_NAME };
  return { connection, toolEnv: env, redacted, secrets: [...new Set(secrets)], sessionOptions, defaults, readOnly: 'startup' };
}

/** The report's `production.session_settings`: the session options, how the sessions are read-only, the application name. */
export function sessionSettingsText(spec: SourceSpec): string {
  const after = spec.readOnly === 'after-login' ? ' (read-only after login: SET default_transaction_read_only = on, SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY)' : '';
  const own = String(spec.connection.options ?? '').includes(JIT_OFF_OPTION) ? ` (pgdrill's own sessions also ${JIT_OFF_OPTION})` : '';
  return `${spec.sessionOptions}${after}${own} application_name=pgdrill`;
}

/** The startup option that keeps JIT out of pgdrill's own sessions (PostgreSQL 11+: older servers refuse an unknown setting). */
export const JIT_OFF_OPTION = '-c jit=off';

/**
 * The same source, pgdrill's own sessions (not pg_dump's or pg_dumpall's: their PGOPTIONS stay the user's and
 * pgdrill's read-only ones) opened with `jit=off` on a server of PostgreSQL 11 or later. The catalog facts' query
 * and the fingerprint are planned above `jit_above_cost` on a database of some thousands of relations (5,000 tables:
 * estimated cost ~218,000 against the default 100,000): compiling ~700 functions cost ~0.4 s of the source's CPU on
 * a query that then runs in ~1 s, and JIT never pays back on catalog-sized tables. A session setting: nothing on the
 * server changes. The guard's own session, opened before the version is known, sends `SET jit = off` instead.
 */
export function withOwnSessionsJitOff(spec: SourceSpec, serverMajor: number): SourceSpec {
  if (serverMajor < 11) return spec;
  return { ...spec, connection: { ...spec.connection, options: [spec.connection.options, JIT_OFF_OPTION].filter(Boolean).join(' ') } };
}

/**
 * The same source, its sessions made read-only after login instead of by the startup option (see
 * `SourceSpec.readOnly`): the option leaves the session options, the tools' PGOPTIONS and the connection, which
 * instead asks DbSession.open for `SET default_transaction_read_only = on` and `SET SESSION CHARACTERISTICS AS
 * TRANSACTION READ ONLY` before any other statement.
 */
export function readOnlyAfterLogin(spec: SourceSpec): SourceSpec {
  const without = (o: string) => o.split(READ_ONLY_OPTION).join(' ').replace(/\s+/g, ' ').trim();
  const sessionOptions = without(spec.sessionOptions);
  return {
    ...spec, sessionOptions, readOnly: 'after-login',
    connection: { ...spec.connection, options: sessionOptions, readOnlyAfterLogin: true },
    toolEnv: { ...spec.toolEnv, PGOPTIONS: sessionOptions },
  };
}

/** Scrub known secrets from a string (logs, error messages), and redact every libpq URL in it. */
export function scrubber(secrets: readonly string[]): (s: string) => string {
  // Longest first, so that no part of a longer form survives the replacement of a shorter one.
  const real = [...new Set(secrets.filter((s) => s.length >= 1))].sort((a, b) => b.length - a.length);
  return (s) => real.reduce((acc, secret) => acc.split(secret).join('***'), redactUrlsIn(s));
}
