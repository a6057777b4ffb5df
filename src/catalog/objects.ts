/**
 * The catalog's objects, listed the same way on the source (inside the dump's snapshot) and on the restored
 * copy, so the two lists compare directly. Objects that belong to extensions and system schemas are left out,
 * as pg_dump leaves them out.
 */
import type { ObjectType } from '../config/schema.js';
import type { DbSession } from '../pg/client.js';

/**
 * One catalog object. `name` of functions carries the argument list as pg_dump's tags do (see OBJECTS_SQL).
 * `bytes` is schema and name as the server stores them (one char per byte), with the server's encoding: what
 * pg_dump writes when its client encoding is the server's, however either side decodes it. Absent when both are
 * ASCII (every server encoding reads ASCII bytes as ASCII: `schema` and `name` are then those bytes).
 */
export interface CatalogObject {
  readonly type: ObjectType | 'constraint' | 'foreign_table';
  readonly schema: string | null;
  readonly name: string;
  readonly owner: string | null;
  readonly bytes?: { readonly schema: string | null; readonly name: string; readonly encoding: string };
}

const USER_NS = `n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'`;
const NOT_EXT = (classid: string, oid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '${classid}'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`;

/**
 * One query, read-only, listing every user object. Names also come as bytes (`convert_to(…, 'SQL_ASCII')` converts
 * nothing): what pg_dump writes in the server's encoding. (On a SQL_ASCII database the names themselves already
 * come as stored bytes: src/pg/byte-wire.ts.)
 * (No SQL comment: the source's audit wants each statement to start with SELECT.)
 */
export const OBJECTS_SQL = `
SELECT o.type, o.schema, o.name, o.owner,
       convert_to(o.schema, 'SQL_ASCII') AS schema_bytes, convert_to(o.name, 'SQL_ASCII') AS name_bytes, e.encoding
  FROM (SELECT current_setting('server_encoding') AS encoding) e, (
SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized_view'
                      WHEN 'S' THEN 'sequence' WHEN 'i' THEN 'index' WHEN 'I' THEN 'index' WHEN 'f' THEN 'foreign_table' END AS type,
       -- text, not name: the union's type comes from here, and a function signature or trigger label as \`name\`
       -- would be cut at 63 bytes
       n.nspname::text AS schema, c.relname::text AS name, pg_get_userbyid(c.relowner)::text AS owner
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r','p','v','m','S','i','I','f') AND ${USER_NS} AND ${NOT_EXT('pg_class', 'c.oid')}
UNION ALL
SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END, n.nspname,
       -- pg_dump's tag: format_function_signature() / format_aggregate_signature(), a zero-argument aggregate is (*)
       p.proname || '(' || CASE WHEN p.prokind = 'a' AND p.pronargs = 0 THEN '*'
         ELSE coalesce((SELECT string_agg(format_type(a.t, NULL), ', ' ORDER BY a.i) FROM unnest(p.proargtypes) WITH ORDINALITY a(t, i)), '') END || ')',
       pg_get_userbyid(p.proowner)
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE ${USER_NS} AND ${NOT_EXT('pg_proc', 'p.oid')}
   -- a range type's implicit constructors (deptype 'i'): pg_dump does not dump them, CREATE TYPE recreates them
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'i')
UNION ALL
SELECT 'schema', NULL, n.nspname, pg_get_userbyid(n.nspowner)
  FROM pg_namespace n WHERE ${USER_NS} AND n.nspname <> 'public' AND ${NOT_EXT('pg_namespace', 'n.oid')}
UNION ALL
SELECT 'extension', NULL, e.extname, pg_get_userbyid(e.extowner) FROM pg_extension e WHERE e.extname <> 'plpgsql'
UNION ALL
SELECT 'type', n.nspname, t.typname, pg_get_userbyid(t.typowner)
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE (t.typtype IN ('e','d','r') OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
   AND ${USER_NS} AND ${NOT_EXT('pg_type', 't.oid')}
UNION ALL
SELECT 'trigger', n.nspname, c.relname || '.' || tg.tgname, NULL
  FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT tg.tgisinternal AND tg.tgparentid = 0 AND ${USER_NS}
UNION ALL
SELECT 'constraint', n.nspname, c.relname || '.' || co.conname, NULL
  FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE co.conparentid = 0 AND ${USER_NS} AND ${NOT_EXT('pg_class', 'c.oid')}
) o(type, schema, name, owner)
ORDER BY o.type, o.schema, o.name`;

/**
 * List every user object of the connected database. Function names carry their input argument types formatted
 * as pg_dump formats them in its headers (search_path empty: types outside pg_catalog are schema-qualified).
 */
export async function listObjects(db: DbSession): Promise<CatalogObject[]> {
  await db.query("SET search_path = ''");
  type Row = Omit<CatalogObject, 'bytes'> & { schema_bytes: Buffer | null; name_bytes: Buffer; encoding: string };
  const rows = await db.query<Row & Record<string, unknown>>(OBJECTS_SQL);
  // One object literal of one shape per row: the run keeps the source's list from the dump to the restore, and
  // `{ ...rest }` of a destructured row gave every object a map of its own (~0.5 KB an object: 8 MB at 5,000 tables).
  return rows.map((r) => {
    const o: CatalogObject = { type: r.type, schema: r.schema, name: r.name, owner: r.owner };
    // convert_to(…, 'SQL_ASCII') converts nothing: the bytes as stored, whatever the server encoding
    const schema = r.schema_bytes ? r.schema_bytes.toString('latin1') : null;
    const name = r.name_bytes.toString('latin1');
    // ASCII bytes read the same in every encoding pgdrill reads: only other names need their bytes kept
    const ascii = isAscii(r.name_bytes) && (!r.schema_bytes || isAscii(r.schema_bytes));
    return ascii && name === r.name && schema === r.schema ? o : { ...o, bytes: { schema, name, encoding: r.encoding } };
  });
}

function isAscii(b: Buffer): boolean {
  return b.every((x) => x < 0x80);
}

/** Stable key of an object for comparisons: `type:schema.name`. */
export function objectKey(o: { type: string; schema: string | null; name: string }): string {
  return `${o.type}:${o.schema ? `${o.schema}.` : ''}${o.name}`;
}

/** Counts per type. */
export function countByType(objects: readonly { type: string }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of objects) out[o.type] = (out[o.type] ?? 0) + 1;
  return out;
}
