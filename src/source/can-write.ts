/**
 * Can the role pgdrill connects as write to the source? `default_transaction_read_only` is a safety belt, not a
 * boundary (any session can turn it off), so the report says whether the role itself could write.
 */
import type { DbSession } from '../pg/client.js';

/** What the connecting role could do, measured from the catalog. */
export interface WriteCapability {
  readonly canWrite: boolean;
  readonly detail: string;
}

/** Measure it. pg_write_all_data exists from PostgreSQL 14 on: on 13 no role is a member of it. */
export async function measureWriteCapability(db: DbSession): Promise<WriteCapability> {
  const [r] = await db.query<{ su: boolean; tables: string; schemas: string; writer: boolean }>(
    `SELECT r.rolsuper AS su,
            (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg_toast%'
                AND (has_table_privilege(c.oid, 'INSERT') OR has_table_privilege(c.oid, 'UPDATE')
                     OR has_table_privilege(c.oid, 'DELETE') OR has_table_privilege(c.oid, 'TRUNCATE')))::text AS tables,
            (SELECT count(*) FROM pg_namespace n WHERE n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg_toast%'
                AND has_schema_privilege(n.oid, 'CREATE'))::text AS schemas,
            coalesce((SELECT pg_has_role(current_user, w.oid, 'USAGE') FROM pg_roles w WHERE w.rolname = 'pg_write_all_data'), false) AS writer
       FROM pg_roles r WHERE r.rolname = current_user`,
  );
  const tables = Number(r!.tables);
  const schemas = Number(r!.schemas);
  const canWrite = r!.su || r!.writer || tables > 0 || schemas > 0;
  const detail = r!.su
    ? 'the role is a superuser: it could write; pgdrill relies on read-only sessions (see docs/safety.md: least privilege)'
    : canWrite
      ? `the role could write: ${tables} table(s) with INSERT/UPDATE/DELETE/TRUNCATE, ${schemas} schema(s) with CREATE${r!.writer ? ', member of pg_write_all_data' : ''}`
      : 'the role holds no write privilege on any table or schema';
  return { canWrite, detail };
}
