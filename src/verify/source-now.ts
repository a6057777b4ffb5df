/**
 * `verify --source`: the live source the artefact came from, read now. The artefact was taken at some unknown
 * earlier moment, so every comparison with the source is **not snapshot-exact** — the report says so in a named
 * note and in each check's detail. The source is guarded (identity pins, exit 3), only read (read-only sessions,
 * every statement audited) and proven untouched at the end, as in `run`.
 */
import { catalogFingerprint, type CatalogFingerprint } from '../catalog/fingerprint.js';
import { listObjects, type CatalogObject } from '../catalog/objects.js';
import { countRows, listTables, tableLabel, type TableCount } from '../catalog/tables.js';
import type { DrillConfig, Thresholds } from '../config/schema.js';
import { parseDuration } from '../config/duration.js';
import { EnvironmentError, InterruptedError } from '../errors.js';
import { DbSession, type AuditEntry } from '../pg/client.js';
import type { ReportBuilder } from '../report/builder.js';
import type { Check, Report, TableRow } from '../report/model.js';
import { auditViolations } from '../source/audit.js';
import { measureWriteCapability, type WriteCapability } from '../source/can-write.js';
import { resolveSource, scrubber, type SourceSpec } from '../source/connection.js';
import { assertIdentity, readIdentity, type SourceIdentity } from '../source/identity.js';

/** The source as the guard found it, before anything else happened. */
export interface GuardedSource {
  readonly spec: SourceSpec;
  readonly identity: SourceIdentity;
  readonly before: CatalogFingerprint;
  readonly capability: WriteCapability;
  readonly encoding: string;
  /** Every statement sent to the source. */
  readonly audit: AuditEntry[];
  readonly scrub: (s: string) => string;
}

/**
 * Connect, read the identity and compare it with the config's pins — before any file exists.
 * @throws GuardError (exit 3) on a pin mismatch, EnvironmentError (exit 4) when the source is unreachable.
 */
export async function guardSource(url: string, config: DrillConfig, signal?: AbortSignal): Promise<GuardedSource> {
  // The same bounded, read-only sessions as run: statement_timeout and lock_timeout from the config.
  const spec = resolveSource(url, process.env, {
    statementTimeoutMs: parseDuration(config.source.statement_timeout ?? '60s') ?? undefined,
    lockTimeoutMs: parseDuration(config.backup.lock_wait_timeout) ?? undefined,
  });
  const scrub = scrubber(spec.secrets);
  const audit: AuditEntry[] = [];
  let db: DbSession;
  try {
    db = await DbSession.open(spec.connection, { audit, signal });
  } catch (err) {
    throw new EnvironmentError(`cannot connect to the source ${spec.redacted}: ${scrub((err as Error).message)}. Check the URL, that the server runs, and the credentials (PGPASSWORD or .pgpass).`, undefined, { cause: err });
  }
  try {
    const identity = await readIdentity(db);
    assertIdentity(identity, { systemIdentifier: config.source.system_identifier, database: config.source.database });
    const before = await catalogFingerprint(db);
    const capability = await measureWriteCapability(db);
    const encoding = await db.value<string>('SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()');
    return { spec, identity, before, capability, encoding, audit, scrub };
  } finally {
    await db.close();
  }
}

/** The source's catalog and (optionally) exact row counts, read now in one read-only transaction. */
export interface SourceNow {
  readonly objects: CatalogObject[];
  readonly counts: TableCount[] | null;
  readonly readAt: string;
}

/** Read the source's objects and, with `counts`, every table's `count(*)` — one REPEATABLE READ READ ONLY transaction. */
export async function readSourceNow(src: GuardedSource, counts: boolean, signal?: AbortSignal): Promise<SourceNow> {
  await using db = await DbSession.open(src.spec.connection, { audit: src.audit, signal });
  await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  const readAt = new Date().toISOString();
  const objects = await listObjects(db);
  let rows: TableCount[] | null = null;
  if (counts) {
    // Exact counts of big tables must not hit the session's statement_timeout (as in run's snapshot session).
    await db.query('SET statement_timeout = 0');
    rows = await countRows(db, await listTables(db), signal);
  }
  await db.query('COMMIT');
  return { objects, counts: rows, readAt };
}

/**
 * The restored copy's rows against the source's rows now. FAIL when a source table is missing from the restore,
 * or the restore holds less than (100 − max_table_rows_drop_pct)% of a table's current rows (tables under
 * min_table_rows not judged); WARN for any other difference (the source moved on since the dump); PASS when equal.
 */
export function sourceRowsNowCheck(tables: readonly TableRow[], now: readonly TableCount[], th: Thresholds, readAt: string): Check {
  const restored = new Map(tables.map((t) => [`${t.schema}.${t.name}`, t.restored_rows]));
  const missing: string[] = [];
  const dropped: string[] = [];
  const differ: string[] = [];
  for (const s of now) {
    const key = tableLabel(s);
    const r = restored.get(key) ?? null;
    if (r === null) {
      missing.push(key);
      continue;
    }
    if (r === s.rows) continue;
    const lostPct = s.rows > 0 ? ((s.rows - r) / s.rows) * 100 : 0;
    const line = `${key} source now ${s.rows} vs restored ${r}`;
    if (th.max_table_rows_drop_pct !== null && s.rows >= th.min_table_rows && lostPct > th.max_table_rows_drop_pct) dropped.push(line);
    else differ.push(line);
  }
  const label = `compared with the source NOW (read ${readAt}), not in the dump's snapshot: the source may have changed since the dump was taken`;
  const status: Check['status'] = missing.length || dropped.length ? 'fail' : differ.length ? 'warn' : 'pass';
  const parts: string[] = [];
  if (missing.length) parts.push(`${missing.length} source table(s) missing from the restored copy: ${missing.slice(0, 10).join(', ')}`);
  if (dropped.length) parts.push(`${dropped.length} table(s) hold more than ${th.max_table_rows_drop_pct}% fewer rows in the backup than in the source: ${dropped.slice(0, 10).join('; ')}`);
  if (differ.length) parts.push(`${differ.length} table(s) differ${status === 'warn' ? ' (within thresholds)' : ''}: ${differ.slice(0, 10).join('; ')}`);
  return {
    name: 'fidelity.source_rows_now', stage: 'fidelity', status,
    detail: status === 'pass' ? `${now.length} source table(s): every restored count(*) equals the source's — ${label}` : `${parts.join('; ')} — ${label}`,
    evidence: { snapshot_exact: false, read_at: readAt, tables: now.length, missing, dropped, differ: differ.slice(0, 100) },
  };
}

/**
 * Production untouched, as in `run`: identity and catalog fingerprint read again and compared with the guard's,
 * and every statement pgdrill sent judged read-only. Fills `report.production` and returns production_untouched.
 */
export async function productionStage(builder: ReportBuilder, src: GuardedSource, report: Report): Promise<boolean> {
  await builder.stage('production', async () => {
    let after: CatalogFingerprint;
    let idAfter: SourceIdentity;
    {
      await using db = await DbSession.open(src.spec.connection, { audit: src.audit });
      idAfter = await readIdentity(db);
      after = await catalogFingerprint(db);
    }
    const id = src.identity;
    report.production.system_identifier_after = idAfter.systemIdentifier;
    report.production.fingerprint_after = `${after.fingerprint} (${after.items} items)`;
    builder.expect('production.identity', 'production', idAfter.systemIdentifier === id.systemIdentifier && idAfter.database === id.database,
      `system_identifier ${idAfter.systemIdentifier} before = after`,
      `source identity changed during the verify: ${id.systemIdentifier}/${id.database} → ${idAfter.systemIdentifier}/${idAfter.database}`);
    builder.expect('production.catalog_fingerprint', 'production', after.fingerprint === src.before.fingerprint,
      `catalog fingerprint ${after.fingerprint} before = after (${after.items} objects, owners, ACLs, roles)`,
      `catalog fingerprint changed: ${src.before.fingerprint} → ${after.fingerprint} (${src.before.items} → ${after.items} items): something changed the source's catalog during the verify`);
    const violations = auditViolations(src.audit);
    const mine = src.audit.filter((a) => a.by === 'pgdrill').length;
    builder.expect('production.audit_read_only', 'production', violations.length === 0,
      `${mine} statement(s) sent by pgdrill, all read-only (sessions with ${src.spec.sessionOptions})`,
      `${violations.length} statement(s) sent to the source are not read-only: ${violations.map((v) => v.reason).join('; ')}`,
      { statements: mine, violations: violations.map((v) => v.entry.sql) });
  }, (e) => e instanceof InterruptedError);
  report.production.audit = src.audit.map((a) => ({ ...a, sql: src.scrub(a.sql) }));
  const prod = builder.checks.filter((c) => c.stage === 'production');
  return prod.length === 3 && prod.every((c) => c.status === 'pass');
}
