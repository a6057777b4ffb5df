/** The checks of the guard (before anything is done) and of the production proof (after everything). */
import { defineChecks } from './definition.js';

export const GUARD_CHECKS = defineChecks({
  'guard.identity': {
    stage: 'guard',
    proves: 'the source is the cluster and database the config pins (`source.system_identifier`, `source.database`), read before any file is created',
    fails: null,
    instead: 'a mismatch aborts the drill with exit 3 before a run directory exists, so no report is written',
    commands: ['run', 'verify', 'demo'],
  },
  'guard.lock_table': {
    stage: 'guard',
    proves: "the drill's locks (per table, view, sequence, pg_dump worker) fit in half of the source's shared lock table",
    fails: null,
    instead: 'a drill whose locks would not fit is refused with exit 3 before it starts (`source.max_lock_table_share` allows more)',
    warns: 'the drill needs more than half of the lock table: production transactions that take many locks at once may fail with "out of shared memory" while it runs',
    commands: ['run', 'demo'],
  },
  'guard.standby': {
    stage: 'guard',
    proves: "the standby's primary keeps the row versions the dump's snapshot needs (`hot_standby_feedback`), or its replay waits for the dump",
    emitted: 'only when the source is a standby',
    fails: null,
    instead: 'a dump that replay cancels fails as `backup.recovery_conflict`',
    warns: 'a VACUUM on the primary can make the standby cancel a long dump (a recovery conflict); the settings to change are named',
    commands: ['run'],
  },
});

export const PRODUCTION_CHECKS = defineChecks({
  'production.identity': {
    stage: 'production',
    proves: "the source's system_identifier and database are the same after the drill as before it",
    fails: 'another cluster answers at the source\'s address, or the identity read after the drill differs (both named)',
    commands: ['run', 'verify', 'demo'],
  },
  'production.catalog_fingerprint': {
    stage: 'production',
    proves: "the source's catalog (objects, owners, ACLs, roles, memberships, extensions) has the same fingerprint after the drill as before it",
    fails: 'something changed the source\'s catalog during the drill (DDL, a grant, a new role): both fingerprints and item counts named',
    commands: ['run', 'verify', 'demo'],
  },
  'production.audit_read_only': {
    stage: 'production',
    proves: 'every statement pgdrill and its tools sent to the source (the audit in `production.audit`) is read-only',
    fails: 'a statement in the audit is not read-only (each named with why)',
    commands: ['run', 'verify', 'demo'],
  },
});
