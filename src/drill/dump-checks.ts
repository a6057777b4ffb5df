/** Checks on what the one pass over a plain dump found: its trailer and hostile content. */
import type { Check } from '../report/model.js';
import type { PlainScanResult } from '../scan/types.js';

/** A plain dump must end with pg_dump's completion trailer (and `\unrestrict` with the `\restrict` key, where present). */
export function trailerCheck(scan: PlainScanResult): Check {
  const t = scan.trailer;
  const open = scan.copyBlocks.find((c) => !c.terminated);
  const keysOk = t.restrictKey === null ? t.unrestrictKey === null : t.unrestrictKey === t.restrictKey;
  const ok = t.complete && keysOk && !open;
  const why = !t.complete
    ? `no "-- PostgreSQL database dump complete" trailer: the dump is truncated${open ? ` (it ends inside the COPY data of ${open.table}, after ${open.rows} rows)` : ''}`
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

/** A plain dump is a psql script: anything pg_dump never writes (shell escapes, server files, ...) is refused before psql runs. */
export function hostileContentCheck(scan: PlainScanResult): Check {
  const f = scan.findings;
  return {
    name: 'backup.hostile_content', stage: 'content', status: f.length ? 'fail' : 'pass',
    detail: f.length
      ? `refused: ${f.length} thing(s) pg_dump never writes; first at line ${f[0]!.line}: ${f[0]!.kind} \`${f[0]!.text}\` — not restored, psql never saw it`
      : 'no psql meta-command other than pg_dump\'s own, no COPY PROGRAM, server-file access, ALTER SYSTEM or untrusted-language function',
    evidence: { findings: f.slice(0, 50) },
  };
}
