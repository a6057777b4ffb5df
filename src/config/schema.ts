/**
 * The drill config (YAML), validated by zod: unknown keys are rejected and every problem is reported at once
 * with its path. The JSON Schema in schema/pgdrill.config.schema.json is generated from this file
 * (`npm run schema`). Code outside config/ only sees `DrillConfig`.
 */
import { z } from 'zod';
import { parseDuration } from './duration.js';

const duration = z
  .union([z.string(), z.number()])
  .refine((v) => parseDuration(v) !== null, { message: 'expected a duration like "30s", "500ms", "2m" or a number of seconds' });

/** Object kinds an expectation can name. */
export const OBJECT_TYPES = [
  'table', 'view', 'materialized_view', 'sequence', 'function', 'procedure', 'schema', 'extension', 'index', 'type', 'trigger',
] as const;
export type ObjectType = (typeof OBJECT_TYPES)[number];

const objectExpectation = z.strictObject({
  type: z.enum(OBJECT_TYPES).describe('kind of object'),
  schema: z.string().min(1).optional().describe('schema name or glob; any schema when omitted'),
  name: z.string().min(1).default('*').describe('exact name or glob (* and ?); default *'),
  count: z.number().int().nonnegative().optional().describe('exact number of matching objects; when omitted, at least one must match'),
});

const grantExpectation = z.strictObject({
  role: z.string().min(1),
  count: z.number().int().nonnegative().optional().describe('exact number of privilege grants (object × privilege) to the role'),
  no_write: z.boolean().default(false).describe('the role must hold no INSERT, UPDATE, DELETE, TRUNCATE (or ALL) privilege'),
  on: z.array(z.string().min(1)).optional().describe('objects (schema.name, globs allowed) that must each carry at least one grant to the role'),
});

/** A percentage threshold; null disables it. */
const pct = (def: number, what: string) => z.number().min(0).nullable().default(def).describe(`${what}; null disables; default ${def}`);

/** Baseline thresholds: a drill compared with the previous PASS of the same database in the same out directory. */
const thresholds = z.strictObject({
  max_size_shrink_pct: pct(20, 'FAIL when the dump is more than this % smaller than the previous PASS (same format only)'),
  max_table_rows_drop_pct: pct(50, 'FAIL when a table has lost more than this % of its rows since the previous PASS'),
  min_table_rows: z.number().int().min(0).default(100).describe('tables with fewer rows than this in the previous PASS are not judged by max_table_rows_drop_pct; default 100'),
  max_objects_drop_pct: pct(10, 'FAIL when the number of objects of one type (table, view, function, ...) dropped by more than this %'),
});

/** `notify.webhook`: POST a JSON summary of the drill (also a fleet file's `notify.webhook`, src/fleet/fleet-file.ts). */
export const WebhookSchema = z.strictObject({
  url: z
    .string()
    .regex(/^https?:\/\//i, 'expected an http:// or https:// URL')
    .refine((u) => !webhookUrlHasUserinfo(u), 'a webhook URL cannot carry user:password@ (fetch refuses it, and it is a secret): put the credentials in the path or query the endpoint expects, and the URL in url_env')
    .optional()
    .describe('endpoint that receives the JSON summary (POST); it is stored in clear wherever this config is (a fleet queue\'s jobs too): for a URL carrying a token prefer url_env'),
  url_env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected the name of an environment variable (letters, digits, _)')
    .optional()
    .describe("name of an environment variable holding the endpoint's URL, read when the drill starts (in a fleet: a PGDRILL_* variable of each worker); instead of url, so that a token in the URL is kept out of config files and the fleet queue"),
  on: z.enum(['fail', 'always']).default('fail').describe('fail: only when the drill FAILs (default); always: after every drill'),
  timeout: duration.default('10s').describe('per attempt; default 10s'),
  retries: z.number().int().min(0).max(10).default(3).describe('further attempts after a failed one (network error, timeout, HTTP 429 or 5xx); default 3'),
  backoff: duration.default('1s').describe('wait before the first retry, doubled for each further one; default 1s'),
  details: z
    .boolean()
    .default(false)
    .describe("add each failed check's detail (up to 500 characters) to the body; details can hold text the restored copy produced, e.g. a restore error a hostile dump raised; default false: check names, verdicts and counts only"),
}).refine((w) => (w.url === undefined) !== (w.url_env === undefined), { message: 'give the endpoint as exactly one of url and url_env' });

/** Whether an http(s) URL names a user (and maybe a password) before its host: `https://user:secret@host/…`. */
export function webhookUrlHasUserinfo(url: string): boolean {
  const m = /^https?:\/\/([^/?#]*)/i.exec(url);
  return !!m && m[1]!.includes('@');
}

export const ConfigSchema = z
  .strictObject({
    source: z
      .strictObject({
        url: z.string().min(1).optional().describe('libpq URL; prefer PGPASSWORD or .pgpass for the password'),
        system_identifier: z
          .union([z.string().regex(/^\d+$/, 'system_identifier is a decimal number'), z.number().int()])
          .transform(String)
          .optional()
          .describe('pin: abort (exit 3) unless the source has this system_identifier'),
        database: z.string().min(1).optional().describe('pin: abort (exit 3) unless the source database has this name'),
        statement_timeout: duration
          .default('60s')
          .describe("statement_timeout of pgdrill's own sessions on the source (catalog queries); the exact counts in the dump snapshot are not bounded by it"),
        max_lock_table_share: z
          .number()
          .positive()
          .max(10)
          .default(1)
          .describe("refuse (exit 3) a drill whose locks on the source (2 per table, view and materialized view — 3 per table with a parallel directory-format dump — 1 per sequence, one batch of the counts and ~450 on the system catalogs, at once) exceed this share of the source's lock table as PostgreSQL documents its size (max_locks_per_transaction × server slots); default 1. Above 1 only for a server known to have room beyond it"),
        unchanged_since_dump: z
          .boolean()
          .default(false)
          .describe('verify --source: the source has not changed since the dump was taken, so a row count or (--deep) content hash that differs from the source now FAILs instead of WARNing; default false'),
        witness: z
          .enum(['counts', 'hashes', 'none'])
          .default('none')
          .describe("run: what the source itself attests in the dump's snapshot, beside the evidence pgdrill takes from the dump's own COPY stream (rows and content hash of every table, compared with the restored copy): `counts` an exact count(*) of every table (a second read of each table: docs/fidelity.md); `hashes` counts and a content hash of every row computed by the source server (a full read hashed on production); `none` nothing beyond pg_dump's own read (the rows and content hashes from the dump's stream only). Default none"),
      })
      .default({ statement_timeout: '60s', max_lock_table_share: 1, unchanged_since_dump: false, witness: 'none' }),
    backup: z
      .strictObject({
        format: z.enum(['plain', 'custom', 'directory']).default('plain'),
        lock_wait_timeout: duration.default('30s').describe("pg_dump's --lock-wait-timeout"),
        globals: z.boolean().default(true).describe('capture roles with pg_dumpall --globals-only --no-role-passwords'),
        jobs: z.number().int().positive().optional().describe('parallel jobs for directory dumps and archive restores'),
        overlap: z
          .boolean()
          .default(true)
          .describe("start the sandbox while the source is dumped and restore a plain dump from pg_dump's stream as it is written (every line scanned before psql reads it); default true"),
      })
      .default({ format: 'plain', lock_wait_timeout: '30s', globals: true, overlap: true }),
    expect: z
      .strictObject({
        objects: z.array(objectExpectation).default([]),
        roles: z.array(z.string().min(1)).default([]).describe('roles that must be referenced by OWNER/GRANT entries in the dump'),
        grants: z.array(grantExpectation).default([]),
      })
      .optional()
      .describe('content expectations; when omitted, the source catalog itself is the expectation'),
    sandbox: z
      .strictObject({
        os_user: z
          .string()
          .min(1)
          .optional()
          .describe(
            'OS user that runs the throwaway cluster when pgdrill runs as root; default pgdrill-sandbox (created on first use). ' +
              'An override must exist; never name a user that owns anything else (e.g. postgres, which owns any other cluster on the host): a hostile dump acts with its OS privileges',
          ),
        allow: z
          .strictObject({
            functions: z
              .array(z.string().min(1))
              .default([])
              .describe('functions (name or schema.name, unquoted) allowed to be LANGUAGE c/internal or an untrusted PL outside an extension; default none'),
            meta_commands: z
              .array(z.string().min(1))
              .default([])
              .describe('psql meta-commands (e.g. "set") allowed in a plain dump, as long as their arguments hold no backslash or backquote; default none'),
          })
          .default({ functions: [], meta_commands: [] })
          .describe('named exceptions to the refusal of hostile content, for dumps you know; default none'),
      })
      .default({ allow: { functions: [], meta_commands: [] } }),
    binaries: z
      .strictObject({
        search_path: z
          .array(z.string().regex(/^\//, 'expected an absolute directory'))
          .default([])
          .describe('directories of PostgreSQL programs searched after PG_BINDIR and before the packaged layouts (/usr/lib/postgresql/N/bin, /usr/pgsql-N/bin, Homebrew), pg_config and PATH; default none'),
        majors: z
          .record(z.string().regex(/^\d{2}$/, 'expected a major version such as "16"'), z.string().regex(/^\//, 'expected an absolute directory'))
          .default({})
          .describe('the directory of the programs of one major, e.g. { "16": /opt/pg16/bin }: searched first after PG_BINDIR; each program there must report that major; default none'),
      })
      .default({ search_path: [], majors: {} })
      .describe('where PostgreSQL programs are, beyond the usual places; each role (dump, sandbox server, client) takes the program of the major it needs from wherever it is'),
    out: z.string().min(1).optional().describe('directory for run directories; default ./drills'),
    thresholds: thresholds
      .default({ max_size_shrink_pct: 20, max_table_rows_drop_pct: 50, min_table_rows: 100, max_objects_drop_pct: 10 })
      .describe('baseline: how far a drill may differ from the previous PASS of the same database before it FAILs'),
    notify: z
      .strictObject({ webhook: WebhookSchema.optional() })
      .optional()
      .describe('notifications sent after a drill; they never change its verdict or exit code'),
    metadata: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
      .default({})
      .describe('free-form facts copied into the report front matter (phase, authorization, author, ...)'),
  })
  .describe('pgdrill drill configuration');

/** The validated config. */
export type DrillConfig = z.output<typeof ConfigSchema>;
/** What a user may write. */
export type DrillConfigInput = z.input<typeof ConfigSchema>;
export type ObjectExpectation = z.output<typeof objectExpectation>;
export type GrantExpectation = z.output<typeof grantExpectation>;
/** Validated baseline thresholds. */
export type Thresholds = z.output<typeof thresholds>;
/** Validated webhook settings. */
export type WebhookConfig = z.output<typeof WebhookSchema>;
