/**
 * The fleet file (`fleet.yaml`): which databases a fleet drills, how often, with which drill config, and the
 * limits of a drill on a worker. Validated by zod like the drill config (src/config/schema.ts): unknown keys are
 * rejected and every problem is reported at once with its path. The smallest valid file:
 *
 *   databases: [{ source: "postgresql://drill@db1.example.com/app", schedule: daily }]
 *
 * Sources are referenced, never carried with their secret: a `source` URL holding a password is refused (exit 2);
 * the worker's own `~/.pgpass`, a service file (`service:`) or its environment (PGPASSWORD, PGPASSFILE) supplies
 * it at drill time. Everything `fleet sync` puts into the queue comes from this file after that check.
 */
import { basename, dirname, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { ConfigSchema, WebhookSchema, type DrillConfigInput } from '../config/schema.js';
import { drillInheritsPgdrillVar } from './drill-child.js';
import { parseDuration } from '../config/duration.js';
import { readYamlFile } from '../config/load.js';
import { LibpqUrlError, isLibpqUrl, parseLibpqUrl } from '../source/libpq-url.js';
import { parseSchedule, SCHEDULE_FORMS, type Schedule } from './schedule.js';

const duration = z
  .union([z.string(), z.number()])
  .refine((v) => parseDuration(v) !== null, { message: 'expected a duration like "30m", "2h" or a number of seconds' });
const size = z
  .union([z.string(), z.number()])
  .refine((v) => parseSize(v) !== null, { message: 'expected a size like "20GB", "500MB", "1TB" or a number of bytes' });
const schedule = z.string().refine((v) => parseSchedule(v) !== null, { message: `expected ${SCHEDULE_FORMS}` });
/** A drill config, merged over `defaults.config` and validated as a whole (pgdrill.config.schema.json). */
const drillConfig = z.record(z.string(), z.unknown()).describe('drill config (the keys of a pgdrill config file), merged over defaults.config');

/** What a database and `defaults` may both set. */
const shared = {
  schedule: schedule.optional().describe(`how often: ${SCHEDULE_FORMS}; default daily`),
  kind: z.enum(['run', 'verify']).optional().describe('run: dump the live source and drill it (default); verify: drill the backup at `backup` (a dump file or directory archive on the worker)'),
  priority: z.number().int().min(-100).max(100).optional().describe('higher first when more drills are due than workers can take; default 0'),
  deep: z.boolean().optional().describe('also hash every table on both sides (run/verify --deep); default false'),
  max_duration: duration.optional().describe('stop (and report as timed out) a drill that runs longer; default limits.max_duration'),
  disk_budget: size.optional().describe('free space a worker needs in its --out to start this drill, and the most its run directory may grow to; default limits.disk_budget'),
  config: drillConfig.optional(),
  config_file: z.string().min(1).optional().describe('a pgdrill config file (relative to the fleet file), merged under `config`'),
};

const databaseEntry = z
  .strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,199}$/, 'letters, digits and . _ : @ / - (at most 200), starting with a letter or digit')
      .optional()
      .describe('the id the fleet knows the database by (default: host:port/dbname of the source, service:NAME, or the backup file name)'),
    source: z.string().min(1).optional().describe('libpq URL of the source, without a password (.pgpass, a service file or PGPASSWORD on the worker supply it)'),
    service: z.string().min(1).optional().describe('a PostgreSQL service name (pg_service.conf on the worker) instead of `source`'),
    backup: z.string().min(1).optional().describe('kind verify: the backup to drill on the worker (a dump file or directory archive)'),
    ...shared,
  })
  .describe('one database of the fleet');

const limits = z
  .strictObject({
    concurrency: z.number().int().min(1).max(64).default(1).describe('drills at once per worker (pgdrill worker --concurrency overrides); default 1'),
    max_duration: duration.default('2h').describe('a drill that runs longer is stopped and reported as timed out; default 2h'),
    disk_budget: size.optional().describe('free space a worker needs in its --out to start a drill, and the most a run directory may grow to before the drill is stopped; default none'),
    lease: duration
      .refine((v) => (parseDuration(v) ?? 0) >= 10_000, { message: 'a lease is at least 10s' })
      .default('2m')
      .describe("a worker renews its hold on a drill every third of this; a worker that died (SIGKILL, power loss) loses it after this, and another worker drills the database again; default 2m"),
  })
  .default({ concurrency: 1, max_duration: '2h', lease: '2m' });

export const FleetSchema = z
  .strictObject({
    defaults: z.strictObject(shared).optional().describe('what every database gets unless it says otherwise'),
    limits: limits.describe('what a drill may take on a worker'),
    notify: z.strictObject({ webhook: WebhookSchema.optional() }).optional().describe("notifications after each drill (a drill config's notify.webhook); they never change a verdict"),
    databases: z.array(databaseEntry).min(1, 'a fleet needs at least one database').max(10_000),
  })
  .describe('pgdrill fleet file');

/** What a user may write. */
export type FleetFileInput = z.input<typeof FleetSchema>;
type FleetFileOutput = z.output<typeof FleetSchema>;
type DatabaseEntry = z.output<typeof databaseEntry>;

/** One database of a validated fleet: everything a worker needs to drill it, and nothing secret. */
export interface FleetDatabase {
  readonly id: string;
  readonly kind: 'run' | 'verify';
  /** libpq URL without a password, or undefined (service, or verify without a source). */
  readonly source?: string;
  readonly service?: string;
  readonly backup?: string;
  readonly schedule: Schedule;
  readonly priority: number;
  readonly deep: boolean;
  readonly maxDurationMs: number;
  readonly diskBudgetBytes?: number;
  /** The drill config as written (merged), validated; the worker hands it to `pgdrill run|verify --config`. */
  readonly config: DrillConfigInput;
}

/** A validated fleet. */
export interface Fleet {
  readonly databases: readonly FleetDatabase[];
  readonly concurrency: number;
  /** limits.lease in seconds. */
  readonly leaseSeconds: number;
}

/** "20GB", "500 MiB", "1T" or a number of bytes; null when it is none of these. Units are powers of 1024. */
export function parseSize(v: string | number): number | null {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.floor(v) : null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib|t|tb|tib)?\s*$/i.exec(v);
  if (!m) return null;
  const power = { b: 0, k: 1, m: 2, g: 3, t: 4 }[(m[2] ?? 'b').charAt(0).toLowerCase() as 'b' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * 1024 ** power);
}

/** Plain objects merged key by key, one level deep per section (`backup: {format}` over `backup: {jobs}` keeps both). */
function mergeConfig(...layers: (Record<string, unknown> | undefined)[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer ?? {})) {
      const prev = out[k];
      const bothObjects = isPlainObject(prev) && isPlainObject(v);
      out[k] = bothObjects ? { ...prev, ...v } : v;
    }
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Why a source URL may not go into the queue (it holds a password), or null. The reason never quotes the URL.
 */
export function sourceProblem(url: string): string | null {
  if (!isLibpqUrl(url)) return 'expected a libpq URL (postgresql://…); a keyword string or a PG* service goes in `service`';
  let params: Record<string, string>;
  try {
    params = parseLibpqUrl(url);
  } catch (err) {
    return err instanceof LibpqUrlError ? err.message : 'not a URL libpq would accept';
  }
  const secret = ['password', 'sslpassword'].find((k) => params[k] !== undefined);
  if (secret) {
    return `holds a ${secret}: a fleet never stores secrets in its queue — remove it and give it to the workers instead ` +
      "(a line in the worker user's ~/.pgpass, a service file's passfile, or PGPASSWORD/PGPASSFILE in the worker's environment)";
  }
  return null;
}

/** The id a database gets when it has no `name`. */
function defaultId(e: DatabaseEntry): string {
  if (e.service) return `service:${e.service}`;
  if (e.source) {
    const p = parseLibpqUrl(e.source);
    return `${p.host || 'local'}:${p.port || '5432'}/${p.dbname || p.user || 'postgres'}`;
  }
  return basename(e.backup ?? 'database');
}

/** Problems of one entry that zod cannot see alone: where the source is, secrets, verify's backup. */
function entryProblems(e: DatabaseEntry, kind: 'run' | 'verify', config: Record<string, unknown>): string[] {
  const problems: string[] = [];
  if (e.source && e.service) problems.push('give `source` or `service`, not both');
  if (kind === 'run' && !e.source && !e.service) problems.push('kind run needs `source` (a libpq URL) or `service`');
  if (kind === 'verify' && !e.backup) problems.push('kind verify needs `backup` (the dump file or directory archive the worker drills)');
  if (kind === 'run' && e.backup) problems.push('`backup` is for kind verify; a run takes a fresh dump of the source');
  if (e.source) {
    const p = sourceProblem(e.source);
    if (p) problems.push(`source: ${p}`);
  }
  if (isPlainObject(config.source) && config.source.url !== undefined) problems.push('config.source.url: a fleet database names its source in `source` or `service`');
  if (config.out !== undefined) problems.push('config.out: a worker writes to its own --out');
  const webhook = isPlainObject(config.notify) && isPlainObject(config.notify.webhook) ? config.notify.webhook : null;
  if (webhook && typeof webhook.url_env === 'string' && !drillInheritsPgdrillVar(webhook.url_env)) {
    problems.push(`notify.webhook.url_env: ${webhook.url_env} would not reach the drill — a worker passes its drills its PGDRILL_* variables (capitals, digits, _), not others: name one such as PGDRILL_WEBHOOK_URL, set in each worker's environment`);
  }
  return problems;
}

/** Read one `config_file`, relative to the fleet file. */
async function readConfigFile(path: string, fleetPath: string): Promise<Record<string, unknown>> {
  const raw = await readYamlFile(resolve(dirname(fleetPath), path), 'config file');
  return isPlainObject(raw) ? raw : {};
}

/** Turn one validated entry into a FleetDatabase; problems are pushed with the entry's path. */
async function resolveEntry(f: FleetFileOutput, e: DatabaseEntry, at: string, fleetPath: string, problems: string[]): Promise<FleetDatabase | null> {
  const d = f.defaults ?? {};
  const kind = e.kind ?? d.kind ?? 'run';
  const configFile = e.config_file ?? d.config_file;
  const fromFile = configFile ? await readConfigFile(configFile, fleetPath) : undefined;
  const notify = f.notify?.webhook ? { notify: { webhook: f.notify.webhook } } : undefined;
  const config = mergeConfig(notify, fromFile, d.config, e.config);
  const own = entryProblems(e, kind, config);
  const checked = ConfigSchema.safeParse(config);
  if (!checked.success) own.push(...checked.error.issues.map((i) => `config.${i.path.join('.')}: ${i.message}`));
  problems.push(...own.map((p) => `${at}: ${p}`));
  if (own.length) return null;
  const budget = e.disk_budget ?? d.disk_budget ?? f.limits.disk_budget;
  return {
    id: e.name ?? defaultId(e),
    kind,
    ...(e.source ? { source: e.source } : {}),
    ...(e.service ? { service: e.service } : {}),
    ...(e.backup ? { backup: resolve(dirname(fleetPath), e.backup) } : {}),
    schedule: parseSchedule(e.schedule ?? d.schedule ?? 'daily') ?? { kind: 'interval', ms: 86_400_000, text: 'daily' },
    priority: e.priority ?? d.priority ?? 0,
    deep: e.deep ?? d.deep ?? false,
    maxDurationMs: parseDuration(e.max_duration ?? d.max_duration ?? f.limits.max_duration) ?? 7_200_000,
    ...(budget !== undefined ? { diskBudgetBytes: parseSize(budget) ?? undefined } : {}),
    config,
  };
}

/**
 * Validate an already-parsed fleet file (`where` names it in messages; relative paths are resolved against it).
 * @throws ConfigError (exit 2) with every problem at once, each with its path.
 */
export async function validateFleet(raw: unknown, where = 'fleet.yaml'): Promise<Fleet> {
  const r = FleetSchema.safeParse(raw ?? {});
  const fail = (problems: string[]) =>
    new ConfigError(`${where} is not a valid fleet file (${problems.length} problem${problems.length > 1 ? 's' : ''}); fix these and run again:`, problems);
  if (!r.success) throw fail(r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`));
  const problems: string[] = [];
  const databases: FleetDatabase[] = [];
  const seen = new Map<string, number>();
  for (const [i, e] of r.data.databases.entries()) {
    const db = await resolveEntry(r.data, e, `databases.${i}`, where, problems);
    if (!db) continue;
    const first = seen.get(db.id);
    if (first !== undefined) problems.push(`databases.${i}: "${db.id}" is also entry ${first}; give one a distinct \`name\``);
    seen.set(db.id, first ?? i);
    databases.push(db);
  }
  if (problems.length) throw fail(problems);
  const leaseSeconds = Math.ceil((parseDuration(r.data.limits.lease) ?? 120_000) / 1000);
  return { databases, concurrency: r.data.limits.concurrency, leaseSeconds };
}

/**
 * Read and validate a fleet file (same limits as a config file: size, aliases, a regular file).
 * @throws ConfigError (exit 2) naming the file and every problem.
 */
export async function loadFleet(path: string): Promise<Fleet> {
  return validateFleet(await readYamlFile(path, 'fleet file'), path);
}
