/**
 * A database whose identifiers and values are legal but awkward, for test/fidelity/odd-names.test.ts: every kind of
 * object (schema, table, column, index, constraint, sequence, view, function, type, enum label, role, comment) named
 * with line breaks, quotes, backslashes, table/markup/SQL/psql/format syntax, spaces at the ends, dots, keywords,
 * case-only duplicates, 4-byte UTF-8 and names cut at NAMEDATALEN; and values a COPY reader trips on.
 * Loaded through node-postgres (no psql: psql would read `:foo` and backslashes itself).
 */
import pg from 'pg';
import type { SandboxCluster } from '../../src/sandbox/cluster.js';

/** `name` as a quoted identifier. */
export function qi(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** `s` as a standard-conforming string literal. */
export function ql(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** 63 bytes of 2-byte characters and one ASCII: exactly NAMEDATALEN - 1. */
export const NAME_63 = `${'é'.repeat(31)}x`;
/** 80 bytes: PostgreSQL cuts it to 62 (it never splits a character). */
export const NAME_LONG = 'ü'.repeat(40);
export const NAME_LONG_CUT = 'ü'.repeat(31);

/** The awkward names; each becomes a table (and, where the suffixes fit in 63 bytes, an object of every kind). */
export const ODD_NAMES: readonly string[] = [
  'new\nline', 'tab\there', 'cr\rret', 'crlf\r\nend', 'dq"uote', "sq'uote", 'back\\slash', '\\.', 'pi|pe', '|', 'semi;colon',
  'dash--dash', 'c/*om', 'om*/c', 'dollar$$q', 'co:lon', ":'x'", ':foo', '%s%d', '${x}', '<script>alert(1)</script>',
  ']]>', '</table>', ' lead', 'trail ', 'a.b', 'select', 'user', 'COPY', 'T', 't', '🐘 emoji 😀', 'a\u0001ctl', '&amp;',
  '*bold* _it_ `code`', '# heading', 'x{database="y"}', NAME_63, NAME_LONG,
];

/** The schemas the names are spread over. */
export const ODD_SCHEMAS: readonly string[] = ['sch\nema|1', 'select', ' 🐘 <b>"s"</b>\\', 'a.b'];

/** Text values a COPY text reader or a table renderer trips on. */
export const ODD_VALUES: readonly (string | null)[] = [
  '\\.', '\\N', 'a\r\nb\tc\rd\ne', '\\', '\\\\.', '', ' ', '|', '"', "'", '<script>alert(3)</script>', ']]>', '\u0001\u001b[31m',
  '🐘', '\\.\n\\.', 'line\n\\.\nafter', null, `${'long '.repeat(240_000)}end`, // > 1 MB in one value
];

/** The schema a name's objects go to. */
export function schemaOf(i: number): string {
  return ODD_SCHEMAS[i % ODD_SCHEMAS.length]!;
}

/** Whether `name` with a suffix of up to 6 bytes stays under NAMEDATALEN (else only its table is made). */
function roomy(name: string): boolean {
  return Buffer.byteLength(name) <= 56;
}

/** The role of name i (roles are cluster-wide: prefixed so tests on other clusters never meet them). */
export function roleOf(name: string): string {
  return `r ${name}`;
}

/** The SQL of the odd database, one statement per element. */
export function oddSql(): string[] {
  const out: string[] = [];
  for (const s of ODD_SCHEMAS) out.push(`CREATE SCHEMA ${qi(s)}`);
  out.push(`CREATE TYPE ${qi(ODD_SCHEMAS[0]!)}.${qi('mood\n|"')} AS ENUM (${ODD_NAMES.filter(roomy).map(ql).join(', ')})`);
  ODD_NAMES.forEach((name, i) => {
    const s = qi(schemaOf(i));
    const t = `${s}.${qi(name)}`;
    out.push(`CREATE TABLE ${t} (id integer NOT NULL, ${qi(name)} text, m ${qi(ODD_SCHEMAS[0]!)}.${qi('mood\n|"')})`);
    out.push(`INSERT INTO ${t} SELECT g, ${ql(name)} || g, NULL FROM generate_series(1, ${i + 1}) g`);
    out.push(`COMMENT ON TABLE ${t} IS ${ql(`comment of ${name}\n-- ;/* $$ \\. |`)}`);
    out.push(`COMMENT ON COLUMN ${t}.${qi(name)} IS ${ql(name)}`);
    if (!roomy(name)) return;
    out.push(`ALTER TABLE ${t} ADD CONSTRAINT ${qi(`${name} pk`)} PRIMARY KEY (id)`);
    out.push(`ALTER TABLE ${t} ADD CONSTRAINT ${qi(`${name} ck`)} CHECK (${qi(name)} <> ${ql(`${name}!`)})`);
    out.push(`CREATE INDEX ${qi(`${name} ix`)} ON ${t} (${qi(name)})`);
    out.push(`CREATE SEQUENCE ${s}.${qi(`${name} sq`)} START 7`);
    out.push(`SELECT nextval(${ql(`${s}.${qi(`${name} sq`)}`)})`);
    out.push(`CREATE VIEW ${s}.${qi(`${name} v`)} AS SELECT id, ${qi(name)} AS ${qi(`${name}?`)} FROM ${t} WHERE ${qi(name)} <> ${ql(name)}`);
    out.push(`CREATE FUNCTION ${s}.${qi(`${name} f`)}(${qi(name)} text) RETURNS text LANGUAGE sql IMMUTABLE AS $body$SELECT ${ql(`${name}$$`)} || $1$body$`);
    out.push(`COMMENT ON FUNCTION ${s}.${qi(`${name} f`)}(text) IS ${ql(name)}`);
    out.push(`CREATE TYPE ${s}.${qi(`${name} ty`)} AS (${qi(name)} integer)`);
    out.push(`CREATE ROLE ${qi(roleOf(name))} NOLOGIN`);
    out.push(`GRANT SELECT (${qi(name)}), UPDATE ON ${t} TO ${qi(roleOf(name))}`);
    out.push(`GRANT USAGE ON SCHEMA ${s} TO ${qi(roleOf(name))}`);
  });
  const v = `${qi(ODD_SCHEMAS[2]!)}.${qi('val|ues\n')}`;
  out.push(`CREATE TABLE ${v} (id integer PRIMARY KEY, "t\t|" text, b bytea, j jsonb, a text[])`);
  ODD_VALUES.forEach((val, i) => {
    out.push(`INSERT INTO ${v} VALUES (${i}, ${val === null ? 'NULL' : ql(val)}, convert_to(coalesce(${val === null ? 'NULL' : ql(val.slice(0, 100))}, ''), 'UTF8'), `
      + `jsonb_build_object(${ql(val?.slice(0, 100) ?? 'null')}, ${ql(val?.slice(0, 100) ?? 'k')}), ARRAY[${val === null ? 'NULL' : ql(val.slice(0, 100))}, 'x"y', NULL])`);
  });
  out.push(`ANALYZE`);
  return out;
}

/** Create database `db` on `source` and load the odd objects and values into it. */
export async function loadOdd(source: SandboxCluster, db: string): Promise<void> {
  const env = source.env('postgres');
  const admin = new pg.Client({ host: env.PGHOST, port: Number(env.PGPORT), user: env.PGUSER, database: 'postgres' });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${qi(db)} ENCODING 'UTF8' TEMPLATE template0 LOCALE 'C'`);
  } finally {
    await admin.end();
  }
  const c = new pg.Client({ host: env.PGHOST, port: Number(env.PGPORT), user: env.PGUSER, database: db });
  await c.connect();
  try {
    for (const sql of oddSql()) await c.query(sql);
  } finally {
    await c.end();
  }
}
