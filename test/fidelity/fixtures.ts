/**
 * SQL fixtures for the fidelity tests: a database that uses every column type the content hash must be
 * deterministic for, and catalog features the catalog comparison and the round trip must see as equal.
 */

/** Database-level settings that differ from the sandbox's defaults: hashing must not depend on them. */
export const ODD_SETTINGS_SQL = (db: string) => `
ALTER DATABASE ${db} SET TimeZone = 'Pacific/Chatham';
ALTER DATABASE ${db} SET DateStyle = 'SQL, DMY';
ALTER DATABASE ${db} SET IntervalStyle = 'iso_8601';
ALTER DATABASE ${db} SET extra_float_digits = 0;
ALTER DATABASE ${db} SET bytea_output = 'escape';
ALTER DATABASE ${db} SET search_path = 'app, public';`;

/** Every type of the issue, NULL vs '', a table without a primary key holding duplicate rows. */
export const TYPES_SQL = `
CREATE SCHEMA app;
CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN app.positive AS numeric(12,3) CHECK (VALUE > 0) DEFAULT 1;
CREATE DOMAIN app.cash AS money;
CREATE TYPE app.pair AS (label text, amount numeric, at timestamptz);
CREATE TYPE app.floatrange AS RANGE (subtype = float8);
CREATE TABLE app.everything (
  id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  n numeric, n_scaled numeric(10,4), f4 real, f8 double precision,
  ts timestamp, tstz timestamptz, d date, t time, ttz timetz, iv interval,
  b bytea, j json, jb jsonb, arr int[], tarr text[], mood app.mood, pos app.positive, pr app.pair, prs app.pair[],
  m money, cash app.cash, marr money[], rng app.floatrange, tsr tstzrange, u uuid, ip inet, bits bit varying(16), x xml,
  tv tsvector, pt point, txt text, bool boolean, ch char(5), total numeric GENERATED ALWAYS AS (n * 2) STORED
);
INSERT INTO app.everything (n, n_scaled, f4, f8, ts, tstz, d, t, ttz, iv, b, j, jb, arr, tarr, mood, pos, pr, prs, m, cash, marr, rng, tsr, u, ip, bits, x, tv, pt, txt, bool, ch)
SELECT g * 1.1, g / 3.0, (g / 7.0)::real, g / 7.0, '2024-02-29 12:34:56.789'::timestamp + g * interval '1 day',
       '2024-03-31 01:30:00+00'::timestamptz + g * interval '1 hour 1 second', '2024-01-01'::date + g, '23:59:59.999999', '12:00+05:30',
       make_interval(months => g, days => g, secs => g * 1.5), decode(repeat(to_hex(g), 3), 'escape'),
       ('{"b": 1, "a": [' || g || ', null, "x"]}')::json, ('{"b": 1, "a": [' || g || ', null, "x"]}')::jsonb,
       ARRAY[g, NULL, -g], ARRAY['a"b', 'c,d', NULL, ''], (ARRAY['sad','ok','happy']::app.mood[])[1 + g % 3], g + 0.5,
       ROW('p' || g, g * 0.25, '2020-01-01 00:00+00'::timestamptz + g * interval '1 minute')::app.pair,
       ARRAY[ROW('q', 1, NULL)::app.pair, NULL], g * 1.23, (g * 2.5)::money, ARRAY[g::money], app.floatrange(0.1 * g, 0.3 * g),
       tstzrange('2024-01-01 00:00+00', '2024-06-01 00:00+00'), md5(g::text)::uuid, ('10.0.' || (g % 255) || '.1/24')::inet,
       (g % 2 = 0)::int::bit(1)::varbit, ('<r n="' || g || '"/>')::xml, to_tsvector('simple', 'row number ' || g), point(g / 3.0, -g / 7.0),
       CASE g % 3 WHEN 0 THEN NULL WHEN 1 THEN '' ELSE 'text ' || g END, g % 2 = 0, 'ab'
  FROM generate_series(1, 500) g;
INSERT INTO app.everything (f4, f8, n) VALUES ('NaN', 'Infinity', 'NaN'), ('-0', '-Infinity', 0), (1e-38, 1.7976931348623157e308, 1e-20),
  (0.1, 0.1, 0.1), (NULL, NULL, NULL);
-- No primary key, duplicate rows, NULL vs empty string.
CREATE TABLE app.bag (a text, b int);
INSERT INTO app.bag VALUES ('x', 1), ('x', 1), ('x', 1), ('', NULL), (NULL, NULL), (NULL, 0), ('', 0);
-- Catalog features: comments, column privileges, default privileges, policies, rules, statistics, inheritance,
-- partitions, an unlogged table, a matview WITH DATA, triggers, a procedure, a collation, storage and statistics targets.
CREATE ROLE app_reader NOLOGIN;
CREATE ROLE app_writer NOLOGIN;
GRANT USAGE ON SCHEMA app TO app_reader;
GRANT SELECT ON app.everything TO app_reader;
GRANT SELECT (a), UPDATE (b) ON app.bag TO app_writer;
GRANT EXECUTE ON FUNCTION pg_catalog.now() TO app_writer;
ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO app_reader;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
COMMENT ON TABLE app.everything IS 'one row per type';
COMMENT ON COLUMN app.everything.mood IS 'how it feels';
COMMENT ON TYPE app.mood IS 'moods';
CREATE COLLATION app.bytes (provider = libc, locale = 'C');
CREATE TABLE app.parent (id int, note text COLLATE app.bytes, created timestamptz DEFAULT '2020-01-01 00:00:00+00');
CREATE TABLE app.child (extra text) INHERITS (app.parent);
INSERT INTO app.child VALUES (1, 'n', DEFAULT, 'e');
ALTER TABLE app.parent ALTER COLUMN note SET STATISTICS 500, ALTER COLUMN note SET STORAGE EXTERNAL;
CREATE TABLE app.events (at timestamptz NOT NULL, kind text) PARTITION BY RANGE (at);
CREATE TABLE app.events_2024 PARTITION OF app.events FOR VALUES FROM ('2024-01-01 00:00+00') TO ('2025-01-01 00:00+00');
CREATE TABLE app.events_rest PARTITION OF app.events DEFAULT;
INSERT INTO app.events SELECT '2023-12-31 23:00+00'::timestamptz + g * interval '1 hour', 'k' || g FROM generate_series(1, 100) g;
CREATE INDEX ON app.events (kind);
CREATE UNLOGGED TABLE app.scratch (k int PRIMARY KEY, v text) WITH (fillfactor = 70);
INSERT INTO app.scratch SELECT g, repeat('v', g) FROM generate_series(1, 50) g;
CREATE MATERIALIZED VIEW app.mood_counts AS SELECT mood, count(*) AS n FROM app.everything GROUP BY mood;
CREATE VIEW app.happy AS SELECT id, txt FROM app.everything WHERE mood = 'happy' WITH CHECK OPTION;
ALTER TABLE app.bag ENABLE ROW LEVEL SECURITY;
CREATE POLICY bag_read ON app.bag FOR SELECT TO app_reader USING (b IS NOT NULL);
CREATE RULE scratch_no_delete AS ON DELETE TO app.scratch DO INSTEAD NOTHING;
CREATE STATISTICS app.ev_stats (dependencies) ON n, f8 FROM app.everything;
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.v := coalesce(NEW.v, 'touched'); RETURN NEW; END $$;
CREATE TRIGGER scratch_touch BEFORE INSERT OR UPDATE ON app.scratch FOR EACH ROW EXECUTE FUNCTION app.touch();
ALTER TABLE app.scratch DISABLE TRIGGER scratch_touch;
CREATE PROCEDURE app.noop(a int DEFAULT 3) LANGUAGE sql AS $$ SELECT 1 $$;
CREATE SEQUENCE app.down INCREMENT BY -5 MINVALUE -1000 MAXVALUE 0 START 0 CYCLE;
SELECT nextval('app.down'), nextval('app.down');
CREATE SEQUENCE app.never_called;
ANALYZE;
`;
