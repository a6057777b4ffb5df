/**
 * The guard stage of every command that touches a live source (`run`, `demo`, `verify --source`): the source
 * guarded before any file exists, then — once there is a report to record it in — the `guard` stage, its
 * `guard.identity` check and what the report says of the source. One place for both commands.
 */
import type { DrillConfig } from '../../config/schema.js';
import type { ProgressCallback } from '../../logger.js';
import type { ReportBuilder } from '../../report/builder.js';
import type { Report } from '../../report/model.js';
import { sessionSettingsText } from '../../source/connection.js';
import { guardSource, type GuardedSource } from '../../source/guard-and-proof.js';
import { assertOutDirSafe } from './out-dir-guard.js';

/** The guarded source and how long the guard took (the run's includes choosing its programs and the lock-table check). */
export interface GuardResult {
  readonly guarded: GuardedSource;
  readonly startedAt: Date;
  readonly durationMs: number;
}

/**
 * Guard the source (exit 3 on a pin mismatch, before anything is done); the out directory must not be inside its
 * data or tablespace directories. Emits the guard stage's start; `recordGuard` its end.
 */
export async function guardStage(url: string | undefined, config: DrillConfig, o: {
  readonly outDir: string;
  readonly progress: ProgressCallback;
  readonly signal?: AbortSignal;
}): Promise<GuardedSource> {
  o.progress({ stage: 'guard', state: 'start' });
  return guardSource(url, config, { signal: o.signal, checks: (db) => assertOutDirSafe(db, o.outDir) });
}

/** Record the guard stage, `guard.identity` and the unpinned-identity note. `what`: 'drill' or 'verify', for the note. */
export function recordGuard(builder: ReportBuilder, progress: ProgressCallback, guard: GuardResult, config: DrillConfig, what: 'drill' | 'verify'): void {
  const id = guard.guarded.identity;
  builder.stages.push({ name: 'guard', started_at: guard.startedAt.toISOString(), duration_ms: guard.durationMs, status: 'pass' });
  progress({ stage: 'guard', state: 'end', status: 'pass' });
  builder.add({
    name: 'guard.identity', stage: 'guard', status: 'pass',
    detail: `source system_identifier ${id.systemIdentifier}, database ${id.database}` +
      (config.source.system_identifier || config.source.database ? ' — matches the pinned identity' : ' (no identity pinned in the config)'),
    evidence: { system_identifier: id.systemIdentifier, database: id.database, pinned: { system_identifier: config.source.system_identifier ?? null, database: config.source.database ?? null } },
  });
  if (!config.source.system_identifier) {
    const never = what === 'drill' ? 'a drill can never run against' : 'a verify can never compare with';
    builder.note('identity-not-pinned', `source.system_identifier is not pinned in the config: pin it so that ${never} the wrong cluster`);
  }
}

/** The report's `source` section and the guard's half of `production`, from what the guard found. */
export function sourceSections(g: GuardedSource, snapshot: string | null): Pick<Report, 'source' | 'production'> {
  const id = g.identity;
  return {
    source: {
      url: g.spec.redacted, database: id.database, system_identifier: id.systemIdentifier, server_version: id.serverVersionText,
      user: id.user, is_superuser: id.isSuperuser, can_write: g.capability.canWrite, can_write_detail: g.capability.detail,
      in_recovery: id.inRecovery, snapshot,
    },
    production: {
      system_identifier_before: id.systemIdentifier, system_identifier_after: null,
      fingerprint_before: `${g.before.fingerprint} (${g.before.items} items)`, fingerprint_after: null,
      session_settings: sessionSettingsText(g.spec), audit: [],
    },
  };
}
