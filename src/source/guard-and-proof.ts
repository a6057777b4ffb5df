/**
 * The two ends of every command that touches a live source (`run`, `verify --source`): the **guard** — connect,
 * read the identity, compare it with the config's pins, and take the "before" picture (catalog fingerprint, write
 * capability) before any file exists — and the **proof** that production was left untouched: identity and
 * fingerprint read again and compared, every statement pgdrill sent judged read-only.
 */
import { catalogFingerprint, type CatalogFingerprint } from '../catalog/fingerprint.js';
import type { DrillConfig } from '../config/schema.js';
import { parseDuration } from '../config/duration.js';
import { InterruptedError } from '../errors.js';
import { DbSession, type AuditEntry } from '../pg/client.js';
import type { ReportBuilder } from '../report/builder.js';
import type { Report } from '../report/model.js';
import { auditViolations } from './audit.js';
import { measureWriteCapability, type WriteCapability } from './can-write.js';
import { resolveSource, scrubber, withOwnSessionsJitOff, type SourceSpec } from './connection.js';
import { countLogins, loginToSource, loginTriggerNote, readLoginTriggers, type LoginTrigger } from './login.js';
import { assertIdentity, readIdentity, type SourceIdentity } from './identity.js';
import { readLockTableUse, type LockTableUse } from './lock-table.js';
import { readStandbySettings, type StandbySettings } from './standby.js';
import { readDatabaseLocale, type DatabaseLocale } from '../restore/database-locale.js';
import { readSessionsAtClose } from './footprint.js';
import type { ProcCpu } from './proc-cpu.js';

/** The source as the guard found it, before anything else happened. */
export interface GuardedSource {
  readonly spec: SourceSpec;
  readonly identity: SourceIdentity;
  readonly before: CatalogFingerprint;
  readonly capability: WriteCapability;
  readonly encoding: string;
  /** The database's LC_COLLATE, LC_CTYPE, locale provider and ICU locale: the restored copy is created with them. */
  readonly locale: DatabaseLocale;
  /** Every role name on the source (the sandbox's superuser is named after none of them). */
  readonly roles: ReadonlySet<string>;
  /** The source's own tablespaces (not pg_default/pg_global): an overlapped restore needs them before the dump's inventory is known. */
  readonly tablespaces: readonly string[];
  /**
   * The source's lock table against the locks a drill holds (a drill is refused above its capacity), and its user
   * relations, by which the restore sandbox's lock table is sized: lock-table.ts.
   */
  readonly lockTable: LockTableUse;
  /** On a standby, the settings that decide whether a long dump survives replay (standby.ts); null on a primary. */
  readonly standby: StandbySettings | null;
  /**
   * The source database's login event triggers (PostgreSQL 17+) that fire at every login of pgdrill's, pg_dump's and
   * pg_dumpall's sessions; `spec.readOnly` says whether one of them writes (src/source/login.ts). Empty before 17.
   */
  readonly loginTriggers: readonly LoginTrigger[];
  /** Every statement sent to the source, by pgdrill and (as entries the callers add) by pg_dump/pg_dumpall. */
  readonly audit: AuditEntry[];
  /** Each pgdrill session's backend as /proc showed it when the session closed (for the footprint: readSessionsAtClose). */
  readonly atClose: ReadonlyMap<number, ProcCpu>;
  /** Removes the source's secrets from a text. */
  readonly scrub: (s: string) => string;
}

/**
 * Resolve the source (URL or PG* environment; bounded, read-only sessions: statement_timeout and lock_timeout from
 * the config), connect, read the identity and compare it with the pins, run the caller's own `checks` (still before
 * anything is done), then read the fingerprint, the write capability, the encoding and locale, and the role names.
 * @throws GuardError (exit 3) on a pin mismatch, EnvironmentError (exit 4) when the source is unreachable, the
 *   signal's reason when interrupted.
 */
export async function guardSource(url: string | undefined, config: DrillConfig, opts: {
  readonly signal?: AbortSignal;
  readonly checks?: (db: DbSession, identity: SourceIdentity) => Promise<void>;
} = {}): Promise<GuardedSource> {
  const resolved = resolveSource(url, process.env, {
    statementTimeoutMs: parseDuration(config.source.statement_timeout ?? '60s') ?? undefined,
    lockTimeoutMs: parseDuration(config.backup.lock_wait_timeout) ?? undefined,
  });
  const scrub = scrubber(resolved.secrets);
  const audit: AuditEntry[] = [];
  const atClose = readSessionsAtClose(audit);
  const { db, spec: loggedIn } = await loginToSource(resolved, { audit, signal: opts.signal, scrub });
  try {
    const identity = await readIdentity(db);
    const loginTriggers = await readLoginTriggers(db, identity.serverVersion.major);
    assertIdentity(identity, { systemIdentifier: config.source.system_identifier, database: config.source.database });
    await opts.checks?.(db, identity);
    // No JIT in pgdrill's catalog reads (withOwnSessionsJitOff): this session by a statement, the later ones at login.
    if (identity.serverVersion.major >= 11) await db.query('SET jit = off');
    const spec = withOwnSessionsJitOff(loggedIn, identity.serverVersion.major);
    const before = await catalogFingerprint(db);
    const capability = await measureWriteCapability(db);
    const encoding = await db.value<string>('SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()');
    const locale = await readDatabaseLocale(db);
    const roles = new Set((await db.query<{ rolname: string }>('SELECT rolname FROM pg_roles')).map((r) => r.rolname));
    const tablespaces = (await db.query<{ spcname: string }>("SELECT spcname FROM pg_tablespace WHERE spcname NOT IN ('pg_default', 'pg_global') ORDER BY 1")).map((r) => r.spcname);
    const lockTable = await readLockTableUse(db);
    const standby = await readStandbySettings(db, identity.inRecovery);
    return { spec, identity, before, capability, encoding, locale, roles, tablespaces, lockTable, standby, loginTriggers, audit, atClose, scrub };
  } catch (err) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    throw err;
  } finally {
    await db.close();
  }
}

/**
 * The `production` stage: identity and catalog fingerprint read again and compared with the guard's, and every
 * statement sent to the source judged read-only (`production.identity`, `production.catalog_fingerprint`,
 * `production.audit_read_only`). Fills `report.production` (after-values and the scrubbed audit) and returns
 * production_untouched: all three checks passed. After an interrupt (`interrupted`) the proof still runs, bounded
 * by the session timeouts; a signal during it ends it.
 */
export async function productionStage(builder: ReportBuilder, src: GuardedSource, report: Pick<Report, 'production'>, o: {
  /** 'drill' or 'verify', for the messages. */
  readonly what: string;
  readonly signal?: AbortSignal;
  readonly interrupted?: boolean;
  /** An interrupt during the proof ends the command (verify); default false: it is recorded as `production.error` (run). */
  readonly endsOnInterrupt?: boolean;
}): Promise<boolean> {
  await builder.stage('production', async () => {
    let after: CatalogFingerprint;
    let idAfter: SourceIdentity;
    {
      await using db = await DbSession.open(src.spec.connection, { audit: src.audit, signal: o.interrupted ? undefined : o.signal });
      idAfter = await readIdentity(db);
      after = await catalogFingerprint(db);
    }
    const id = src.identity;
    report.production.system_identifier_after = idAfter.systemIdentifier;
    report.production.fingerprint_after = `${after.fingerprint} (${after.items} items)`;
    builder.expect('production.identity', 'production', idAfter.systemIdentifier === id.systemIdentifier && idAfter.database === id.database,
      `system_identifier ${idAfter.systemIdentifier} before = after`,
      `source identity changed during the ${o.what}: ${id.systemIdentifier}/${id.database} → ${idAfter.systemIdentifier}/${idAfter.database}`);
    builder.expect('production.catalog_fingerprint', 'production', after.fingerprint === src.before.fingerprint,
      `catalog fingerprint ${after.fingerprint} before = after (${after.items} objects, owners, ACLs, roles)`,
      `catalog fingerprint changed: ${src.before.fingerprint} → ${after.fingerprint} (${src.before.items} → ${after.items} items): something changed the source's catalog during the ${o.what}`);
    const violations = auditViolations(src.audit);
    const mine = src.audit.filter((a) => a.by === 'pgdrill').length;
    const tools = src.audit.some((a) => a.by !== 'pgdrill') ? '; pg_dump/pg_dumpall ran in read-only sessions' : '';
    const readOnly = src.spec.readOnly === 'after-login' ? 'read-only after login: a login trigger writes' : `PGOPTIONS ${src.spec.sessionOptions}`;
    const triggers = src.loginTriggers.length ? `; login trigger(s) ${src.loginTriggers.map((t) => t.name).join(', ')} ran at each login` : '';
    builder.expect('production.audit_read_only', 'production', violations.length === 0,
      `${mine} statement(s) sent by pgdrill, all read-only${tools} (${readOnly})${triggers}`,
      `${violations.length} statement(s) sent to the source are not read-only: ${violations.map((v) => v.reason).join('; ')}`,
      {
        statements: mine, violations: violations.map((v) => v.entry.sql), read_only: src.spec.readOnly,
        ...(src.loginTriggers.length ? { login_triggers: src.loginTriggers.map((t) => t.name), logins: countLogins(src.audit) } : {}),
      });
    const note = loginTriggerNote(src.loginTriggers, src.spec, src.audit);
    if (note) builder.note('source-login-triggers', note);
  }, (e) => (o.endsOnInterrupt ?? false) && e instanceof InterruptedError);
  report.production.audit = src.audit.map((a) => ({ ...a, sql: src.scrub(a.sql) }));
  const prod = builder.checks.filter((c) => c.stage === 'production');
  return prod.length === 3 && prod.every((c) => c.status === 'pass');
}
