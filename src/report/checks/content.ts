/** The checks of the content stage: what the dump holds, from its own text, before anything restores it. */
import { defineChecks } from './definition.js';

export const CONTENT_CHECKS = defineChecks({
  'content.hostile_content': {
    stage: 'content',
    proves: "the dump holds nothing that reaches outside the database and that pg_dump never writes: psql meta-commands other than pg_dump's own, `COPY … PROGRAM`, server-file access, `ALTER SYSTEM`, untrusted-language or C functions outside an extension (config `sandbox.allow` names exceptions)",
    fails: 'such content is found (the first named with its line and dump entry; all in `jail.refused`): the dump is not restored, psql never sees it',
    commands: ['run', 'verify', 'demo'],
    renamedFrom: 'backup.hostile_content',
  },
  'content.source_catalog': {
    stage: 'content',
    proves: "with no expectations configured: every table, view, materialized view, sequence, foreign table, function, procedure, type, schema and extension of the source (in the dump's snapshot; verify `--source`: now) is in the dump",
    fails: 'a source object is missing from the dump (each named)',
    commands: ['run', 'verify'],
  },
  'content.expectations': {
    stage: 'content',
    proves: null,
    emitted: 'only to say that no content check ran',
    fails: null,
    skips: 'no `expect` in the config and no source catalog to compare with (verify without `--source`)',
    commands: ['verify'],
  },
  'content.objects': {
    stage: 'content',
    item: 'the expectation: object type and (glob) name',
    proves: 'the dump holds objects of the type matching the name glob of a config `expect.objects` entry: at least one, or exactly `count`',
    fails: 'none matches, or another number than `count` (the matches named)',
    commands: ['run', 'verify', 'demo'],
  },
  'content.role': {
    stage: 'content',
    item: 'the role',
    proves: 'a role of config `expect.roles` is referenced by an OWNER or GRANT entry of the dump',
    fails: 'the role is referenced nowhere in the dump',
    commands: ['run', 'verify', 'demo'],
  },
  'content.grants': {
    stage: 'content',
    item: 'the role',
    proves: "the grants to a role of config `expect.grants`: exactly `count`, no write privilege (`no_write`), and one on each object of `on`",
    fails: 'another number of grants, a write privilege (each named with its line), or an object in `on` without a grant',
    commands: ['run', 'verify', 'demo'],
  },
});
