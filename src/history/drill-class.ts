/**
 * Which drills the baseline may compare. Row counts of two drills say something about the backups only when both
 * drills restored the same kind of thing to the same point: a point-in-time drill (`--target xid:…`) holds fewer
 * rows than last night's drill to `latest` by design, and a physical copy of the whole cluster is not a logical dump
 * of one database. Everything that makes two runs incomparable lives here, so the baseline asks one question.
 */
import type { Report } from '../report/model.js';

/** The artefact a drill restored: a logical dump, or a physical backup and the tool that holds it. */
function artefactOf(r: Report): string {
  if (!r.physical) return 'logical dump';
  const path = r.backup.path ?? '';
  if (path.startsWith('pgbackrest:')) return 'physical pgBackRest backup';
  if (path.startsWith('barman:')) return 'physical Barman backup';
  return 'physical pg_basebackup';
}

/**
 * A drill's class, in words a report can show: drills of the same class are compared night to night, others never.
 * Logical dumps of any format share one class (sizes are compared only between equal formats, see `sizeCheck`);
 * physical drills are split by artefact tool, recovery target and target timeline (`latest` is the night-to-night one).
 */
export function drillClass(r: Report): string {
  const p = r.physical;
  if (!p) return artefactOf(r);
  const timeline = p.target_timeline === 'latest' ? '' : `, timeline ${p.target_timeline}`;
  return `${artefactOf(r)}, target ${p.target}${timeline}`;
}
