/**
 * report.md's fidelity section (§4): catalog differences object by object, the round trip's first differing lines,
 * amcheck's findings per relation, missing extensions. Renders the model; computes nothing.
 */
import type { Fidelity } from './model.js';
import { mdCell, mdCodeCell, mdPre } from './markdown-cell.js';
import { EVIDENCE_WORDS, hashesReadTheSource } from './fidelity-evidence.js';

const cell = (s: string | null, max = 160) =>
  s === null ? '_(absent)_' : `\`${mdCodeCell(s.replace(/\s+/g, ' ').slice(0, max))}${s.length > max ? '…' : ''}\``;


/** What the hashes cost: the source's time only when the source was read. */
function hashTimes(h: NonNullable<Fidelity['hashes']>): string {
  return `${hashesReadTheSource(h) ? `source ${h.source_ms} ms in the dump snapshot, ` : ''}restored ${h.restored_ms} ms`;
}

/** Render the fidelity section. */
export function renderFidelity(f: Fidelity): string {
  const out: string[] = ['### Fidelity\n'];
  const lines: string[] = [];
  if (f.hashes) lines.push(`content_hashes: ${f.hashes.equal}/${f.hashes.tables} tables equal${f.hashes.large_objects || f.hashes.large_objects_differ ? `, ${f.hashes.large_objects} large objects (${f.hashes.large_objects_differ ?? 0} differ)` : ''} (${hashTimes(f.hashes)})${f.hashes.evidence ? `; evidence: ${f.hashes.evidence.map((e) => EVIDENCE_WORDS[e]).join(' and ') || 'large objects only'}` : ''}`);
  else lines.push('content_hashes: not computed (see check fidelity.content_hashes)');
  if (!f.catalog) lines.push('catalog: not compared (see check fidelity.catalog)');
  if (!f.round_trip) lines.push('round_trip: not run (see check fidelity.round_trip)');
  if (!f.amcheck) lines.push('amcheck: not run (see check fidelity.amcheck)');
  if (f.catalog) lines.push(`catalog: ${f.catalog.source_facts} facts on the source, ${f.catalog.restored_facts} restored, ${f.differences.length + f.differences_omitted} difference(s); ${f.catalog.sequences_checked} sequence(s) checked not behind (${f.catalog.source_ms} / ${f.catalog.restored_ms} ms)`);
  if (f.round_trip) lines.push(`round_trip: ${f.round_trip.equal ? 'equal' : 'DIFFERENT'} — ${f.round_trip.lines_compared} lines compared, ${f.round_trip.ms} ms (${f.round_trip.source_path} vs ${f.round_trip.restored_path})`);
  if (f.amcheck) lines.push(`amcheck: ${f.amcheck.relations_checked} relations, ${f.amcheck.corrupt} with corruption, exit ${f.amcheck.exit_code ?? '—'}, ${f.amcheck.ms} ms${f.amcheck.error ? ` — ${f.amcheck.error}` : ''}`);
  if (f.extensions_missing.length) lines.push(`extensions_missing: ${f.extensions_missing.map((e) => `${e.name} ${e.version}`).join(', ')} (environment defect)`);
  for (const n of f.normalisations ?? []) lines.push(`normalised ${n.source_major}→${n.sandbox_major}: ${n.id} (since ${n.since}): ${n.catalog_facts} catalog fact(s), ${n.round_trip_objects} round-trip object(s)${n.examples.length ? `, e.g. ${n.examples.slice(0, 3).join('; ')}` : ''}`);
  out.push(`\`\`\`\n${lines.map(mdPre).join('\n')}\n\`\`\`\n`);
  if (f.differences.length) {
    out.push(`#### Catalog differences\n\n| object | attribute | source | restored |\n|---|---|---|---|\n${f.differences
      .slice(0, 100)
      .map((d) => `| ${mdCell(d.object)} | ${mdCell(d.attribute)} | ${cell(d.source)} | ${cell(d.restored)} |`)
      .join('\n')}\n${f.differences.length + f.differences_omitted > 100 ? `\n_…and ${f.differences.length + f.differences_omitted - 100} more (report.json fidelity.differences)_\n` : ''}`);
  }
  const objects = f.round_trip?.objects;
  if (f.round_trip && !f.round_trip.equal && objects?.length) {
    const rt = f.round_trip;
    const rows = objects.slice(0, 50).flatMap((o) => {
      const shown = o.lines.slice(0, 5);
      const label = `${cell(o.section, 120)} (${o.kind})`;
      if (!shown.length) return [`| ${label} | | | | |`];
      return shown.map((d, i) => `| ${i === 0 ? label : ''} | ${d.source_line ?? ''} | ${cell(d.source, 120)} | ${d.restored_line ?? ''} | ${cell(d.restored, 120)} |`)
        .concat(o.lines.length + o.lines_omitted > shown.length ? [`| | | _…${o.lines.length + o.lines_omitted - shown.length} more line(s)_ | | |`] : []);
    });
    const total = rt.objects_differing ?? objects.length;
    out.push(`#### Round trip: ${total} object(s) differ${rt.differences_path ? ` (every one, with all its lines: \`${rt.differences_path}\`)` : ''}\n\n| object | source line | source | restored line | restored |\n|---|---:|---|---:|---|\n${rows.join('\n')}\n${total > 50 ? `\n_…and ${total - 50} more object(s)_\n` : ''}`);
  } else if (f.round_trip && !f.round_trip.equal) {
    out.push(`#### Round trip: first differing lines${f.round_trip.section ? ` (in \`${mdCodeCell(f.round_trip.section)}\`)` : ''}\n\n| source line | source | restored line | restored |\n|---:|---|---:|---|\n${f.round_trip.differences
      .map((d) => `| ${d.source_line ?? 'EOF'} | ${cell(d.source, 120)} | ${d.restored_line ?? 'EOF'} | ${cell(d.restored, 120)} |`)
      .join('\n')}\n`);
  }
  const corrupt = f.amcheck?.relations.filter((r) => r.status === 'corrupt') ?? [];
  if (corrupt.length) {
    out.push(`#### amcheck findings\n\n| relation | kind | finding |\n|---|---|---|\n${corrupt
      .slice(0, 50)
      .map((r) => `| ${mdCell(r.relation)} | ${r.kind} | ${cell(r.messages.join(' '), 300)} |`)
      .join('\n')}\n`);
  }
  return out.join('\n');
}
