/**
 * Why a restore error happened: a *backup defect* (the dump is wrong) or an *environment defect* (the sandbox
 * differs from the source), with a hint for each.
 */
import type { RestoreError } from '../report/model.js';

interface Rule {
  readonly test: (e: RestoreError) => boolean;
  readonly classification: RestoreError['classification'];
  readonly hint: string;
}

const RULES: readonly Rule[] = [
  { test: (e) => e.sqlstate === '42704' && /role .* does not exist/.test(e.message) || /role ".*" does not exist/.test(e.message), classification: 'environment_defect',
    hint: 'a role the dump references is missing in the sandbox: capture globals (pg_dumpall --globals-only) or create the role first' },
  { test: (e) => /extension ".*" is not available|could not open extension control file/.test(e.message) || e.sqlstate === '0A000' && /extension/.test(e.message), classification: 'environment_defect',
    hint: 'the sandbox server lacks an extension the source uses: install its package for this PostgreSQL version' },
  { test: (e) => /collation ".*" for encoding .* does not exist|invalid locale name|locale .* not found/.test(e.message), classification: 'environment_defect',
    hint: 'a collation or locale of the source is missing on this machine: install the locale, or restore into a matching OS' },
  { test: (e) => /unsupported version .* in file header|server version mismatch/.test(e.message), classification: 'environment_defect',
    hint: 'the dump was written by a newer pg_dump than this pg_restore: install client programs of that major version' },
  { test: (e) => /tablespace ".*" does not exist|could not create directory .*tablespace/.test(e.message), classification: 'environment_defect',
    hint: 'a tablespace of the source does not exist in the sandbox' },
  { test: (e) => /unexpected end of file|could not read (from )?input file|invalid (byte sequence|input syntax)|missing data for column|extra data after last expected column|end-of-copy marker|did not find magic string|could not open input file|syntax error/.test(e.message), classification: 'backup_defect',
    hint: 'the dump itself is damaged or truncated: take a new backup and investigate how this one was written' },
  { test: (e) => /relation ".*" does not exist|function .* does not exist|type ".*" does not exist|schema ".*" does not exist/.test(e.message), classification: 'backup_defect',
    hint: 'an object the dump needs is not in the dump (excluded, or the dump is incomplete)' },
];

/** Classify each error that is not already benign. */
export function classifyRestoreErrors(errors: readonly RestoreError[]): RestoreError[] {
  return errors.map((e) => {
    if (e.classification === 'benign') return e;
    const rule = RULES.find((r) => r.test(e));
    return rule ? { ...e, classification: rule.classification, hint: rule.hint } : e;
  });
}
