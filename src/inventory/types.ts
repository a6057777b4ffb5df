/**
 * The inventory of a dump: what objects it defines, who owns them and which privileges it grants.
 * Built from pg_dump's own `-- Name: …; Type: …; Schema: …; Owner: …` headers and GRANT statements, for plain
 * dumps directly and for archives through `pg_restore -f -` (which writes the same text).
 */

/** One TOC entry as pg_dump labels it. */
export interface InventoryEntry {
  /** pg_dump's Type label, upper case as written: 'TABLE', 'VIEW', 'MATERIALIZED VIEW', 'SEQUENCE', 'FUNCTION', 'SCHEMA', 'EXTENSION', 'INDEX', 'TABLE DATA', 'ACL', 'CONSTRAINT', 'TRIGGER', 'DEFAULT', 'COMMENT', ... */
  readonly type: string;
  /** Schema, or null where pg_dump writes '-'. */
  readonly schema: string | null;
  /** Name as written in the header (functions carry their argument list, e.g. `last_day(timestamp with time zone)`). */
  readonly name: string;
  /** Owner, or null where pg_dump writes '-' or omits it. */
  readonly owner: string | null;
  /** 1-based line of the header in the dump text. */
  readonly line: number;
  /** Other readings of a header that splits more than one way (a name holding `; Type: X; Schema: …`): see src/scan/dump-headers.ts. */
  readonly alternatives?: readonly { readonly type: string; readonly schema: string | null; readonly name: string }[];
}

/** One privilege granted to one role on one object (a `GRANT a,b ON x TO r` yields two). */
export interface GrantEntry {
  /** Grantee role name, unquoted; 'PUBLIC' for PUBLIC. */
  readonly role: string;
  /** Upper-case privilege: SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER, USAGE, EXECUTE, CREATE, CONNECT, TEMPORARY, ALL, or 'MEMBER' for `GRANT role TO role`. */
  readonly privilege: string;
  /** Object kind as written after ON: 'TABLE', 'SCHEMA', 'SEQUENCE', 'FUNCTION', 'DATABASE', 'TYPE', ... or 'ROLE' for membership. */
  readonly objectType: string;
  /** Object name as written (schema-qualified, quotes removed). */
  readonly object: string;
  /** Column list for column privileges, e.g. GRANT SELECT(a,b). */
  readonly columns?: readonly string[];
  /** 1-based line of the statement. */
  readonly line: number;
}

/** Everything pgdrill knows about a dump's content without restoring it. */
export interface DumpInventory {
  readonly entries: readonly InventoryEntry[];
  readonly grants: readonly GrantEntry[];
  /** Every role the dump refers to (owners, grantees, `OWNER TO`, `SET ROLE`/`SET SESSION AUTHORIZATION`), with how often. */
  readonly roles: Readonly<Record<string, { owner: number; grant: number; other: number }>>;
  /** Tablespaces the dump creates objects in (`SET default_tablespace`), sorted; the default one is not listed. */
  readonly tablespaces: readonly string[];
  /** The encoding of the dump's text, PostgreSQL's name (`SET client_encoding`; 'UTF8' without one). Names in an
   * encoding read byte for byte (the few Node cannot decode) carry `\xNN` escapes for bytes ≥ 0x80; on SQL_ASCII,
   * for each byte that is not UTF-8 (src/scan/dump-encoding.ts `displayName`).
   * Absent in inventories made before pgdrill knew encodings: UTF8. */
  readonly encoding?: string;
}
