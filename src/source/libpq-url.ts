/**
 * libpq's connection URIs, read the way libpq reads them (PostgreSQL's fe-connect.c, conninfo_uri_parse_options),
 * so that pgdrill's own session and the tools it starts reach the same server, database and role as
 * `psql URL` would: user info ends at the first `@` (or `/`), the password after the first `:` of it; hosts end at
 * `:` `/` `?` `,`; the path is the database; query parameters are keywords that override what came before
 * (`?dbname=x` wins over the path); every part is percent-decoded (`%XX` only; `+` stays `+`).
 *
 * A URL is shown only redacted (`redactUrl`), and no error of this parser quotes any part of it.
 */

/** Keywords and values, decoded, as libpq would hold them after parsing the URL. */
export type LibpqParams = Record<string, string>;

/** A URL libpq would refuse, or a part pgdrill cannot honour. `reason` never quotes the URL. */
export class LibpqUrlError extends Error {}

const PREFIX = /^postgres(?:ql)?:\/\//;

/** Every keyword libpq (up to version 17) accepts in a URL query. */
const KNOWN_KEYWORDS = new Set([
  'host', 'hostaddr', 'port', 'dbname', 'user', 'password', 'passfile', 'require_auth', 'channel_binding', 'connect_timeout',
  'client_encoding', 'options', 'application_name', 'fallback_application_name', 'keepalives', 'keepalives_idle',
  'keepalives_interval', 'keepalives_count', 'tcp_user_timeout', 'replication', 'sslmode', 'sslnegotiation',
  'sslcompression', 'sslcert', 'sslkey', 'sslpassword', 'sslcertmode', 'sslrootcert', 'sslcrl', 'sslcrldir', 'sslsni',
  'requirepeer', 'ssl_min_protocol_version', 'ssl_max_protocol_version', 'gssencmode', 'krbsrvname', 'gsslib',
  'gssdelegation', 'service', 'target_session_attrs', 'load_balance_hosts', 'requiressl',
]);

const PASSWORD_PARAM = new RegExp(`([?&]password=).*?(?=&(?:${[...KNOWN_KEYWORDS, 'ssl'].join('|')})=|$)`, 'gi');

/** Whether `url` is a libpq URI (scheme `postgresql://` or `postgres://`, as libpq spells it). */
export function isLibpqUrl(url: string): boolean {
  return PREFIX.test(url);
}

/** Decode `%XX` escapes as libpq does: any other `%` and `%00` are errors. */
function decode(part: string, what: string): string {
  if (!part.includes('%')) return part;
  const bytes: number[] = [];
  for (let i = 0; i < part.length; i++) {
    const c = part[i]!;
    if (c !== '%') {
      bytes.push(...Buffer.from(c, 'utf8'));
      continue;
    }
    const hex = part.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new LibpqUrlError(`the ${what} holds a "%" that does not start a percent-encoded byte (%XX)`);
    if (hex === '00') throw new LibpqUrlError(`the ${what} holds the forbidden byte %00`);
    bytes.push(parseInt(hex, 16));
    i += 2;
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * Parse a libpq URI into its keywords, as libpq does. Several hosts (`host1,host2`) are kept as libpq keeps them
 * (comma-separated); the caller decides what it accepts.
 * @throws LibpqUrlError where libpq would refuse the URL; the reason never quotes the URL.
 */
export function parseLibpqUrl(url: string): LibpqParams {
  const m = PREFIX.exec(url);
  if (!m) throw new LibpqUrlError('it does not start with postgresql:// or postgres://');
  const params: LibpqParams = {};
  let p = m[0].length;
  // User info: up to the first '@', unless a '/' comes first (then there is none).
  let q = p;
  while (q < url.length && url[q] !== '@' && url[q] !== '/') q++;
  if (url[q] === '@') {
    const info = url.slice(p, q);
    const colon = info.indexOf(':');
    const user = colon < 0 ? info : info.slice(0, colon);
    if (user) params.user = decode(user, 'user name');
    if (colon >= 0 && info.length > colon + 1) params.password = decode(info.slice(colon + 1), 'password');
    p = q + 1;
  }
  const hosts: string[] = [];
  const ports: string[] = [];
  let end: string;
  for (;;) {
    let host: string;
    if (url[p] === '[') {
      const close = url.indexOf(']', p);
      if (close < 0) throw new LibpqUrlError('an IPv6 host address lacks its closing "]"');
      if (close === p + 1) throw new LibpqUrlError('an IPv6 host address is empty');
      host = url.slice(p + 1, close);
      p = close + 1;
      if (p < url.length && !':/?,'.includes(url[p]!)) throw new LibpqUrlError(`an unexpected character follows an IPv6 host address at position ${p} (expected ":" or "/")`);
    } else {
      const start = p;
      while (p < url.length && !':/?,'.includes(url[p]!)) p++;
      host = url.slice(start, p);
    }
    hosts.push(host);
    let port = '';
    if (url[p] === ':') {
      const start = ++p;
      while (p < url.length && !'/?,'.includes(url[p]!)) p++;
      port = url.slice(start, p);
    }
    ports.push(port);
    end = url[p] ?? '';
    if (end !== ',') break;
    p++;
  }
  // libpq would take it as part of a host name, which holds no "@": it is the rest of a password or user name whose
  // "@" was not encoded (libpq splits the user info at the first one). Refused, where libpq would try to connect.
  if (hosts.some((h) => h.includes('@'))) throw new LibpqUrlError('the host part holds an "@" (a password or user name with an unencoded "@"?)');
  const hostList = hosts.join(',');
  const portList = ports.some((x) => x) ? ports.join(',') : '';
  if (hostList.replace(/,/g, '')) params.host = decode(hostList, 'host');
  if (portList) params.port = decode(portList, 'port');
  if (end === '/') {
    const start = ++p;
    while (p < url.length && url[p] !== '?') p++;
    const db = url.slice(start, p);
    // Ambiguous: `user:pa/ss@host/db` (a password with an unencoded "/") reads as host "user", database "ss@host/db".
    if (db.includes('@')) throw new LibpqUrlError('the database name holds an unencoded "@" (a password with an unencoded "/"?)');
    if (db) params.dbname = decode(db, 'database name');
    end = url[p] ?? '';
  }
  if (end === '?') {
    const query = url.slice(p + 1);
    for (const pair of query ? query.split('&') : []) {
      const eq = pair.indexOf('=');
      if (eq < 0) throw new LibpqUrlError('a query parameter lacks its "=" (a "&" in a value must be percent-encoded as %26)');
      if (pair.indexOf('=', eq + 1) >= 0) throw new LibpqUrlError('a query parameter holds a second "=" (percent-encode it as %3D)');
      let key = decode(pair.slice(0, eq), 'query parameter name');
      let value = decode(pair.slice(eq + 1), `value of query parameter ${JSON.stringify(key).slice(0, 40)}`);
      if (key === 'ssl' && value === 'true') [key, value] = ['sslmode', 'require']; // libpq's JDBC compatibility
      if (key === 'requiressl') [key, value] = ['sslmode', value === '1' ? 'require' : 'prefer'];
      if (!KNOWN_KEYWORDS.has(key)) throw new LibpqUrlError(`invalid URI query parameter ${JSON.stringify(key).slice(0, 60)}`);
      params[key] = value;
    }
  }
  return params;
}

/**
 * The URL for logs and messages: everything between `://` and the last `@` goes (the user name before the first `:`
 * stays), and so do `password=` query values — also for a URL that does not parse, where the password may hold an
 * unencoded `@`, `/`, `#` or `?`.
 */
export function redactUrl(url: string): string {
  const m = /^(postgres(?:ql)?:\/\/)/i.exec(url);
  if (!m) return url;
  let rest = url.slice(m[0].length);
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const info = rest.slice(0, at);
    const colon = info.indexOf(':');
    rest = `${colon < 0 ? info : `${info.slice(0, colon)}:***`}${rest.slice(at)}`;
  }
  // A password value runs to the next parameter (a "&" followed by a libpq keyword and "="), or to the end.
  rest = rest.replace(PASSWORD_PARAM, '$1***');
  return `${m[1]}${rest}`;
}

/** Redact every libpq URL in a text (a URL ends at white space or a quote). */
export function redactUrlsIn(text: string): string {
  return text.replace(/postgres(?:ql)?:\/\/[^\s"'`]*/gi, (u) => redactUrl(u));
}

/** How to fix a URL that does not parse; appended to every such error. */
export const PERCENT_ENCODING_ADVICE =
  'percent-encode reserved characters in the user name, password and database name (@ as %40, / as %2F, : as %3A, ' +
  '# as %23, ? as %3F, & as %26, = as %3D, % as %25, space as %20), or leave the password out of the URL and give it ' +
  'in PGPASSWORD or ~/.pgpass';
