/** The checks of the fidelity stage: the restored copy compared with the source as of the dump's snapshot. */
import { defineChecks } from './definition.js';

export const FIDELITY_CHECKS = defineChecks({
  'fidelity.row_counts': {
    stage: 'fidelity',
    proves: "every restored table's exact row count — the rows its `COPY … TO STDOUT` read back for the content hashes (the same scan), or `count(*)` for a table that read-back did not read whole (no COPY data, a foreign table, a read that failed) — equals the rows of its COPY block in the dump (counted by pgdrill as it read the dump) and, with `source.witness: counts` or `hashes` (run), the source's count(*) in the dump's snapshot; its evidence `counted_by` says how many tables each way",
    fails: 'a table holds another number of rows, or is missing from the copy (each named with both counts)',
    commands: ['run', 'verify', 'demo'],
    renamedFrom: 'restore.row_counts',
  },
  'fidelity.content_hashes': {
    stage: 'fidelity',
    proves: "every table holds the same rows: an order-independent hash of each table's COPY lines as pgdrill read them in the dump, against the same hash of the restored table's `COPY … TO STDOUT` under the dump's session settings (no source read); with `source.witness: hashes` also the source server's row hashes in the snapshot; with `--deep` every large object the same bytes",
    fails: 'a table or large object differs (named with both hashes and row counts), a restored table cannot be read back, or the source could not be hashed (witness)',
    warns: "in a dump pgdrill did not take, a table whose text follows a setting the dump does not record (TimeZone, bytea_output, lc_monetary, quote_all_identifiers) holds the same rows in other text: listed as not comparable",
    skips: 'the dump holds no table data, and neither the source witness nor `--deep` asks for more',
    commands: ['run', 'verify', 'demo'],
  },
  'fidelity.catalog': {
    stage: 'fidelity',
    proves: "the restored catalog equals the source's object by object (columns and their order, constraints, indexes, definitions, owners, ACLs, comments, extensions, partitions, policies, the database's locale, …) and no sequence is behind the snapshot",
    fails: 'a catalog fact differs (object, attribute, source value, restored value; in `fidelity.differences`), a sequence is behind, or the source\'s catalog could not be read in the snapshot',
    skips: "there is no capture of the source in the dump's snapshot to compare with (verify)",
    commands: ['run', 'verify', 'demo'],
  },
  'fidelity.round_trip': {
    stage: 'fidelity',
    proves: 'a schema-only dump of the copy equals the source\'s schema in the dump\'s snapshot (by default the dump\'s own schema entries; a schema-only pg_dump in that snapshot when another pg_dump major dumps the copy, or with PGDRILL_ROUND_TRIP_FROM_DUMP=0), object by object, after stripping only what legitimately differs',
    fails: 'objects differ, are missing or only in the copy (counted and named with their lines; all in `fidelity/round-trip-differences.txt`), or the source\'s side could not be read (from the dump, or its schema-only dump failed)',
    skips: "there is no capture of the source in the dump's snapshot to compare with (verify)",
    warns: "no pg_dump of the sandbox's major or newer is installed to dump the copy: the round trip was not run",
    commands: ['run', 'verify', 'demo'],
  },
  'fidelity.amcheck': {
    stage: 'fidelity',
    proves: '`pg_amcheck` finds no corruption in the copy (heap, TOAST, B-tree structure; with `--deep` every heap tuple has its index entry). amcheck proves presence of corruption, never absence: counts and hashes cover that',
    fails: 'pg_amcheck reports corruption (relations named) or cannot check',
    warns: "pg_amcheck or the amcheck extension is missing on this machine, the extension could not be created, or the sandbox runs PostgreSQL 13 or older (no `verify_heapam`, which pg_amcheck needs): the copy's structure was not checked",
    commands: ['run', 'verify', 'demo'],
  },
  'fidelity.source_rows_now': {
    stage: 'fidelity',
    proves: "verify `--source`: every restored table's count(*) equals the source's now (not the dump's snapshot)",
    fails: 'a source table is missing from the copy, or the backup holds more than `thresholds.max_table_rows_drop_pct` fewer rows than the source now; with `source.unchanged_since_dump`, any difference',
    warns: 'counts differ within the thresholds, or a table could not be counted: the source may have moved on since the dump',
    commands: ['verify'],
  },
  'fidelity.source_hashes_now': {
    stage: 'fidelity',
    proves: "verify `--source --deep`: every restored table's content hash equals the source's now",
    fails: 'with `source.unchanged_since_dump`: a table differs, is missing from the copy or could not be hashed',
    warns: 'without `source.unchanged_since_dump`: the same differences (the source may have moved on since the dump)',
    commands: ['verify'],
  },
});
