/** Databases with names as odd as PostgreSQL allows, for test/drill/dump-names.test.ts. */

export const LONG_SCHEMA = `s${'x'.repeat(62)}`; // 63 bytes: NAMEDATALEN - 1
export const LONG_TYPE = `d${'y'.repeat(62)}`;

/** Objects of every kind the check compares, named as oddly as PostgreSQL allows. */
export const ODD_SQL = `
CREATE SCHEMA "we
ird";
CREATE SCHEMA ${LONG_SCHEMA};
CREATE DOMAIN ${LONG_SCHEMA}.${LONG_TYPE} AS integer;
CREATE TABLE public."new
line" (id integer PRIMARY KEY, v text);
INSERT INTO public."new
line" VALUES (1, 'a'), (2, 'b');
CREATE TABLE "we
ird"."cr${'\r'}lf${'\r\n'}both" (a integer);
CREATE TABLE public."tab${'\t'}here" (a integer);
CREATE TABLE public."a; Type: b" (a integer);
CREATE TABLE public."x; Type: VIEW; Schema: public; Owner: postgres" (a integer);
CREATE TABLE public."${'t'.repeat(63)}" (a integer);
CREATE TABLE public.ident (id integer GENERATED ALWAYS AS IDENTITY, "odd
col" text);
CREATE VIEW public."view
nl" AS SELECT 1 AS x;
CREATE MATERIALIZED VIEW "we
ird"."mv
nl" AS SELECT 1 AS x;
CREATE SEQUENCE public."seq
nl";
CREATE AGGREGATE public.newcnt(*) (sfunc = int8inc, stype = int8, initcond = '0');
CREATE AGGREGATE public.newcnt("any") (sfunc = int8inc_any, stype = int8, initcond = '0');
CREATE AGGREGATE public.my_pct(float8 ORDER BY anyelement) (stype = internal, sfunc = ordered_set_transition,
  finalfunc = percentile_disc_final, finalfunc_extra = true, finalfunc_modify = read_write);
CREATE AGGREGATE public.my_rank(VARIADIC "any" ORDER BY VARIADIC "any") (stype = internal,
  sfunc = ordered_set_transition_multi, finalfunc = rank_final, finalfunc_extra, hypothetical);
CREATE FUNCTION public.sum_step(integer, VARIADIC integer[]) RETURNS integer LANGUAGE sql IMMUTABLE
  AS 'SELECT $1 + coalesce((SELECT sum(x)::integer FROM unnest($2) x), 0)';
CREATE AGGREGATE public.sum_all(VARIADIC integer[]) (sfunc = public.sum_step, stype = integer, initcond = '0');
CREATE FUNCTION public.my_row_number() RETURNS bigint LANGUAGE internal WINDOW IMMUTABLE AS 'window_row_number';
CREATE FUNCTION public.f_var(VARIADIC a integer[]) RETURNS integer LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION public.f_out(IN a integer, OUT b text, INOUT c numeric) LANGUAGE sql AS $$SELECT 'x'::text, 1::numeric$$;
CREATE FUNCTION public.f_def(a integer DEFAULT 1, b text DEFAULT 'x') RETURNS integer LANGUAGE sql AS 'SELECT 1';
CREATE DOMAIN "we
ird"."My Dom" AS integer;
CREATE TYPE public."odd type" AS (x integer);
CREATE FUNCTION "we
ird"."Odd
Fn"(a "we
ird"."My Dom"[], b public."odd type", c timestamp(3) with time zone, d varchar(10), e "char", f bit varying,
  g double precision[][], h public."odd type"[]) RETURNS integer LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION public.f_over() RETURNS integer LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION public.f_over(integer) RETURNS integer LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION public.f_over(text) RETURNS integer LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION public.f_over(integer, text) RETURNS integer LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION public."f; Type: FUNCTION; Schema: x"(integer) RETURNS integer LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION public.many(${Array.from({ length: 100 }, (_, i) => `a${i} ${LONG_SCHEMA}.${LONG_TYPE}`).join(', ')})
  RETURNS integer LANGUAGE sql AS 'SELECT 1';
CREATE TYPE public."enum
nl" AS ENUM ('a', 'b');
CREATE TYPE "we
ird"."range
nl" AS RANGE (subtype = integer);
CREATE FOREIGN DATA WRAPPER dummy;
CREATE SERVER dummy_srv FOREIGN DATA WRAPPER dummy;
CREATE FOREIGN TABLE public."foreign
nl" (a integer) SERVER dummy_srv;
CREATE EXTENSION hstore;
CREATE PROCEDURE public.p_proc(a integer, INOUT b integer, OUT c text) LANGUAGE plpgsql AS $$BEGIN c := 'x'; END$$;
CREATE PROCEDURE "we
ird"."proc
nl"() LANGUAGE sql AS 'SELECT 1';
`;

/** A LATIN1 database: non-ASCII schema, table, function, view and data. */
export const LATIN1_SQL = `
CREATE SCHEMA café;
CREATE TABLE café.façade (id integer PRIMARY KEY, t text);
INSERT INTO café.façade SELECT g, 'crème brûlée ' || g FROM generate_series(1, 50) g;
CREATE FUNCTION café.façade(text) RETURNS integer LANGUAGE sql AS 'SELECT 1';
CREATE VIEW café."vüe
à la ligne" AS SELECT t FROM café.façade;
CREATE AGGREGATE café.zähler(*) (sfunc = int8inc, stype = int8, initcond = '0');
CREATE SEQUENCE café.séquence;
`;

export const EUCJP_SQL = `
CREATE SCHEMA 日本;
CREATE TABLE 日本.表 (列 text);
INSERT INTO 日本.表 VALUES ('値');
CREATE FUNCTION 日本.関数(text) RETURNS integer LANGUAGE sql AS 'SELECT 1';
CREATE VIEW 日本.ビュー AS SELECT 1 AS x;
`;

export const WIN1252_SQL = `
CREATE TABLE public."€uro" (a integer);
CREATE VIEW public."naïve…" AS SELECT 1 AS x;
CREATE FUNCTION public."œuvre"(text) RETURNS integer LANGUAGE sql AS 'SELECT 1';
`;

// SQL_ASCII stores bytes as sent: one name in LATIN1 bytes (not valid UTF-8), one in UTF-8 bytes.
export const SQL_ASCII_SQL = `
DO $$ BEGIN
  EXECUTE format('CREATE TABLE public.%I (a integer)', convert_from('\\x636166e9', 'SQL_ASCII'));
  EXECUTE format('CREATE FUNCTION public.%I(text) RETURNS integer LANGUAGE sql AS ''SELECT 1''', convert_from('\\x66e9', 'SQL_ASCII'));
END $$;
CREATE TABLE public."naïve" (a integer);
`;

// SQL_ASCII holding UTF-8 (the usual case): names read and shown as UTF-8.
export const SQL_ASCII_UTF8_SQL = `
CREATE SCHEMA "ünï";
CREATE TABLE "ünï"."tâble" (id integer PRIMARY KEY, t text);
INSERT INTO "ünï"."tâble" SELECT g, 'dâta ' || g FROM generate_series(1, 20) g;
CREATE FUNCTION "ünï"."fün"(text) RETURNS integer LANGUAGE sql AS 'SELECT 1';
`;

export interface Db {
  readonly name: string;
  readonly create: string;
  readonly sql: string;
  /** Dropped in a copy of the database: each must then be reported missing, as listed in `missing`. */
  readonly drop: string;
  readonly missing: readonly string[];
}

export const DBS: readonly Db[] = [
  {
    name: 'odd', create: '', sql: ODD_SQL,
    drop: `DROP AGGREGATE public.newcnt(*); DROP TABLE public."new\nline"; DROP PROCEDURE public.p_proc(integer, integer);
           DROP TABLE public."x; Type: VIEW; Schema: public; Owner: postgres"; DROP FUNCTION public.many;
           DROP TYPE public."enum
nl"; DROP FOREIGN TABLE public."foreign
nl"; DROP EXTENSION hstore; DROP SCHEMA ${LONG_SCHEMA} CASCADE;`,
    missing: [
      `function public.many(${Array.from({ length: 100 }, () => `${LONG_SCHEMA}.${LONG_TYPE}`).join(', ')})`, 'function public.newcnt(*)',
      'procedure public.p_proc(integer, integer)', 'table public.new line', 'table public.x; Type: VIEW; Schema: public; Owner: postgres',
      'type public.enum nl', 'foreign_table public.foreign nl', 'extension hstore', `schema ${LONG_SCHEMA}`, `type ${LONG_SCHEMA}.${LONG_TYPE}`,
    ],
  },
  {
    name: 'latin', create: `ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`, sql: LATIN1_SQL,
    drop: 'DROP FUNCTION café.façade(text); DROP AGGREGATE café.zähler(*);',
    missing: ['function café.façade(text)', 'function café.zähler(*)'],
  },
  {
    name: 'eucjp', create: `ENCODING 'EUC_JP' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`, sql: EUCJP_SQL,
    drop: 'DROP TABLE 日本.表;', missing: ['table 日本.表'],
  },
  {
    name: 'win1252', create: `ENCODING 'WIN1252' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`, sql: WIN1252_SQL,
    drop: 'DROP VIEW public."naïve…";', missing: ['view public.naïve…'],
  },
  {
    name: 'sqlascii', create: `ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`, sql: SQL_ASCII_SQL,
    drop: `DO $$ BEGIN EXECUTE format('DROP FUNCTION public.%I(text)', convert_from('\\x66e9', 'SQL_ASCII')); END $$; DROP TABLE public."naïve";`,
    missing: ['function public.f\\xe9(text)', 'table public.naïve'],
  },
  {
    name: 'sqlascii_utf8', create: `ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`, sql: SQL_ASCII_UTF8_SQL,
    drop: 'DROP FUNCTION "ünï"."fün"(text);', missing: ['function ünï.fün(text)'],
  },
];

