/** The checks of the restore stage (the throwaway cluster and what the restore said) and of its teardown. */
import { defineChecks } from './definition.js';

export const RESTORE_CHECKS = defineChecks({
  'restore.isolation': {
    stage: 'restore',
    proves: "the sandbox is not the source, measured on the running server: its system_identifier differs from the source's, `listen_addresses` is empty and its postmaster holds no TCP socket",
    fails: 'the sandbox has the source\'s system_identifier (a clone or standby of production), or listens on TCP: nothing is restored into it',
    commands: ['run', 'verify', 'demo'],
  },
  'restore.extensions_available': {
    stage: 'restore',
    proves: "every extension of the source (read in the dump's snapshot) is available on the sandbox's server in the same version",
    fails: 'an extension is missing from the sandbox\'s server: an environment defect, named ahead of the restore errors it causes',
    warns: "an extension is available only in another version, or the source's extensions could not be read",
    commands: ['run', 'verify', 'demo'],
  },
  'restore.errors': {
    stage: 'restore',
    proves: 'psql or pg_restore restored the globals and the dump with no error other than benign ones (each error classified, with its SQLSTATE and statement, in `restore.errors`)',
    fails: 'a restore error that is not benign (the first named with its statement); a plain dump stops there and the copy is not compared further',
    commands: ['run', 'verify', 'demo'],
  },
  'restore.objects': {
    stage: 'restore',
    proves: "every object of the source's catalog (in the dump's snapshot; verify `--source`: now) is present in the restored copy",
    fails: 'source objects are missing after the restore (named)',
    skips: 'the restore stopped at an error, so the copy is not compared (see `restore.errors`)',
    commands: ['run', 'verify', 'demo'],
  },
  'restore.roles': {
    stage: 'restore',
    proves: 'every role the dump references (OWNER, GRANT) exists in the sandbox after the globals were restored',
    fails: 'a referenced role is missing after the restore (named)',
    warns: 'the globals were not captured or given: the roles exist only as NOLOGIN placeholders',
    commands: ['run', 'verify', 'demo'],
  },
});

export const TEARDOWN_CHECKS = defineChecks({
  'teardown.confirmed': {
    stage: 'teardown',
    proves: "the sandbox's postmaster is gone and its data and socket directories are deleted (or no sandbox was started)",
    fails: 'the postmaster still runs or a directory could not be removed (named)',
    warns: '`--keep`: the sandbox was left running on purpose (how to connect and stop it is in the detail)',
    commands: ['run', 'verify', 'demo'],
  },
});
