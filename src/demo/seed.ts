/**
 * The demo's "production": a `directus` database with a few application tables holding data, and a governance
 * layer like the one in the closeout record — 12 base tables, 12 read-only `v_*_observe` views over them, and a
 * role `cutter_ro` granted USAGE on the schema and SELECT on the 12 views only (13 grants, none that writes).
 */

export const GOVERNANCE_SCHEMA = 'cutter_governance';

export const GOVERNANCE_TABLES = [
  'canonical_address_alias', 'cut_change_set', 'cut_change_set_affected_row', 'decision_backlog_dependency',
  'decision_backlog_entry', 'decision_backlog_history', 'decision_backlog_sweep_log', 'dot_pair_signature',
  'manifest_envelope', 'manifest_unit_block', 'review_decision', 'verify_result',
] as const;

/** SQL that seeds the demo database (run as its owner). */
export function demoSeedSql(): string {
  const s = GOVERNANCE_SCHEMA;
  const governance = GOVERNANCE_TABLES.map(
    (t, i) => `
CREATE TABLE ${s}.${t} (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now(),
  state text NOT NULL DEFAULT 'open' CHECK (state IN ('open','closed','superseded')),
  payload jsonb NOT NULL DEFAULT '{}'::jsonb,
  note text
);
INSERT INTO ${s}.${t} (created_at, state, payload, note)
  SELECT timestamptz '2026-05-01 00:00:00+00' + g * interval '7 minutes', (ARRAY['open','closed','superseded'])[1 + g % 3],
         jsonb_build_object('seq', g, 'table', '${t}'), 'row ' || g
    FROM generate_series(1, ${(i + 1) * 25}) g;
CREATE VIEW ${s}.v_${t}_observe AS SELECT id, created_at, state, note FROM ${s}.${t};
GRANT SELECT ON ${s}.v_${t}_observe TO cutter_ro;`,
  ).join('\n');
  return `
CREATE ROLE cutter_ro NOLOGIN;
CREATE TABLE public.directus_users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email text NOT NULL UNIQUE,
  first_name text, last_name text,
  status text NOT NULL DEFAULT 'active',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE public.directus_collections (
  collection text PRIMARY KEY, icon text, note text, hidden boolean NOT NULL DEFAULT false
);
CREATE TABLE public.articles (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  title text NOT NULL, body text,
  author uuid REFERENCES public.directus_users(id),
  published_at timestamptz, tags text[], meta jsonb, price numeric(12,2)
);
CREATE INDEX articles_published_at_idx ON public.articles (published_at);
INSERT INTO public.directus_users (email, first_name, last_name, status, created_at)
  SELECT 'user' || g || '@example.org', 'First' || g, 'Last' || g, CASE WHEN g % 10 = 0 THEN 'suspended' ELSE 'active' END,
         timestamptz '2025-01-01 00:00:00+00' + g * interval '1 hour'
    FROM generate_series(1, 500) g;
INSERT INTO public.directus_collections VALUES ('articles', 'article', 'Blog posts', false), ('directus_users', 'people', NULL, true);
INSERT INTO public.articles (title, body, author, published_at, tags, meta, price)
  SELECT 'Article ' || g, repeat('Lorem ipsum dolor sit amet. ', 1 + g % 20),
         (SELECT id FROM public.directus_users ORDER BY email OFFSET (g % 500) LIMIT 1),
         CASE WHEN g % 7 = 0 THEN NULL ELSE timestamptz '2025-06-01 00:00:00+00' + g * interval '3 hours' END,
         ARRAY['tag' || (g % 5), 'tag' || (g % 11)], jsonb_build_object('words', 5 * (1 + g % 20), 'draft', g % 7 = 0),
         (g % 1000) / 7.0
    FROM generate_series(1, 5000) g;
CREATE SCHEMA ${s};
GRANT USAGE ON SCHEMA ${s} TO cutter_ro;
${governance}
ANALYZE;
`;
}

/** The config a demo drill runs with: the source pinned, and the governance layer expected exactly. */
export function demoConfig(systemIdentifier: string): Record<string, unknown> {
  return {
    // witness counts: the demo's source is throwaway, so it shows every evidence a drill can give (docs/fidelity.md).
    source: { system_identifier: systemIdentifier, database: 'directus', witness: 'counts' },
    expect: {
      objects: [
        { type: 'view', schema: GOVERNANCE_SCHEMA, name: 'v_*_observe', count: 12 },
        { type: 'table', schema: GOVERNANCE_SCHEMA, name: '*', count: 12 },
        { type: 'table', schema: 'public', name: 'directus_*' },
      ],
      roles: ['cutter_ro'],
      grants: [{ role: 'cutter_ro', count: 13, no_write: true }],
    },
    metadata: { phase: 'demo', authorization: 'pgdrill demo (throwaway local source)', author: 'pgdrill' },
  };
}
