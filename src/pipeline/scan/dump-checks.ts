/** Checks on what the one pass over a plain dump found: its trailer and hostile content. */
import type { CheckResult } from '../../report/model.js';
import type { PlainScanResult } from '../../scan/types.js';
import { truncationPoint } from './truncation-point.js';
import { locateRefused } from '../report/jail-report.js';

/**
 * A plain dump must end with pg_dump's completion trailer (and `\unrestrict` with the `\restrict` key, where present).
 * `tail.endsWithNewline`, when known, tells a cut at a row boundary from one mid-row.
 */
export function trailerCheck(scan: PlainScanResult, tail?: { readonly endsWithNewline: boolean }): CheckResult {
  const t = scan.trailer;
  const open = scan.copyBlocks.find((c) => !c.terminated);
  const keysOk = t.restrictKey === null ? t.unrestrictKey === null : t.unrestrictKey === t.restrictKey;
  const ok = t.complete && keysOk && !open;
  const why = !t.complete
    ? `no "-- PostgreSQL database dump complete" trailer: the dump is truncated${open ? ` (it ends inside the COPY data of ${open.table}, ${!tail ? `after ${open.rows} rows` : tail.endsWithNewline ? `after ${open.rows} complete rows, at a row boundary` : `after ${open.rows - 1} complete rows and part of one more: cut mid-row`})` : ` (${truncationPoint(scan)})`}`
    : open
      ? `COPY data of ${open.table} (line ${open.line}) is not terminated`
      : `\\restrict key ${t.restrictKey ?? '(none)'} does not match \\unrestrict key ${t.unrestrictKey ?? '(none)'}`;
  return {
    name: 'backup.trailer', stage: 'backup', status: ok ? 'pass' : 'fail',
    detail: ok
      ? `completion trailer present${t.restrictKey ? '; \\restrict/\\unrestrict keys match' : ''}; ${scan.lines} lines, ${scan.copyBlocks.length} COPY blocks all terminated`
      : `truncated: ${why}`,
    evidence: { complete: t.complete, restrict_key_present: t.restrictKey !== null, keys_match: keysOk, lines: scan.lines, dumped_by: t.dumpedBy, dumped_from: t.dumpedFrom },
  };
}

/**
 * Anything pg_dump never writes and a hostile dump would (psql meta-commands, COPY … PROGRAM, server files, ALTER
 * SYSTEM, C or untrusted-language functions outside an extension, …) is refused before the sandbox sees the dump.
 * Plain dumps are scanned as written; archives as `pg_restore -f -` writes them (`archive` true), every entry
 * included. Each refusal is named by its line and the dump entry it is in.
 */
export function hostileContentCheck(scan: PlainScanResult, archive = false): CheckResult {
  const f = locateRefused(scan);
  const omitted = scan.findingsOmitted ?? 0;
  const first = f[0];
  const where = first ? `line ${first.line}${archive ? ' of the pg_restore script' : ''}${first.object ? ` (in ${first.object})` : ''}` : '';
  const kinds = [...new Set(f.map((x) => x.kind))];
  return {
    name: 'content.hostile_content', stage: 'content', status: f.length ? 'fail' : 'pass',
    detail: f.length
      ? `refused: ${f.length + omitted} thing(s) that reach outside the database and that a plain pg_dump of ordinary objects never writes (${kinds.join(', ')}); first at ${where}: ${first!.kind} \`${first!.text}\` — not restored, ${archive ? 'the sandbox' : 'psql'} never saw it`
      : `no psql meta-command other than pg_dump's own, no COPY PROGRAM, server-file access, ALTER SYSTEM or untrusted-language function${archive ? ' in any archive entry' : ''}`,
    evidence: { findings: f.slice(0, 50), omitted: omitted + Math.max(0, f.length - 50), kinds },
  };
}
