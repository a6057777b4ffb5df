/**
 * What `pgdrill init` reads from a source to write a starter config: its identity, its database's encoding and
 * locale, how many objects of each kind it holds per schema, and its roles. Read-only: the session carries the
 * same read-only, time-bounded options as every pgdrill session on the source, and sends only SELECTs.
 */
import { countByType, listObjects } from '../catalog/objects.js';
import { resolveSource, scrubber } from '../source/connection.js';
import { loginToSource } from '../source/login.js';
import { readIdentity, type SourceIdentity } from '../source/identity.js';
import { readDatabaseLocale, type DatabaseLocale } from '../restore/database-locale.js';

/** One role of the source cluster, as `init` describes it. */
export interface SourceRole {
  readonly name: string;
  readonly canLogin: boolean;
  readonly superuser: boolean;
  /** Number of objects of the database (tables, views, functions, …) it owns. */
  readonly owns: number;
}

/** The facts a starter config is written from. */
export interface SourceFacts {
  readonly identity: SourceIdentity;
  /** The source as given (URL or PG* environment), password replaced by `***`. */
  readonly redacted: string;
  readonly encoding: string;
  /** LC_COLLATE, LC_CTYPE, provider and ICU locale: what the drill's restored copy is created with. */
  readonly locale: DatabaseLocale;
  /** Objects per kind (table, view, materialized_view, sequence, function, …) in the whole database. */
  readonly counts: Readonly<Record<string, number>>;
  /** Per schema: tables, views and materialized views. */
  readonly schemas: readonly { readonly schema: string; readonly tables: number; readonly views: number; readonly materializedViews: number }[];
  /** Roles of the cluster other than PostgreSQL's own (pg_*), by name. */
  readonly roles: readonly SourceRole[];
}

/** Options of `readSourceFacts`. */
export interface ReadSourceFactsOptions {
  /** Ends the connection (Ctrl-C). */
  readonly signal?: AbortSignal;
  /** Environment for the PG* defaults; default process.env. */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Connect to the source (a libpq URL, or the PG* environment when `url` is undefined) and read its facts.
 * @throws ConfigError for a URL that cannot be parsed, EnvironmentError when the source cannot be reached.
 */
export async function readSourceFacts(url: string | undefined, opts: ReadSourceFactsOptions = {}): Promise<SourceFacts> {
  const spec = resolveSource(url, opts.env ?? process.env);
  const { db } = await loginToSource(spec, { signal: opts.signal, scrub: scrubber(spec.secrets) });
  try {
    const identity = await readIdentity(db);
    const encoding = await db.value<string>('SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()');
    const locale = await readDatabaseLocale(db);
    const objects = await listObjects(db);
    const perSchema = new Map<string, { tables: number; views: number; materializedViews: number }>();
    for (const o of objects) {
      if (o.schema === null || !['table', 'view', 'materialized_view'].includes(o.type)) continue;
      const s = perSchema.get(o.schema) ?? { tables: 0, views: 0, materializedViews: 0 };
      if (o.type === 'table') s.tables++;
      else if (o.type === 'view') s.views++;
      else s.materializedViews++;
      perSchema.set(o.schema, s);
    }
    const owned = new Map<string, number>();
    for (const o of objects) if (o.owner && o.type !== 'index') owned.set(o.owner, (owned.get(o.owner) ?? 0) + 1);
    const roles = (await db.query<{ rolname: string; rolcanlogin: boolean; rolsuper: boolean }>(
      "SELECT rolname, rolcanlogin, rolsuper FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY rolname",
    )).map((r) => ({ name: r.rolname, canLogin: r.rolcanlogin, superuser: r.rolsuper, owns: owned.get(r.rolname) ?? 0 }));
    return {
      identity,
      redacted: spec.redacted,
      encoding,
      locale,
      counts: countByType(objects),
      schemas: [...perSchema].map(([schema, c]) => ({ schema, ...c })).sort((a, b) => (a.schema < b.schema ? -1 : a.schema > b.schema ? 1 : 0)),
      roles,
    };
  } catch (err) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    throw err;
  } finally {
    await db.close();
  }
}
