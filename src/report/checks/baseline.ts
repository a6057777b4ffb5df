/** The checks of the baseline stage: this drill against the previous PASS of the same database. */
import { defineChecks } from './definition.js';

export const BASELINE_CHECKS = defineChecks({
  'baseline.previous_pass': {
    stage: 'baseline',
    proves: null,
    emitted: 'only to say that there was nothing to compare with',
    fails: null,
    skips: 'no previous PASS of this database in the out directory (this drill can become the baseline)',
    commands: ['run', 'verify', 'demo'],
  },
  'baseline.size': {
    stage: 'baseline',
    proves: 'the dump is not more than `thresholds.max_size_shrink_pct` smaller than in the previous PASS',
    fails: 'the dump shrank by more than the threshold (both sizes named)',
    skips: 'the threshold is null, a size is unknown, or the formats differ (sizes of different formats are not comparable)',
    commands: ['run', 'verify', 'demo'],
  },
  'baseline.objects': {
    stage: 'baseline',
    proves: "no object type of the dump's inventory dropped by more than `thresholds.max_objects_drop_pct` since the previous PASS",
    fails: 'the objects of a type dropped by more than the threshold (each type named with both counts)',
    skips: 'the threshold is null, or one of the drills has no inventory',
    commands: ['run', 'verify', 'demo'],
  },
  'baseline.table_rows': {
    stage: 'baseline',
    proves: 'no table lost more than `thresholds.max_table_rows_drop_pct` of its restored rows, or disappeared, since the previous PASS (tables under `thresholds.min_table_rows` not judged)',
    fails: 'a table lost more rows than the threshold, or disappeared (each named)',
    skips: 'the threshold is null, or one of the drills has no row counts',
    commands: ['run', 'verify', 'demo'],
  },
});
