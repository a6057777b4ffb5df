/**
 * Checks of a stage as a whole rather than of one thing it proves: the stage threw (`<stage>.error`), did not run
 * (`<stage>.skipped`), or the drill itself ended early (`drill.aborted`). The report builder emits the first two for
 * whichever stage it runs or skips.
 */
import { defineChecks } from './definition.js';

/** Said of every `<stage>.error`: what its detail holds. An interrupt, an environment error (exit 4) or a bug ends the drill instead (`drill.aborted`). */
const MESSAGE = "(the detail is the error's message; on a full disk it names the file system)";

export const STAGE_CHECKS = defineChecks({
  'backup.error': {
    stage: 'backup',
    proves: null,
    emitted: 'only when the stage threw',
    fails: `pg_dump or pg_dumpall failed or was killed (its exit code or signal and stderr), the source stopped, or the disk filled ${MESSAGE}; a failed dump leaves no file`,
    commands: ['run', 'verify', 'demo'],
  },
  'source.error': {
    stage: 'source',
    proves: null,
    emitted: 'only when the stage threw',
    fails: `verify \`--source\` could not read the source now (objects, counts, hashes) ${MESSAGE}`,
    commands: ['verify'],
  },
  'content.error': {
    stage: 'content',
    proves: null,
    emitted: 'only when the stage threw',
    fails: `the dump's inventory could not be read, e.g. an archive pg_restore cannot read ${MESSAGE}`,
    commands: ['run', 'verify', 'demo'],
  },
  'restore.error': {
    stage: 'restore',
    proves: null,
    emitted: 'only when the stage threw',
    fails: `the restore could not be set up or run, e.g. the database could not be created ${MESSAGE}; errors of the dump itself are \`restore.errors\``,
    commands: ['run', 'verify', 'demo'],
  },
  'restore.skipped': {
    stage: 'restore',
    proves: null,
    emitted: 'only when the restore stage did not run, to say why',
    fails: null,
    skips: 'an earlier check failed (the dump is not restored), or no backup was taken',
    commands: ['run', 'verify', 'demo'],
  },
  'fidelity.error': {
    stage: 'fidelity',
    proves: null,
    emitted: 'only when the stage threw',
    fails: `the restored copy could not be read or compared ${MESSAGE}`,
    commands: ['run', 'verify', 'demo'],
  },
  'fidelity.skipped': {
    stage: 'fidelity',
    proves: null,
    emitted: 'only when the fidelity stage did not run, to say why',
    fails: null,
    skips: 'the restore stopped at its first error: the copy is incomplete, and comparing it would turn one error into a difference for every object after it',
    commands: ['run', 'verify', 'demo'],
  },
  'teardown.error': {
    stage: 'teardown',
    proves: null,
    emitted: 'only when the stage threw',
    fails: `the sandbox's teardown could not be judged ${MESSAGE}`,
    commands: ['run', 'verify', 'demo'],
  },
  'production.error': {
    stage: 'production',
    proves: null,
    emitted: 'only when the stage threw',
    fails: `the proof could not read the source again (e.g. it stopped, or the proof was interrupted) ${MESSAGE}: production is not proven untouched`,
    commands: ['run', 'verify', 'demo'],
  },
  'baseline.error': {
    stage: 'baseline',
    proves: null,
    emitted: 'only when the stage threw',
    fails: `the previous drills could not be compared ${MESSAGE}`,
    commands: ['run', 'verify', 'demo'],
  },
  'drill.aborted': {
    stage: 'drill',
    proves: null,
    emitted: 'only when the drill ended early',
    fails: 'an interrupt (SIGINT, SIGTERM, SIGHUP), an environment error or a bug ended the drill: the message, with the stack in run.log',
    commands: ['run', 'verify', 'demo'],
  },
});
