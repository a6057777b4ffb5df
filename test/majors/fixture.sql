-- A small database with the objects whose catalog form changes across majors 13–18 (src/fidelity/cross-major.ts):
-- NOT NULL columns and a NOT NULL domain, a GRANT ALL and default privileges (MAINTAIN in 17), single-relation and
-- join views (unqualified columns in 16), a range type (multiranges in 14), an XMLSERIALIZE (NO INDENT in 16).
-- Valid SQL on every major 13–18; roles come from the globals.
CREATE ROLE app_reader NOLOGIN;
CREATE SCHEMA app;
ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT ALL ON TABLES TO app_reader;
CREATE DOMAIN app.posint AS integer NOT NULL CHECK (VALUE > 0);
CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE app.floatrange AS RANGE (subtype = float8);
CREATE TABLE app.t (id integer PRIMARY KEY, f float8 NOT NULL, n numeric, ts timestamptz DEFAULT '2020-01-01 00:00+00', m app.mood, note text);
CREATE TABLE app.d (v app.posint, r app.floatrange);
CREATE TABLE app.p (id integer NOT NULL, k integer) PARTITION BY RANGE (id);
CREATE TABLE app.p1 PARTITION OF app.p FOR VALUES FROM (0) TO (1000);
INSERT INTO app.t SELECT i, i / 7.0, i * 1.5, '2020-01-01 00:00+00'::timestamptz + i * interval '1 hour', (ARRAY['sad', 'ok', 'happy'])[i % 3 + 1]::app.mood, repeat('x', i % 50) FROM generate_series(1, 500) i;
INSERT INTO app.d SELECT i, numrange(i, i + 1)::text::app.floatrange FROM generate_series(1, 100) i;
INSERT INTO app.p SELECT i, i % 10 FROM generate_series(0, 999) i;
CREATE VIEW app.v AS SELECT id, f * 2 AS g FROM app.t WHERE f > 0.5;
CREATE VIEW app.vj AS SELECT a.id, b.v FROM app.t a JOIN app.d b ON a.id = b.v;
CREATE VIEW app.vx AS SELECT XMLSERIALIZE(CONTENT '<a/>'::xml AS text) AS x;
CREATE MATERIALIZED VIEW app.mv AS SELECT m, count(*) AS c FROM app.t GROUP BY m;
CREATE FUNCTION app.twice(x integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT x * 2';
CREATE INDEX t_twice ON app.t (app.twice(id));
CREATE SEQUENCE app.s;
SELECT setval('app.s', 42);
GRANT USAGE ON SCHEMA app TO app_reader;
GRANT SELECT ON app.v TO app_reader;
COMMENT ON TABLE app.t IS 'the main table';
