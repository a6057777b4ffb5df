/**
 * A SQL_ASCII database whose names and data are not UTF-8 (issue 21): bytes as a LATIN1 client would have written
 * them (`sé`, `café`, `colé`, `fé`), bytes of no encoding at all (`t\xb9\xe2`), beside UTF-8 (`naïve`) and ASCII —
 * names in several encodings at once, as SQL_ASCII allows. Built with `convert_from(bytes, 'SQL_ASCII')` so that any
 * client can send it.
 */

/** `\xNN` bytes of each odd name, as reports show them. */
export const SHOWN = {
  schema: 's\\xe9',
  table: 'caf\\xe9',
  column: 'col\\xe9',
  func: 'f\\xe9',
  internal: 'rnf\\xe9',
  view: 'vcaf\\xe9',
  index: 'icol\\xe9',
  mixed: 't\\xb9\\xe2',
} as const;

export const SQL_ASCII_FIXTURE = `
DO $$
DECLARE
  s text := convert_from('\\x73e9', 'SQL_ASCII');
  t text := convert_from('\\x636166e9', 'SQL_ASCII');
  c text := convert_from('\\x636f6ce9', 'SQL_ASCII');
  f text := convert_from('\\x66e9', 'SQL_ASCII');
  m text := convert_from('\\x74b9e2', 'SQL_ASCII');
BEGIN
  EXECUTE format('CREATE SCHEMA %I', s);
  EXECUTE format('CREATE TABLE %I.%I (id integer PRIMARY KEY, %I text, b bytea)', s, t, c);
  EXECUTE format('INSERT INTO %I.%I SELECT g, %L || g, %L::bytea FROM generate_series(1, 30) g', s, t,
                 convert_from('\\x64e974e020', 'SQL_ASCII'), convert_from('\\x5c78303066663830', 'SQL_ASCII'));
  EXECUTE format('CREATE FUNCTION %I.%I(text) RETURNS integer LANGUAGE sql AS ''SELECT 1''', s, f);
  -- LANGUAGE internal: the scanner refuses it unless sandbox.allow.functions names it (as the report shows it)
  EXECUTE format('CREATE FUNCTION %I.%I() RETURNS bigint LANGUAGE internal WINDOW AS ''window_row_number''', s, 'rn' || f);
  EXECUTE format('CREATE VIEW %I.%I AS SELECT %I FROM %I.%I', s, 'v' || t, c, s, t);
  EXECUTE format('CREATE INDEX %I ON %I.%I (%I)', 'i' || c, s, t, c);
  EXECUTE format('COMMENT ON TABLE %I.%I IS %L', s, t, convert_from('\\x636f6d6d656e74e9', 'SQL_ASCII'));
  EXECUTE format('CREATE TABLE public.%I (a text)', m);
  EXECUTE format('INSERT INTO public.%I VALUES (%L), (%L)', m, convert_from('\\xb9e2', 'SQL_ASCII'), 'ascii');
END $$;
CREATE TABLE public."naïve" (a text);
INSERT INTO public."naïve" VALUES ('ünï'), ('plain');
`;

/** Alter one row of `sé.café` in a restored copy (run on it over any client). */
export const ALTER_ROW = `DO $$ BEGIN
  EXECUTE format('UPDATE %I.%I SET %I = %L WHERE id = 7', convert_from('\\x73e9', 'SQL_ASCII'), convert_from('\\x636166e9', 'SQL_ASCII'),
                 convert_from('\\x636f6ce9', 'SQL_ASCII'), convert_from('\\x64e974e121', 'SQL_ASCII'));
END $$`;

/** Drop the table of mixed bytes from a restored copy. */
export const DROP_MIXED = `DO $$ BEGIN EXECUTE format('DROP TABLE public.%I', convert_from('\\x74b9e2', 'SQL_ASCII')); END $$`;
