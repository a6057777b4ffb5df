/**
 * The catalog as a flat list of facts — (object, attribute, value) — read the same way from the source (inside
 * the dump's snapshot) and from the restored copy, so that comparing them names every difference precisely:
 * `column public.film.rating` / `default` / `'G'::public.mpaa_rating` vs `'PG'::public.mpaa_rating`.
 *
 * One query per catalog area, never one per object. Everything is deparsed by the server (pg_get_expr,
 * pg_get_viewdef, pg_get_indexdef, pg_get_functiondef, …) in a session prepared by prepareFidelitySession, so
 * equal catalogs print equal text. Objects that belong to extensions are left out (CREATE EXTENSION recreates
 * them; the extension and its version are compared instead), as are system schemas — as pg_dump leaves them out.
 * Version-dependent columns are read through `to_jsonb(row) ->> 'column'`, which yields NULL where a server
 * version lacks the column instead of failing.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { DbSession } from '../pg/client.js';

/** One fact about one catalog object. */
export interface CatalogFact {
  /** e.g. `table public.actor`, `column public.actor.last_name`, `function public.last_day(timestamp with time zone)`. */
  readonly object: string;
  /** e.g. `owner`, `default`, `definition`, `grant SELECT to app_reader`. */
  readonly attribute: string;
  readonly value: string;
}

const USER_NS = (n: string) => `${n}.nspname NOT IN ('pg_catalog', 'information_schema') AND ${n}.nspname !~ '^pg_(toast|temp_)'`;
const NOT_EXT = (classid: string, oid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = '${classid}'::pg_catalog.regclass AND e.objid = ${oid} AND e.deptype = 'e')`;

/** Label of a relation by kind; partitioned tables are tables (their `partition key` says the rest). */
const REL_KIND = (c: string) => `CASE ${c}.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view'
  WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' WHEN 'c' THEN 'type' END`;
const REL = (n: string, c: string) => `${n}.nspname || '.' || ${c}.relname`;
const FUNC_LABEL = (n: string, p: string) =>
  `CASE ${p}.prokind WHEN 'p' THEN 'procedure ' WHEN 'a' THEN 'aggregate ' ELSE 'function ' END || ${n}.nspname || '.' || ${p}.proname || '(' || pg_catalog.pg_get_function_identity_arguments(${p}.oid) || ')'`;
const TYPE_LABEL = (n: string, t: string) =>
  `CASE ${t}.typtype WHEN 'e' THEN 'enum ' WHEN 'd' THEN 'domain ' WHEN 'r' THEN 'range ' WHEN 'c' THEN 'type ' ELSE 'base type ' END || ${n}.nspname || '.' || ${t}.typname`;
/** User-defined types worth comparing: not array types, not multiranges (both implicit), not table row types. */
const USER_TYPE = (t: string) => `(${t}.typtype IN ('e', 'd', 'r', 'b') OR (${t}.typtype = 'c' AND (SELECT r.relkind FROM pg_catalog.pg_class r WHERE r.oid = ${t}.typrelid) = 'c'))
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type x WHERE x.typarray = ${t}.oid)`;
/**
 * Functions that exist only as part of another object (a range type's constructors, deptype 'i'): pg_dump does not
 * dump them, the parent's CREATE recreates them — owned by whoever restores, since ALTER TYPE … OWNER does not
 * follow — so they are compared through their parent, not on their own.
 */
const NOT_IMPLICIT_FUNC = (p: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend i WHERE i.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND i.objid = ${p}.oid AND i.deptype = 'i')`;
const ROLE = (oid: string) => `CASE WHEN ${oid} = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(${oid})::text END`;

/** One catalog area: a name and the query that lists its facts as (object, attribute, value) rows. */
export interface CatalogArea {
  readonly area: string;
  readonly sql: string;
  /**
   * A boolean SQL expression true whenever the area can list a fact — its driving catalogs' rows under a weaker
   * condition than the area's own (objects made after initdb have OIDs from 16384, FirstNormalObjectId). False: the
   * area is left out of the query (`presentAreas`). Absent: always asked.
   */
  readonly present?: string;
}

/** The areas, each one query. */
export const CATALOG_AREAS: readonly CatalogArea[] = [
  {
    area: 'relations',
    sql: `
SELECT ${REL_KIND('c')} || ' ' || ${REL('n', 'c')} AS object, v.attribute, v.value
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 CROSS JOIN LATERAL (VALUES
   ('owner', pg_catalog.pg_get_userbyid(c.relowner)::text),
   ('persistence', CASE WHEN c.relkind IN ('r', 'p', 'S') THEN CASE c.relpersistence WHEN 'u' THEN 'unlogged' WHEN 'p' THEN 'permanent' ELSE c.relpersistence::text END END),
   ('options', pg_catalog.array_to_string(c.reloptions, ', ')),
   ('access method', (SELECT am.amname::text FROM pg_catalog.pg_am am WHERE am.oid = c.relam)),
   ('row level security', CASE WHEN c.relrowsecurity THEN CASE WHEN c.relforcerowsecurity THEN 'enabled, forced' ELSE 'enabled' END END),
   ('replica identity', CASE WHEN c.relkind IN ('r', 'p') THEN CASE c.relreplident WHEN 'n' THEN 'nothing' WHEN 'f' THEN 'full' WHEN 'i' THEN 'index' END END),
   ('partition key', CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END),
   ('partition of', CASE WHEN c.relispartition THEN
      (SELECT ${REL('pn', 'pc')} FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class pc ON pc.oid = i.inhparent
         JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid)
      || ' ' || pg_catalog.pg_get_expr(c.relpartbound, c.oid) END),
   ('inherits', CASE WHEN NOT c.relispartition THEN
      (SELECT pg_catalog.string_agg(${REL('pn', 'pc')}, ', ' ORDER BY i.inhseqno) FROM pg_catalog.pg_inherits i
         JOIN pg_catalog.pg_class pc ON pc.oid = i.inhparent JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
        WHERE i.inhrelid = c.oid) END),
   ('definition', CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END),
   ('populated', CASE WHEN c.relkind = 'm' THEN c.relispopulated::text END),
   ('column order', CASE WHEN c.relkind IN ('r', 'p', 'f') THEN
      (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) END)
 ) AS v(attribute, value)
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ${USER_NS('n')} AND ${NOT_EXT('pg_class', 'c.oid')}`,
  },
  {
    // The database's own locale: the order of every text sort, what `~ '[[:alpha:]]'`, lower() and upper() do.
    // Version-dependent columns through to_jsonb (datlocprovider since 15, daticulocale 15–16, datlocale 17+): a
    // server without them is libc. The collation version (datcollversion) is not compared: it names the library
    // release of the machine that created the database, which no dump carries.
    area: 'database',
    sql: `
SELECT 'database' AS object, v.attribute, v.value
  FROM pg_catalog.pg_database d
 CROSS JOIN LATERAL (VALUES
   ('encoding', pg_catalog.pg_encoding_to_char(d.encoding)::text),
   ('lc_collate', d.datcollate::text),
   ('lc_ctype', d.datctype::text),
   ('locale provider', CASE coalesce(pg_catalog.to_jsonb(d) ->> 'datlocprovider', 'c') WHEN 'c' THEN 'libc' WHEN 'i' THEN 'icu' WHEN 'b' THEN 'builtin' ELSE pg_catalog.to_jsonb(d) ->> 'datlocprovider' END),
   ('provider locale', coalesce(pg_catalog.to_jsonb(d) ->> 'daticulocale', pg_catalog.to_jsonb(d) ->> 'datlocale')),
   ('icu rules', pg_catalog.to_jsonb(d) ->> 'daticurules')
 ) AS v(attribute, value)
 WHERE d.datname = pg_catalog.current_database()`,
  },
  {
    // The user relations first, then their columns by index (attrelid): joined the other way round, every
    // pg_attribute row (~3,000 of system catalogs on an empty database) was read and hashed before the filters, the
    // area's largest cost on a small database. OFFSET 0 keeps the planner from flattening the two back into one join.
    // Same facts as the plain join: test/fidelity/catalog-reference.test.ts compares them.
    area: 'columns',
    sql: `
SELECT 'column ' || ${REL('c', 'c')} || '.' || a.attname AS object, v.attribute, v.value
  FROM (SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c') AND ${USER_NS('n')}
           AND ${NOT_EXT('pg_class', 'c.oid')} AND ${NOT_EXT('pg_type', 'c.reltype')} OFFSET 0) AS c
 CROSS JOIN LATERAL (SELECT * FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped OFFSET 0) AS a
  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
 CROSS JOIN LATERAL (VALUES
   ('type', pg_catalog.format_type(a.atttypid, a.atttypmod)),
   ('default', pg_catalog.pg_get_expr(ad.adbin, ad.adrelid)),
   ('not null', a.attnotnull::text),
   ('identity', CASE a.attidentity WHEN 'a' THEN 'GENERATED ALWAYS AS IDENTITY' WHEN 'd' THEN 'GENERATED BY DEFAULT AS IDENTITY' END),
   ('generated', CASE a.attgenerated WHEN 's' THEN 'STORED' WHEN 'v' THEN 'VIRTUAL' END),
   ('collation', CASE WHEN a.attcollation <> t.typcollation THEN
      (SELECT cn.nspname || '.' || co.collname FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation) END),
   ('statistics', CASE WHEN a.attstattarget >= 0 THEN a.attstattarget::text END),
   ('storage', CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text END),
   ('compression', NULLIF(pg_catalog.to_jsonb(a) ->> 'attcompression', ''))
 ) AS v(attribute, value)`,
  },
  {
    area: 'constraints',
    sql: `
SELECT 'constraint ' || n.nspname || '.' || coalesce(c.relname, t.typname) || '.' || co.conname AS object, 'definition' AS attribute,
       pg_catalog.pg_get_constraintdef(co.oid) AS value
  FROM pg_catalog.pg_constraint co JOIN pg_catalog.pg_namespace n ON n.oid = co.connamespace
  LEFT JOIN pg_catalog.pg_class c ON c.oid = co.conrelid
  LEFT JOIN pg_catalog.pg_type t ON t.oid = co.contypid
 WHERE ${USER_NS('n')} AND (c.oid IS NULL OR ${NOT_EXT('pg_class', 'c.oid')}) AND (t.oid IS NULL OR ${NOT_EXT('pg_type', 't.oid')})`,
  },
  {
    // Invalid or dying indexes are left out: pg_dump does not dump them (they are failed CONCURRENTLY builds).
    area: 'indexes',
    sql: `
SELECT 'index ' || ${REL('n', 'ic')} AS object, v.attribute, v.value
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = ic.relnamespace
  JOIN pg_catalog.pg_class tc ON tc.oid = i.indrelid
 CROSS JOIN LATERAL (VALUES
   ('definition', pg_catalog.pg_get_indexdef(i.indexrelid)),
   ('clustered', CASE WHEN i.indisclustered THEN 'true' END),
   ('replica identity', CASE WHEN i.indisreplident THEN 'true' END),
   ('attached to', (SELECT ${REL('pn', 'pc')} FROM pg_catalog.pg_inherits h JOIN pg_catalog.pg_class pc ON pc.oid = h.inhparent
      JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace WHERE h.inhrelid = ic.oid))
 ) AS v(attribute, value)
 WHERE i.indisvalid AND i.indislive AND ${USER_NS('n')} AND ${NOT_EXT('pg_class', 'tc.oid')}`,
  },
  {
    area: 'functions',
    present: `EXISTS (SELECT FROM pg_catalog.pg_proc p WHERE p.oid >= 16384)`,
    sql: `
SELECT ${FUNC_LABEL('n', 'p')} AS object, v.attribute, v.value
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
  LEFT JOIN pg_catalog.pg_aggregate ag ON ag.aggfnoid = p.oid
 CROSS JOIN LATERAL (VALUES
   ('owner', pg_catalog.pg_get_userbyid(p.proowner)::text),
   ('definition', CASE WHEN p.prokind <> 'a' THEN pg_catalog.pg_get_functiondef(p.oid) END),
   ('aggregate', CASE WHEN p.prokind = 'a' THEN pg_catalog.concat_ws('; ',
      'arguments ' || pg_catalog.pg_get_function_arguments(p.oid),
      'sfunc ' || ag.aggtransfn::pg_catalog.regprocedure::text,
      'stype ' || pg_catalog.format_type(ag.aggtranstype, NULL),
      'finalfunc ' || CASE WHEN ag.aggfinalfn::oid <> 0 THEN ag.aggfinalfn::pg_catalog.regprocedure::text END,
      'combinefunc ' || CASE WHEN ag.aggcombinefn::oid <> 0 THEN ag.aggcombinefn::pg_catalog.regprocedure::text END,
      'initcond ' || ag.agginitval,
      'sortop ' || CASE WHEN ag.aggsortop <> 0 THEN ag.aggsortop::pg_catalog.regoperator::text END,
      'kind ' || ag.aggkind::text, 'parallel ' || p.proparallel::text) END)
 ) AS v(attribute, value)
 WHERE ${USER_NS('n')} AND ${NOT_EXT('pg_proc', 'p.oid')} AND ${NOT_IMPLICIT_FUNC('p')}`,
  },
  {
    area: 'triggers',
    present: `EXISTS (SELECT FROM pg_catalog.pg_trigger tg WHERE NOT tg.tgisinternal) OR EXISTS (SELECT FROM pg_catalog.pg_event_trigger)`,
    sql: `
SELECT 'trigger ' || ${REL('n', 'c')} || '.' || tg.tgname AS object, v.attribute, v.value
  FROM pg_catalog.pg_trigger tg JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 CROSS JOIN LATERAL (VALUES ('definition', pg_catalog.pg_get_triggerdef(tg.oid)), ('enabled', tg.tgenabled::text)) AS v(attribute, value)
 WHERE NOT tg.tgisinternal AND ${USER_NS('n')} AND ${NOT_EXT('pg_class', 'c.oid')}
UNION ALL
SELECT 'event trigger ' || et.evtname, v.attribute, v.value
  FROM pg_catalog.pg_event_trigger et
 CROSS JOIN LATERAL (VALUES ('event', et.evtevent::text), ('function', et.evtfoid::pg_catalog.regprocedure::text),
   ('enabled', et.evtenabled::text), ('tags', pg_catalog.array_to_string(et.evttags, ', ')),
   ('owner', pg_catalog.pg_get_userbyid(et.evtowner)::text)) AS v(attribute, value)
 WHERE ${NOT_EXT('pg_event_trigger', 'et.oid')}`,
  },
  {
    // A collation's definition is its pg_collation row as jsonb, whatever columns the server has; the ICU locale under
    // one name (colliculocale in 15–16, colllocale from 17) and absent columns equal to NULL ones (collicurules, 16+).
    area: 'types',
    sql: `
SELECT ${TYPE_LABEL('n', 't')} AS object, v.attribute, v.value
  FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
  LEFT JOIN pg_catalog.pg_range r ON r.rngtypid = t.oid
 CROSS JOIN LATERAL (VALUES
   ('owner', pg_catalog.pg_get_userbyid(t.typowner)::text),
   ('labels', CASE WHEN t.typtype = 'e' THEN
      (SELECT pg_catalog.string_agg(pg_catalog.quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid) END),
   ('base type', CASE WHEN t.typtype = 'd' THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) END),
   ('default', CASE WHEN t.typtype = 'd' THEN pg_catalog.pg_get_expr(t.typdefaultbin, 0) END),
   ('not null', CASE WHEN t.typtype = 'd' THEN t.typnotnull::text END),
   ('range', CASE WHEN t.typtype = 'r' THEN pg_catalog.concat_ws('; ',
      'subtype ' || pg_catalog.format_type(r.rngsubtype, NULL),
      'collation ' || CASE WHEN r.rngcollation <> 0 THEN (SELECT co.collname::text FROM pg_catalog.pg_collation co WHERE co.oid = r.rngcollation) END,
      'opclass ' || (SELECT oc.opcname::text FROM pg_catalog.pg_opclass oc WHERE oc.oid = r.rngsubopc),
      'canonical ' || CASE WHEN r.rngcanonical::oid <> 0 THEN r.rngcanonical::pg_catalog.regprocedure::text END,
      'subdiff ' || CASE WHEN r.rngsubdiff::oid <> 0 THEN r.rngsubdiff::pg_catalog.regprocedure::text END) END)
 ) AS v(attribute, value)
 WHERE ${USER_TYPE('t')} AND ${USER_NS('n')} AND ${NOT_EXT('pg_type', 't.oid')}
UNION ALL
SELECT 'collation ' || n.nspname || '.' || co.collname, v.attribute, v.value
  FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace n ON n.oid = co.collnamespace
 CROSS JOIN LATERAL (VALUES
   ('owner', pg_catalog.pg_get_userbyid(co.collowner)::text),
   ('definition', pg_catalog.jsonb_strip_nulls((pg_catalog.to_jsonb(co) - 'oid' - 'collname' - 'collnamespace' - 'collowner' - 'collversion' - 'colliculocale')
      || pg_catalog.jsonb_build_object('colllocale', coalesce(pg_catalog.to_jsonb(co) -> 'colliculocale', pg_catalog.to_jsonb(co) -> 'colllocale')))::text)
 ) AS v(attribute, value)
 WHERE ${USER_NS('n')} AND ${NOT_EXT('pg_collation', 'co.oid')}
UNION ALL
SELECT 'schema ' || n.nspname, 'owner', pg_catalog.pg_get_userbyid(n.nspowner)::text
  FROM pg_catalog.pg_namespace n WHERE ${USER_NS('n')} AND ${NOT_EXT('pg_namespace', 'n.oid')}`,
  },
  {
    // ACLs exploded to grantee × privilege. A NULL ACL means "the default", so it is compared as acldefault():
    // an object whose ACL was set explicitly to the default compares equal to one never granted on.
    area: 'privileges',
    sql: `
WITH objs(object, acl, owner, kind) AS (
  SELECT ${REL_KIND('c')} || ' ' || ${REL('n', 'c')}, c.relacl, c.relowner, CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ${USER_NS('n')} AND ${NOT_EXT('pg_class', 'c.oid')}
  UNION ALL
  SELECT 'column ' || ${REL('n', 'c')} || '.' || a.attname, a.attacl, c.relowner, NULL
    FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped AND ${USER_NS('n')} AND ${NOT_EXT('pg_class', 'c.oid')}
  UNION ALL
  SELECT ${FUNC_LABEL('n', 'p')}, p.proacl, p.proowner, 'f'
    FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
   WHERE ${USER_NS('n')} AND ${NOT_EXT('pg_proc', 'p.oid')} AND ${NOT_IMPLICIT_FUNC('p')}
  UNION ALL
  SELECT 'schema ' || n.nspname, n.nspacl, n.nspowner, 'n'
    FROM pg_catalog.pg_namespace n WHERE ${USER_NS('n')} AND ${NOT_EXT('pg_namespace', 'n.oid')}
  UNION ALL
  SELECT ${TYPE_LABEL('n', 't')}, t.typacl, t.typowner, 'T'
    FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
   WHERE ${USER_TYPE('t')} AND ${USER_NS('n')} AND ${NOT_EXT('pg_type', 't.oid')}
  UNION ALL
  SELECT 'large object ' || l.oid::text, l.lomacl, l.lomowner, 'L'
    FROM pg_catalog.pg_largeobject_metadata l
  UNION ALL
  SELECT 'default privileges of ' || pg_catalog.pg_get_userbyid(d.defaclrole) || coalesce(' in schema ' || dn.nspname, '') || ' on ' ||
         CASE d.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences' WHEN 'f' THEN 'functions' WHEN 'T' THEN 'types' WHEN 'n' THEN 'schemas' ELSE d.defaclobjtype::text END,
         d.defaclacl, NULL, NULL
    FROM pg_catalog.pg_default_acl d LEFT JOIN pg_catalog.pg_namespace dn ON dn.oid = d.defaclnamespace
)
SELECT o.object, 'grant ' || x.privilege_type || ' to ' || ${ROLE('x.grantee')} AS attribute,
       'granted by ' || pg_catalog.pg_get_userbyid(x.grantor) || CASE WHEN x.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END AS value
  FROM objs o
 CROSS JOIN LATERAL pg_catalog.aclexplode(CASE WHEN o.kind IS NULL THEN o.acl ELSE coalesce(o.acl, pg_catalog.acldefault(o.kind::"char", o.owner)) END) AS x`,
  },
  {
    // Comments on objects created in this database (OIDs from 16384 on, FirstNormalObjectId): built-in objects and
    // what initdb put into template0 are the same on both sides by construction. A comment whose object no longer
    // exists (pg_describe_object NULL: a row left behind, as the regression database has one) is no fact: pg_dump
    // cannot dump it, and a NULL object would end the comparison's stream early (NULL sorts last).
    area: 'comments',
    sql: `
SELECT pg_catalog.pg_describe_object(d.classoid, d.objoid, d.objsubid) AS object, 'comment' AS attribute, d.description AS value
  FROM pg_catalog.pg_description d
 WHERE d.objoid >= 16384 AND pg_catalog.pg_describe_object(d.classoid, d.objoid, d.objsubid) IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = d.classoid AND e.objid = d.objoid AND e.deptype = 'e')`,
  },
  {
    // The owner of an extension is whoever ran CREATE EXTENSION (pg_dump does not dump it), so it is not compared.
    area: 'extensions',
    sql: `
SELECT 'extension ' || x.extname AS object, v.attribute, v.value
  FROM pg_catalog.pg_extension x JOIN pg_catalog.pg_namespace n ON n.oid = x.extnamespace
 CROSS JOIN LATERAL (VALUES ('version', x.extversion::text), ('schema', n.nspname::text)) AS v(attribute, value)`,
  },
  {
    area: 'sequences',
    present: `EXISTS (SELECT FROM pg_catalog.pg_sequence)`,
    sql: `
SELECT 'sequence ' || ${REL('n', 'c')} AS object, v.attribute, v.value
  FROM pg_catalog.pg_sequence s JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 CROSS JOIN LATERAL (VALUES
   ('data type', pg_catalog.format_type(s.seqtypid, NULL)), ('start', s.seqstart::text), ('increment', s.seqincrement::text),
   ('minimum', s.seqmin::text), ('maximum', s.seqmax::text), ('cache', s.seqcache::text), ('cycle', s.seqcycle::text),
   ('owned by', (SELECT ${REL('rn', 'rc')} || '.' || ra.attname FROM pg_catalog.pg_depend d
      JOIN pg_catalog.pg_class rc ON rc.oid = d.refobjid JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
      JOIN pg_catalog.pg_attribute ra ON ra.attrelid = d.refobjid AND ra.attnum = d.refobjsubid
     WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid
       AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype IN ('a', 'i') LIMIT 1))
 ) AS v(attribute, value)
 WHERE ${USER_NS('n')} AND ${NOT_EXT('pg_class', 'c.oid')}`,
  },
  {
    // Large objects keep their OIDs through pg_dump (`lo_create(<oid>)`), so the OID names them on both sides; their
    // grants are in 'privileges', their comments in 'comments' (pg_describe_object names them the same way). A dump
    // made with --schema or --table leaves them out silently: here they show up as missing. Their bytes are compared
    // by the content hashes under --deep (large-object-hash.ts).
    area: 'large objects',
    present: `EXISTS (SELECT FROM pg_catalog.pg_largeobject_metadata)`,
    sql: `
SELECT 'large object ' || l.oid::text AS object, 'owner' AS attribute, pg_catalog.pg_get_userbyid(l.lomowner)::text AS value
  FROM pg_catalog.pg_largeobject_metadata l`,
  },
  {
    area: 'rules and policies',
    present: `EXISTS (SELECT FROM pg_catalog.pg_rewrite r WHERE r.oid >= 16384 AND r.rulename <> '_RETURN') OR EXISTS (SELECT FROM pg_catalog.pg_policy) OR EXISTS (SELECT FROM pg_catalog.pg_statistic_ext s WHERE s.oid >= 16384)`,
    sql: `
SELECT 'rule ' || ${REL('n', 'c')} || '.' || r.rulename AS object, v.attribute, v.value
  FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 CROSS JOIN LATERAL (VALUES ('definition', pg_catalog.pg_get_ruledef(r.oid)), ('enabled', r.ev_enabled::text)) AS v(attribute, value)
 WHERE r.rulename <> '_RETURN' AND ${USER_NS('n')} AND ${NOT_EXT('pg_class', 'c.oid')}
UNION ALL
SELECT 'policy ' || ${REL('n', 'c')} || '.' || p.polname, v.attribute, v.value
  FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 CROSS JOIN LATERAL (VALUES
   ('command', p.polcmd::text), ('permissive', p.polpermissive::text),
   ('roles', (SELECT pg_catalog.string_agg(${ROLE('rr')}, ', ' ORDER BY 1) FROM pg_catalog.unnest(p.polroles) AS rr)),
   ('using', pg_catalog.pg_get_expr(p.polqual, p.polrelid)), ('with check', pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid))
 ) AS v(attribute, value)
 WHERE ${USER_NS('n')}
UNION ALL
SELECT 'statistics ' || n.nspname || '.' || s.stxname, v.attribute, v.value
  FROM pg_catalog.pg_statistic_ext s JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace
 CROSS JOIN LATERAL (VALUES ('definition', pg_catalog.pg_get_statisticsobjdef(s.oid)), ('owner', pg_catalog.pg_get_userbyid(s.stxowner)::text)) AS v(attribute, value)
 WHERE ${USER_NS('n')} AND ${NOT_EXT('pg_statistic_ext', 's.oid')}`,
  },
];

/**
 * Every area in one query, ordered by object as UTF-8 bytes — code-point order whatever the database's encoding;
 * on SQL_ASCII, which cannot convert, by the bytes stored, as its sessions carry them (src/pg/server-bytes.ts) — so that the facts of one object come together and two catalogs merge as streams (`compareCodePoints` is the
 * same order in JavaScript). Within an object the order is free: the comparison groups an object's facts.
 */
export function catalogSql(areas: readonly CatalogArea[] = CATALOG_AREAS): string {
  return `SELECT f.object, f.attribute, f.value FROM (
${areas.map((a) => `(${a.sql.trim()})`).join('\nUNION ALL\n')}
) AS f WHERE f.value IS NOT NULL
 ORDER BY pg_catalog.convert_to(f.object, CASE pg_catalog.current_setting('server_encoding') WHEN 'SQL_ASCII' THEN 'SQL_ASCII' ELSE 'UTF8' END)`;
}

/** Every area's facts: what `readCatalogFacts` asks when every area may have some. */
export const CATALOG_SQL = catalogSql();

const PRESENCE_SQL = `SELECT ${CATALOG_AREAS.flatMap((a, i) => (a.present ? [`(${a.present}) AS a${i}`] : [])).join(', ')}`;

/**
 * The areas that can list a fact in the session's database (in its transaction's snapshot): one cheap `SELECT` of
 * the areas' `present` expressions. Leaving out an area that lists nothing changes no fact and no order, and spares
 * planning it — on a small database most of the catalog query's cost, in a session whose caches are cold (pgbench:
 * 6 of 14 areas empty, the cursor's DECLARE ~36 → ~24 ms of the source's CPU). Each side of a comparison asks for
 * itself: an object the other side lacks still shows.
 */
export async function presentAreas(db: DbSession): Promise<CatalogArea[]> {
  const [r] = await db.query<Record<string, boolean>>(PRESENCE_SQL);
  return CATALOG_AREAS.filter((a, i) => !a.present || r?.[`a${i}`] !== false);
}

/**
 * Rows per FETCH: what pgdrill holds of a catalog at once (~0.4 MB; 10,000 rows held ~2.5 MB of heap a side while
 * the comparison ran beside the round trip and amcheck, at the drill's peak of memory).
 */
export const CATALOG_FETCH_ROWS = 2_500;
/** Bytes of the source's catalog file read at a time (~4,000 facts): the same bound as CATALOG_FETCH_ROWS. */
const CATALOG_FILE_CHUNK = 256 << 10;

/**
 * The facts of the session's database, in CATALOG_SQL's order, a batch per FETCH from a cursor: memory stays flat
 * however many objects the database has. Must run inside a transaction (the source's snapshot; a REPEATABLE READ,
 * READ ONLY one on the sandbox) prepared with prepareFidelitySession, so that deparsed text is equal on both sides.
 */
export async function* readCatalogFacts(db: DbSession, signal?: AbortSignal): AsyncGenerator<CatalogFact[]> {
  const areas = await presentAreas(db);
  await db.query(`DECLARE pgdrill_catalog NO SCROLL CURSOR FOR ${areas.length === CATALOG_AREAS.length ? CATALOG_SQL : catalogSql(areas)}`);
  let open = true;
  try {
    while (open) {
      signal?.throwIfAborted();
      const rows = await db.query<{ object: string; attribute: string; value: string }>(`FETCH FORWARD ${CATALOG_FETCH_ROWS} FROM pgdrill_catalog`);
      open = rows.length === CATALOG_FETCH_ROWS;
      if (rows.length) yield rows;
    }
  } finally {
    await db.query('CLOSE pgdrill_catalog').catch(() => {});
  }
}

/** The source's catalog, kept on disk from the dump's snapshot until the restored copy is compared with it. */
export interface CatalogCapture {
  /** NDJSON, one `[object, attribute, value]` per line, in CATALOG_SQL's order. */
  readonly path: string;
  readonly facts: number;
  readonly ms: number;
}

/** Read the session's catalog into `path` (see CatalogCapture) without holding it in memory. */
export async function captureCatalog(db: DbSession, path: string, signal?: AbortSignal): Promise<CatalogCapture> {
  const t0 = performance.now();
  const out = createWriteStream(path, { mode: 0o600 });
  // The file's error, whenever it comes (opening fails before the first write): every wait below races it.
  const failed = new Promise<never>((_, reject) => out.once('error', reject));
  failed.catch(() => {});
  let facts = 0;
  try {
    // An error in the loop's body ends the cursor's generator (its CLOSE awaited) before it propagates.
    for await (const batch of readCatalogFacts(db, signal)) {
      facts += batch.length;
      if (!out.write(batch.map((f) => `${JSON.stringify([f.object, f.attribute, f.value])}\n`).join(''))) {
        await Promise.race([once(out, 'drain'), failed]);
      }
    }
    out.end();
    await Promise.race([finished(out), failed]);
  } catch (err) {
    out.destroy();
    await rm(path, { force: true });
    throw err;
  }
  return { path, facts, ms: Math.round(performance.now() - t0) };
}

/** A file written by captureCatalog, a batch of facts at a time. */
export async function* readCatalogFile(path: string): AsyncGenerator<CatalogFact[]> {
  let rest = '';
  const toFacts = (lines: string[]) => lines.map((l) => {
    const [object, attribute, value] = JSON.parse(l) as [string, string, string];
    return { object, attribute, value };
  });
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: CATALOG_FILE_CHUNK })) {
    const lines = (rest + (chunk as string)).split('\n');
    rest = lines.pop()!;
    if (lines.length) yield toFacts(lines);
  }
  if (rest) yield toFacts([rest]);
}
