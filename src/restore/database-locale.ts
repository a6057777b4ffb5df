/**
 * The locale the restored database is created with. A copy must sort, classify and case-map text as the source
 * does: a CHECK on `~ '^[[:alpha:]]+$'` holding 'é' fails to restore in a `C` database, a generated column calling
 * lower() computes other values, an index on text orders differently. So the copy is created from template0 with the
 * source's LC_COLLATE, LC_CTYPE, locale provider and ICU (or builtin) locale — per database, whatever locale the
 * sandbox's initdb used. Where the locale comes from:
 * - `run` (and `verify --source` without a better one): the source database's own settings (readDatabaseLocale);
 * - `verify` of an archive: the archive's DATABASE entry (the CREATE DATABASE line pg_dump writes into every archive);
 * - a plain dump made with --create carries its own CREATE DATABASE, which creates the database itself;
 * - otherwise: SANDBOX_DEFAULT_LOCALE (libc `C`), and the report says so.
 * A locale the sandbox's machine lacks is an environment defect, named before the restore with how to install it.
 */
import { EnvironmentError } from '../errors.js';
import type { Toolchain } from '../toolchain/toolchain.js';
import { startProcess } from '../exec/run-process.js';
import type { DbSession } from '../pg/client.js';

/** A database's locale settings (the encoding is passed on its own). */
export interface DatabaseLocale {
  /** LC_COLLATE (libc). */
  readonly collate: string;
  /** LC_CTYPE (libc). */
  readonly ctype: string;
  /** pg_database.datlocprovider: `libc` before PostgreSQL 15. */
  readonly provider: 'libc' | 'icu' | 'builtin';
  /** The ICU locale (provider icu) or the builtin one (provider builtin, PostgreSQL 17+); null for libc. */
  readonly locale: string | null;
  /** ICU tailoring rules (PostgreSQL 16+), or null. */
  readonly icuRules: string | null;
}

/** What pgdrill used before it knew better, and uses when nothing says otherwise: libc `C`. */
export const SANDBOX_DEFAULT_LOCALE: DatabaseLocale = { collate: 'C', ctype: 'C', provider: 'libc', locale: null, icuRules: null };

/** One query, whatever the server's version: columns it lacks read as NULL through to_jsonb. */
export const DATABASE_LOCALE_SQL = `
SELECT d.datcollate::text AS collate, d.datctype::text AS ctype,
       coalesce(pg_catalog.to_jsonb(d) ->> 'datlocprovider', 'c') AS provider,
       coalesce(pg_catalog.to_jsonb(d) ->> 'daticulocale', pg_catalog.to_jsonb(d) ->> 'datlocale') AS locale,
       pg_catalog.to_jsonb(d) ->> 'daticurules' AS icu_rules
  FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()`;

const PROVIDERS: Readonly<Record<string, DatabaseLocale['provider']>> = { c: 'libc', i: 'icu', b: 'builtin', libc: 'libc', icu: 'icu', builtin: 'builtin' };

/** The connected database's locale (read-only: one catalog SELECT). */
export async function readDatabaseLocale(db: DbSession): Promise<DatabaseLocale> {
  const [r] = await db.query<{ collate: string; ctype: string; provider: string; locale: string | null; icu_rules: string | null }>(DATABASE_LOCALE_SQL);
  const provider = PROVIDERS[r!.provider];
  if (!provider) throw new Error(`unknown locale provider '${r!.provider}' of the current database`);
  return { collate: r!.collate, ctype: r!.ctype, provider, locale: provider === 'libc' ? null : r!.locale, icuRules: r!.icu_rules };
}

/** One line for reports: `libc LC_COLLATE en_US.UTF-8, LC_CTYPE en_US.UTF-8` or `icu de-DE (LC_COLLATE C, LC_CTYPE C)`. */
export function describeLocale(l: DatabaseLocale): string {
  const libc = l.collate === l.ctype ? `${l.collate}` : `LC_COLLATE ${l.collate}, LC_CTYPE ${l.ctype}`;
  return l.provider === 'libc' ? `libc ${libc}` : `${l.provider} ${l.locale ?? '(none)'}${l.icuRules ? ` with rules ${JSON.stringify(l.icuRules)}` : ''} (libc ${libc})`;
}

const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * The locale clauses of CREATE DATABASE for a server of `serverVersionNum`: LOCALE_PROVIDER and its locale only
 * where the server has them (15+; BUILTIN_LOCALE 17+, ICU_RULES 16+).
 * @throws EnvironmentError when the server cannot create such a database at all.
 */
export function localeClauses(l: DatabaseLocale, serverVersionNum: number): string {
  const libc = ` LC_COLLATE ${lit(l.collate)} LC_CTYPE ${lit(l.ctype)}`;
  const need = (v: number, what: string) => {
    if (serverVersionNum < v) {
      throw new EnvironmentError(`the sandbox's PostgreSQL (${serverVersionNum}) cannot create a database with ${what} (${describeLocale(l)}): run the sandbox on PostgreSQL ${Math.floor(v / 10000)} or later (--sandbox-major ${Math.floor(v / 10000)})`);
    }
  };
  if (l.provider === 'libc') return serverVersionNum >= 150000 ? ` LOCALE_PROVIDER libc${libc}` : libc;
  if (l.provider === 'icu') {
    need(150000, 'the ICU locale provider');
    if (l.icuRules) need(160000, 'ICU rules');
    return ` LOCALE_PROVIDER icu ICU_LOCALE ${lit(l.locale ?? '')}${l.icuRules ? ` ICU_RULES ${lit(l.icuRules)}` : ''}${libc}`;
  }
  need(170000, 'the builtin locale provider');
  return ` LOCALE_PROVIDER builtin BUILTIN_LOCALE ${lit(l.locale ?? '')}${libc}`;
}

/**
 * A CREATE DATABASE that failed on its locale becomes an environment defect (the backup is not at fault): it names
 * the locale and how to provide it. Other errors are returned as they are.
 */
export function localeError(err: unknown, l: DatabaseLocale, encoding: string): unknown {
  const e = err as { message?: string; code?: string };
  const msg = e.message ?? '';
  // 42809 "invalid LC_COLLATE locale name", 22023 "encoding … does not match locale …", "could not open collator"…
  if (!/locale|collator|ICU|encoding/i.test(msg)) return err;
  const libcNames = [...new Set([l.collate, l.ctype])].filter((n) => n !== 'C' && n !== 'POSIX');
  const how = l.provider === 'icu' && /collator|ICU/i.test(msg)
    ? `the sandbox's PostgreSQL must be built with ICU (Debian's is) and know ICU locale ${JSON.stringify(l.locale)}`
    : `generate the locale on the machine that runs pgdrill — Debian/Ubuntu: apt-get install locales, uncomment ${libcNames.map((n) => JSON.stringify(n)).join(' and ') || 'it'} in /etc/locale.gen (or run dpkg-reconfigure locales), then locale-gen; \`locale -a\` lists what is installed`;
  return new EnvironmentError(
    `the sandbox cannot create the restored database with the source's locale (${describeLocale(l)}, encoding ${encoding}): ${msg}. ` +
      `This is the machine, not the backup: ${how}. Nothing was restored.`, undefined, { cause: err });
}

/**
 * The locale in pg_dump's `CREATE DATABASE` line (`… ENCODING = 'UTF8' LOCALE_PROVIDER = icu LOCALE = 'en_US.UTF-8'
 * ICU_LOCALE = 'de-DE';`), or null when the line is not one. pg_dump writes LOCALE when LC_COLLATE and LC_CTYPE are
 * equal, else both, and the provider only from PostgreSQL 15 on.
 */
export function parseCreateDatabaseLocale(line: string): { encoding: string | null; locale: DatabaseLocale } | null {
  // The options follow the database's name, which may be quoted and hold anything (even ` LOCALE = 'x'`).
  const head = /^CREATE DATABASE (?:"(?:[^"]|"")*"|[^\s"]+)/.exec(line);
  if (!head) return null;
  const opts = new Map<string, string>();
  for (const m of line.slice(head[0].length).matchAll(/\b([A-Z_]+) = ('(?:[^']|'')*'|[A-Za-z0-9_]+)/g)) {
    const v = m[2]!;
    opts.set(m[1]!, v.startsWith("'") ? v.slice(1, -1).replace(/''/g, "'") : v);
  }
  const provider = PROVIDERS[(opts.get('LOCALE_PROVIDER') ?? 'libc').toLowerCase()];
  if (!provider) return null;
  const both = opts.get('LOCALE');
  const collate = opts.get('LC_COLLATE') ?? both;
  const ctype = opts.get('LC_CTYPE') ?? both;
  if (collate === undefined || ctype === undefined) return null;
  const locale = provider === 'icu' ? opts.get('ICU_LOCALE') ?? null : provider === 'builtin' ? opts.get('BUILTIN_LOCALE') ?? null : null;
  return { encoding: opts.get('ENCODING') ?? null, locale: { collate, ctype, provider, locale, icuRules: provider === 'icu' ? opts.get('ICU_RULES') ?? null : null } };
}

/**
 * The locale of the database an archive (custom, directory, tar) was dumped from: pg_dump writes a DATABASE entry
 * into every archive, printed by `pg_restore --create --schema-only` as its first statement; pg_restore is stopped
 * as soon as it is read. Null when there is none (or pg_restore fails: the archive's full read reports that).
 */
export async function archiveDatabaseLocale(bins: Toolchain, path: string, signal?: AbortSignal): Promise<{ encoding: string | null; locale: DatabaseLocale } | null> {
  const stop = new AbortController();
  const proc = startProcess({
    bin: bins.path('pg_restore'), args: ['--create', '--schema-only', '--file=-', path], stdout: 'pipe', allowFailure: true,
    signal: signal ? AbortSignal.any([signal, stop.signal]) : stop.signal,
  });
  proc.done.catch(() => {});
  let found: { encoding: string | null; locale: DatabaseLocale } | null = null;
  let rest = '';
  try {
    for await (const chunk of proc.stdout!) {
      const lines = (rest + String(chunk)).split('\n');
      rest = lines.pop()!;
      const line = lines.find((l) => l.startsWith('CREATE DATABASE '));
      if (line !== undefined) {
        found = parseCreateDatabaseLocale(line);
        break;
      }
      // The DATABASE entry comes first: past another object's CREATE, the archive has none (e.g. pg_dump --table).
      if (lines.some((l) => /^(CREATE|ALTER) /.test(l))) break;
      if (rest.length > 1 << 20) break; // not pg_restore's SQL
    }
  } finally {
    stop.abort();
    proc.stdout!.destroy();
    await proc.done.catch(() => {});
  }
  signal?.throwIfAborted();
  return found;
}
