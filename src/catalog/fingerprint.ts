/**
 * A fingerprint of the source's catalog (objects, owners, ACLs, roles, settings of the database), computed in
 * the server: taken before and after the drill, equal values are the evidence that nothing changed.
 *
 * What it covers is listed in docs/safety.md ("The catalog fingerprint"). Two choices keep its cost on the source
 * small without losing evidence: the ~3,000 built-in functions (OID below 16384, FirstNormalObjectId) are one item —
 * their count, the sum of their OIDs and the sum of their rows' xmin: any change to such a row (owner, ACL, name,
 * body, even a no-op GRANT) writes a new row version with a new xmin, which VACUUM, VACUUM FREEZE and VACUUM FULL keep
 * (PostgreSQL 9.4+) — while functions created in the database keep a line each (name, owner, ACL, md5 of the body);
 * and the items are sorted bytewise (COLLATE "C"), not by the database's collation: both fingerprints of a drill are
 * computed by the same SQL, any fixed order will do.
 */
import type { DbSession } from '../pg/client.js';

export const FINGERPRINT_SQL = `
SELECT md5(string_agg(x, E'\\n' ORDER BY x COLLATE "C")) AS fingerprint, count(*)::int AS items FROM (
  SELECT 'class ' || c.oid || ' ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text || ' ' || pg_get_userbyid(c.relowner) || ' ' || coalesce(c.relacl::text, '') || ' ' || c.relnatts AS x
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'
  UNION ALL SELECT 'attr ' || a.attrelid || ' ' || a.attname || ' ' || a.atttypid || ' ' || a.attnotnull::text || ' ' || coalesce(a.attacl::text, '')
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE a.attnum > 0 AND NOT a.attisdropped AND n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg_t%'
  UNION ALL SELECT 'proc ' || p.oid || ' ' || p.proname || ' ' || pg_get_userbyid(p.proowner) || ' ' || coalesce(p.proacl::text, '') || ' ' || md5(coalesce(p.prosrc, ''))
    FROM pg_proc p WHERE p.oid >= 16384
  UNION ALL SELECT 'builtin procs ' || count(*) || ' ' || coalesce(sum(p.oid::int8), 0) || ' ' || coalesce(sum(p.xmin::text::int8), 0)
    FROM pg_proc p WHERE p.oid < 16384
  UNION ALL SELECT 'nsp ' || n.oid || ' ' || n.nspname || ' ' || pg_get_userbyid(n.nspowner) || ' ' || coalesce(n.nspacl::text, '')
    FROM pg_namespace n WHERE n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'
  UNION ALL SELECT 'role ' || r.oid || ' ' || r.rolname || ' ' || concat_ws(',', r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin, r.rolreplication, r.rolbypassrls)
    FROM pg_roles r
  UNION ALL SELECT 'member ' || m.roleid || ' ' || m.member || ' ' || m.admin_option::text FROM pg_auth_members m
  UNION ALL SELECT 'db ' || d.oid || ' ' || d.datname || ' ' || pg_get_userbyid(d.datdba) || ' ' || coalesce(d.datacl::text, '') FROM pg_database d
  UNION ALL SELECT 'ext ' || e.extname || ' ' || e.extversion FROM pg_extension e
  UNION ALL SELECT 'trigger ' || t.oid || ' ' || t.tgname || ' ' || t.tgenabled::text FROM pg_trigger t
  UNION ALL SELECT 'policy ' || p.oid || ' ' || p.polname FROM pg_policy p
  UNION ALL SELECT 'dbrole ' || s.setdatabase || ' ' || s.setrole || ' ' || coalesce(s.setconfig::text, '') FROM pg_db_role_setting s
) t`;

/** The catalog fingerprint: an md5 over a sorted description of objects, owners and ACLs, and how many items it covers. */
export interface CatalogFingerprint {
  readonly fingerprint: string;
  readonly items: number;
}

export async function catalogFingerprint(db: DbSession): Promise<CatalogFingerprint> {
  const [r] = await db.query<{ fingerprint: string; items: number }>(FINGERPRINT_SQL);
  return { fingerprint: r!.fingerprint, items: r!.items };
}
