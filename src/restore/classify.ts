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

/** The first two characters of the SQLSTATE (its class), or ''. */
const cls = (e: RestoreError) => e.sqlstate?.slice(0, 2) ?? '';

/**
 * First match wins: specific messages first (they say which part of the environment is missing), then SQLSTATE
 * classes that only the environment produces, then the backup's own defects. What no rule knows stays `unknown`.
 */
const RULES: readonly Rule[] = [
  { test: (e) => e.sqlstate === '42704' && /role .* does not exist/.test(e.message) || /role ".*" does not exist/.test(e.message), classification: 'environment_defect',
    hint: 'a role the dump references is missing in the sandbox: capture globals (pg_dumpall --globals-only) or create the role first' },
  { test: (e) => /security label provider ".*" is not loaded|no security label providers have been loaded/.test(e.message), classification: 'environment_defect',
    hint: 'the dump holds SECURITY LABELs whose provider (e.g. sepgsql) is not loaded in the sandbox: load its module (shared_preload_libraries) for the sandbox, or dump with --no-security-labels if the labels need not be restored' },
  { test: (e) => /extension ".*" is not available|could not open extension control file/.test(e.message) || e.sqlstate === '0A000' && /extension/.test(e.message), classification: 'environment_defect',
    hint: 'the sandbox server lacks an extension the source uses: install its package for this PostgreSQL version' },
  { test: (e) => /collation ".*" for encoding .* does not exist|invalid locale name|locale .* not found|could not create locale|could not open collator for locale|ICU is not supported in this build/.test(e.message), classification: 'environment_defect',
    hint: 'a collation or locale of the source is missing on this machine: install the locale (locales-all, or locale-gen for that name) or an ICU-enabled PostgreSQL, or restore into a matching OS' },
  { test: (e) => /compression method (lz4|zstd) not supported|(lz4|zstd) compression is not supported by this build/.test(e.message), classification: 'environment_defect',
    hint: 'the sandbox\'s server was built without this compression method (e.g. the server store\'s embedded servers lack lz4): restore into a server built with it, such as the distribution\'s package of that major' },
  { test: (e) => /unsupported version .* in file header|server version mismatch/.test(e.message), classification: 'environment_defect',
    hint: 'the dump was written by a newer pg_dump than this pg_restore: install client programs of that major version' },
  { test: (e) => /tablespace ".*" does not exist|could not create directory .*tablespace|directory ".*" does not exist/.test(e.message), classification: 'environment_defect',
    hint: 'a tablespace of the source does not exist in the sandbox' },
  { test: (e) => /access to non-system foreign table is restricted/.test(e.message), classification: 'environment_defect',
    hint: 'the restore uses a foreign table in a statement pg_dump does not write (pg_dump\'s own REFRESH MATERIALIZED VIEW of a view over one is held back and the view left unpopulated, note matview-not-refreshed): the sandbox refuses every use of a foreign table so that the restored copy never reaches its server (docs/jail.md, Egress), so such a dump cannot be restored in isolation; nothing reached the foreign server' },
  // Added with the fidelity checks: the other ways a sandbox can differ from the source's machine.
  { test: (e) => /has no installation script nor update path for version|no installation script for version/.test(e.message), classification: 'environment_defect',
    hint: 'the sandbox has the extension, but not in the version the source uses: install that version of its package' },
  { test: (e) => /could not (access|load) (file|library) |could not load library|could not find function ".*" in file/.test(e.message), classification: 'environment_defect',
    hint: 'a shared library the dump refers to (an extension or a C function) is not installed for the sandbox\'s PostgreSQL, or is another version: install its package' },
  { test: (e) => /language ".*" does not exist/.test(e.message), classification: 'environment_defect',
    hint: 'a procedural language of the source is not installed for the sandbox\'s PostgreSQL (e.g. postgresql-plpython3): install it' },
  { test: (e) => /has no equivalent in encoding|encoding ".*" does not match locale|conversion between .* and .* is not supported/.test(e.message), classification: 'environment_defect',
    hint: 'the sandbox database\'s encoding cannot hold the source\'s data: restore into a database with the source\'s encoding' },
  { test: (e) => /could not open (dictionary|affix|stop-word|synonym|thesaurus) file/.test(e.message), classification: 'environment_defect',
    hint: 'a text search dictionary file of the source is missing on this machine (it lives in the server\'s share directory, not in the dump)' },
  { test: (e) => /unrecognized configuration parameter/.test(e.message), classification: 'environment_defect',
    hint: 'a setting the dump sets (a function\'s SET, ALTER DATABASE/ROLE ... SET) does not exist in the sandbox\'s PostgreSQL: the module that defines it is not loaded, or the server is another major version' },
  { test: (e) => /No space left on device|could not extend file|out of memory|out of shared memory/.test(e.message) || cls(e) === '53', classification: 'environment_defect',
    hint: 'the sandbox ran out of disk space, memory or shared memory (locks): give the run directory (or the temp directory) more room; a huge schema restored in one transaction may need a larger max_locks_per_transaction' },
  { test: (e) => /permission denied to create extension|must be (a )?superuser|must be owner of/.test(e.message), classification: 'environment_defect',
    hint: 'the role that restores lacks a privilege the dump needs (the sandbox restores as its superuser; check sandbox settings)' },
  // A file the server needs is not on this machine (58P01), or the machine failed to read or write one (58030).
  { test: (e) => e.sqlstate === '58P01' || e.sqlstate === '58030', classification: 'environment_defect',
    hint: 'the sandbox server could not find or use a file it needs (a library, a control or dictionary file, a directory): install what the source has beside PostgreSQL' },
  { test: (e) => /unexpected end of file|could not read (from )?input file|invalid (byte sequence|input syntax)|missing data for column|extra data after last expected column|end-of-copy marker|did not find magic string|could not open input file|syntax error/.test(e.message), classification: 'backup_defect',
    hint: 'the dump itself is damaged or truncated: take a new backup and investigate how this one was written' },
  { test: (e) => /relation ".*" does not exist|function .* does not exist|type ".*" does not exist|schema ".*" does not exist|column .* does not exist|operator .* does not exist/.test(e.message) || ['42P01', '42883', '42703', '3F000'].includes(e.sqlstate ?? ''), classification: 'backup_defect',
    hint: 'an object the statement needs does not exist at that point of the restore: it is not in the dump (excluded, or the dump is incomplete), or a function body names it without its schema — pg_dump restores with an empty search_path, so schema-qualify the name or give the function SET search_path' },
  { test: (e) => cls(e) === '23', classification: 'backup_defect',
    hint: 'the dump\'s rows violate a constraint it restores (the source holds rows that break it, e.g. a constraint added NOT VALID, or a CHECK whose function changed): this backup does not restore as it is' },
];

/** Classify each error that is not already benign; every error gets a hint (a generic one when no rule knows the cause). */
export function classifyRestoreErrors(errors: readonly RestoreError[]): RestoreError[] {
  return errors.map((e) => {
    if (e.classification === 'benign') return e;
    const rule = RULES.find((r) => r.test(e));
    if (rule) return { ...e, classification: rule.classification, hint: rule.hint };
    return { ...e, hint: e.hint ?? 'not a known cause: read the message and the statement; a backup defect if the dump is wrong, an environment defect if the sandbox differs from the source' };
  });
}
