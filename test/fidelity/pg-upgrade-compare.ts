/**
 * An independent, pg_upgrade-style comparison of a database with its dump-and-restore copy — written for the tests
 * without any of pgdrill's code, so that it can be the truth pgdrill's findings are held to: dump the source, restore
 * the dump into a second cluster, dump the copy, compare the two dumps entry by entry; then compare a few catalog
 * facts that a dump does not show (column order by attnum, constraint/index/trigger names and definitions).
 *
 * Every difference is named by an object key of one vocabulary (`table public.t`, `constraint public.t.c`,
 * `index public.i`, `function public.f`, …): `objectKey` maps pg_dump's entry headers onto it, `findingKey` maps
 * the objects pgdrill names in its report, so the two sets can be compared for equality.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { runProcess } from '../../src/exec/run-process.js';
import type { PgTool } from '../../src/exec/binaries.js';
import { bins } from '../helpers/clusters.js';

/** A libpq environment (PGHOST, PGPORT, PGUSER) of a running cluster. */
export type PgEnv = Record<string, string>;

/** The true differences: object key → what differs. */
export type Differences = Map<string, string[]>;

function add(d: Differences, key: string, why: string): void {
  const list = d.get(key) ?? [];
  list.push(why);
  d.set(key, list);
}

/** Strip a function's argument list: pg_dump and the catalog spell argument types differently in places. */
const stripArgs = (name: string) => name.replace(/\(.*$/s, '');

/** The object key of a pg_dump entry (`-- Name: N; Type: T; Schema: S`), or of a typed name inside ACL/COMMENT entries. */
export function objectKey(type: string, schema: string, name: string): string {
  const t = type.toLowerCase();
  const q = (n: string) => (schema === '-' ? n : `${schema}.${n}`);
  const firstWord = (n: string) => n.split(' ')[0]!; // split returns at least one element
  const rest = (n: string) => n.slice(n.indexOf(' ') + 1);
  switch (t) {
    case 'table': case 'table data': case 'table attach': case 'default':
      return `table ${q(t === 'default' ? firstWord(name) : name)}`; // DEFAULT's name is "table column"
    case 'constraint': case 'fk constraint': case 'check constraint':
      return `constraint ${q(`${firstWord(name)}.${rest(name)}`)}`;
    case 'trigger':
      return `trigger ${q(`${firstWord(name)}.${rest(name)}`)}`;
    case 'index': case 'index attach':
      return `index ${q(name)}`;
    case 'function': case 'procedure': case 'aggregate':
      return `function ${q(stripArgs(name))}`;
    case 'sequence': case 'sequence set': case 'sequence owned by':
      return `sequence ${q(name)}`;
    case 'materialized view data':
      return `materialized view ${q(name)}`;
    case 'acl': case 'comment': case 'security label': {
      // "TABLE actor", "FUNCTION f(integer)", "COLUMN actor.name", "SCHEMA public": the object it is about.
      const m = /^(COLUMN|TABLE|FUNCTION|PROCEDURE|AGGREGATE|SEQUENCE|VIEW|MATERIALIZED VIEW|FOREIGN TABLE|TYPE|DOMAIN|SCHEMA|INDEX|CONSTRAINT|TRIGGER) (.*)$/s.exec(name);
      if (!m) return `${t} ${q(name)}`;
      const kind = m[1]!, object = m[2]!; // both groups always take part in a match
      if (kind === 'COLUMN') return `table ${q(object.replace(/\.[^.]*$/, ''))}`;
      if (kind === 'SCHEMA') return `schema ${object}`;
      if (kind === 'CONSTRAINT' || kind === 'TRIGGER') return `${kind.toLowerCase()} ${q(object.replace(/ ON /, '.').replace(/^(\S+)\.(\S+)$/, '$2.$1'))}`;
      return objectKey(kind, schema, object);
    }
    default:
      return `${t} ${q(name)}`;
  }
}

/** Kinds pgdrill names objects with (src/fidelity/catalog-facts.ts labels), longest first. */
const FINDING_KINDS = ['materialized view', 'foreign table', 'event trigger', 'base type', 'constraint', 'procedure', 'aggregate', 'collation',
  'sequence', 'function', 'trigger', 'column', 'domain', 'schema', 'table', 'index', 'range', 'view', 'type', 'enum'];

/** The object key of an object pgdrill names (`column public.t.c`, `constraint public.t.c`, `function public.f(integer)`, …). */
export function findingKey(object: string): string {
  const kind = FINDING_KINDS.find((k) => object.startsWith(`${k} `));
  if (!kind) return object;
  const name = object.slice(kind.length + 1);
  switch (kind) {
    case 'column': return `table ${name.replace(/\.[^.]*$/, '')}`;
    case 'function': case 'procedure': case 'aggregate': return `function ${stripArgs(name)}`;
    default: return `${kind} ${name}`;
  }
}

const HEADER = /^-- (?:Data for )?Name: (.*?); Type: ([A-Z ]+); Schema: ([^;]*); Owner: .*$/;

/**
 * A plain dump as its entries: entry key (type, schema, name) → text, with the lines that differ in every dump
 * (`\restrict`/`\unrestrict` and their key) left out and the rows of each COPY block sorted (a copy's heap need
 * not keep the source's row order).
 */
export function dumpEntries(text: string): Map<string, { readonly key: string; readonly text: string }> {
  const out = new Map<string, { key: string; text: string }>();
  let current = { id: '(preamble)', key: 'preamble', lines: [] as string[] };
  let copy: string[] | null = null;
  const flush = () => out.set(current.id, { key: current.key, text: current.lines.join('\n') });
  for (const line of text.split('\n')) {
    if (copy) {
      if (line === '\\.') {
        current.lines.push(...copy.sort(), line);
        copy = null;
      } else copy.push(line);
      continue;
    }
    if (/^\\(un)?restrict /.test(line)) continue;
    const h = HEADER.exec(line);
    if (h) {
      flush();
      current = { id: `${h[2]}|${h[3]}|${h[1]}`, key: objectKey(h[2]!, h[3]!, h[1]!), lines: [] }; // groups always take part
      continue;
    }
    current.lines.push(line);
    if (/^COPY .* FROM stdin;$/.test(line)) copy = [];
  }
  flush();
  return out;
}

/** Compare two plain dumps entry by entry: every differing, missing or extra entry, under its object key. */
export function compareDumps(source: string, copy: string, into: Differences): void {
  const a = dumpEntries(source);
  const b = dumpEntries(copy);
  for (const [id, e] of a) {
    const other = b.get(id);
    if (!other) add(into, e.key, `dump entry ${id} missing in the copy's dump`);
    else if (other.text !== e.text) add(into, e.key, `dump entry ${id} differs`);
  }
  for (const [id, e] of b) if (!a.has(id)) add(into, e.key, `dump entry ${id} only in the copy's dump`);
}

const USER_NS = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'`;
const REL_LABEL = `CASE c.relkind WHEN 'r' THEN 'table ' WHEN 'p' THEN 'table ' WHEN 'f' THEN 'foreign table ' WHEN 'v' THEN 'view '
  WHEN 'm' THEN 'materialized view ' WHEN 'c' THEN 'type ' END || n.nspname || '.' || c.relname`;

/** Catalog facts a dump does not show, as (key, attribute, value). */
const FACTS_SQL = `
SELECT ${REL_LABEL} AS key, 'column order (attnum of live columns)' AS attribute, string_agg(a.attname, ', ' ORDER BY a.attnum) AS value
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'c') AND ${USER_NS}
 GROUP BY 1
UNION ALL
SELECT ${REL_LABEL}, 'column ' || a.attname, concat_ws(' ', format_type(a.atttypid, a.atttypmod), CASE WHEN a.attnotnull THEN 'NOT NULL' END,
       'DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), 'GENERATED ' || nullif(a.attgenerated::text, ''), 'IDENTITY ' || nullif(a.attidentity::text, ''),
       'COLLATE ' || (SELECT collname FROM pg_collation WHERE oid = a.attcollation AND a.attcollation <> 0), 'local ' || a.attislocal, 'inherited ' || a.attinhcount)
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'c') AND ${USER_NS}
UNION ALL
SELECT 'constraint ' || n.nspname || '.' || coalesce(c.relname, t.typname) || '.' || co.conname, 'definition', pg_get_constraintdef(co.oid)
  FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace
  LEFT JOIN pg_class c ON c.oid = co.conrelid LEFT JOIN pg_type t ON t.oid = co.contypid
 WHERE ${USER_NS}
UNION ALL
SELECT 'index ' || n.nspname || '.' || c.relname, 'definition', pg_get_indexdef(i.indexrelid) || CASE WHEN NOT i.indisvalid THEN ' (INVALID)' ELSE '' END
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE ${USER_NS}
UNION ALL
SELECT 'trigger ' || n.nspname || '.' || c.relname || '.' || tg.tgname, 'definition', pg_get_triggerdef(tg.oid)
  FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT tg.tgisinternal AND ${USER_NS}
UNION ALL
SELECT 'database', x.attribute, x.value
  FROM pg_database d CROSS JOIN LATERAL (VALUES ('encoding', pg_encoding_to_char(d.encoding)::text), ('lc_collate', d.datcollate::text),
       ('lc_ctype', d.datctype::text), ('locale provider', d.datlocprovider::text), ('icu locale', d.daticulocale::text)) AS x(attribute, value)
 WHERE d.datname = current_database()`;

async function facts(env: PgEnv, database: string): Promise<Map<string, string | null>> {
  const c = new pg.Client({ host: env.PGHOST, port: Number(env.PGPORT), user: env.PGUSER, password: env.PGPASSWORD, database });
  await c.connect();
  try {
    const r = await c.query<{ key: string; attribute: string; value: string | null }>(FACTS_SQL);
    return new Map(r.rows.map((x) => [`${x.key}\u0000${x.attribute}`, x.value]));
  } finally {
    await c.end();
  }
}

/** Compare the catalog facts of two databases: every fact that differs or exists on one side only, under its key. */
export async function compareCatalogs(source: PgEnv, database: string, copy: PgEnv, copyDatabase: string, into: Differences): Promise<number> {
  const [a, b] = await Promise.all([facts(source, database), facts(copy, copyDatabase)]);
  const show = (v: string | null | undefined) => (v === undefined ? '(absent)' : JSON.stringify(v));
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    if (a.get(k) === b.get(k) && a.has(k) === b.has(k)) continue;
    const [key = '', attribute] = k.split('\u0000');
    add(into, key, `${attribute}: source ${show(a.get(k))}, copy ${show(b.get(k))}`);
  }
  return a.size;
}

/** What the comparison found, and what it did. */
export interface PgUpgradeComparison {
  readonly differences: Differences;
  /** psql's ERROR lines while restoring the source's dump into the copy (each also a difference: `restore error`). */
  readonly restoreErrors: readonly string[];
  readonly dumpEntries: number;
  readonly catalogFacts: number;
  /** The source's plain dump (with data), for `compareCopy` of other copies. */
  readonly sourceDump: string;
}

/** Dump the copy's `database` (plain, with data) and compare it with the source's dump, then both catalogs. */
export async function compareCopy(o: { readonly source: PgEnv; readonly sourceDump: string; readonly copy: PgEnv; readonly copyDatabase: string; readonly database: string; readonly copyDump: string }): Promise<{ differences: Differences; catalogFacts: number }> {
  const b = await bins();
  await runProcess({ bin: b.path('pg_dump'), args: ['-Fp', '--no-sync', '-f', o.copyDump, '-d', o.copyDatabase], env: o.copy, stdout: 'ignore' });
  const differences: Differences = new Map();
  const [a, bb] = await Promise.all([readFile(o.sourceDump, 'utf8'), readFile(o.copyDump, 'utf8')]);
  compareDumps(a, bb, differences);
  const catalogFacts = await compareCatalogs(o.source, o.database, o.copy, o.copyDatabase, differences);
  return { differences, catalogFacts };
}

/**
 * Dump `database` of the source (plain, with data), restore it into `copy` (globals first, without the bootstrap
 * superuser's role, which both clusters have) with the source database's encoding and locale, then `compareCopy`.
 * `copy` must be a fresh cluster whose bootstrap superuser has the source's name.
 */
export async function pgUpgradeStyleCompare(o: { readonly source: PgEnv; readonly copy: PgEnv; readonly database: string; readonly workDir: string }): Promise<PgUpgradeComparison> {
  const b = await bins();
  const run = (bin: PgTool, args: string[], env: PgEnv) => runProcess({ bin: b.path(bin), args, env, stdout: 'capture' });
  const sourceDump = join(o.workDir, 'source.sql');
  const globals = join(o.workDir, 'globals.sql');
  await run('pg_dump', ['-Fp', '--no-sync', '-f', sourceDump, '-d', o.database], o.source);
  const superuser = o.source.PGUSER;
  const g = (await run('pg_dumpall', ['--globals-only', '--no-sync'], o.source)).stdout.split('\n')
    .filter((l) => !new RegExp(`^(CREATE|ALTER) ROLE ${superuser}( |;)`).test(l));
  await writeFile(globals, g.join('\n'));
  await run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'postgres', '-f', globals], o.copy);
  const c = new pg.Client({ host: o.source.PGHOST, port: Number(o.source.PGPORT), user: superuser, database: o.database });
  await c.connect();
  const db = (await c.query<{ enc: string; collate: string; ctype: string }>(
    `SELECT pg_encoding_to_char(encoding) AS enc, datcollate AS collate, datctype AS ctype FROM pg_database WHERE datname = current_database()`)).rows[0];
  await c.end();
  if (!db) throw new Error(`the source has no pg_database row for ${o.database}`);
  await run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'postgres', '-c',
    `CREATE DATABASE "${o.database}" TEMPLATE template0 ENCODING '${db.enc}' LC_COLLATE '${db.collate}' LC_CTYPE '${db.ctype}'`], o.copy);
  // psql without ON_ERROR_STOP goes on after an error, as pg_upgrade's test restore does; its stderr names the errors.
  const restoreErrors: string[] = [];
  await runProcess({ bin: b.path('psql'), args: ['-X', '-q', '-d', o.database, '-f', sourceDump], env: o.copy, stdout: 'ignore', allowFailure: true,
    onStderrLine: (l) => { if (/ERROR:/.test(l)) restoreErrors.push(l); } });
  const r = await compareCopy({ source: o.source, sourceDump, copy: o.copy, copyDatabase: o.database, database: o.database, copyDump: join(o.workDir, 'copy.sql') });
  for (const e of restoreErrors) add(r.differences, 'restore error', e);
  return { differences: r.differences, restoreErrors, dumpEntries: dumpEntries(await readFile(sourceDump, 'utf8')).size, catalogFacts: r.catalogFacts, sourceDump };
}
