/** `pgdrill inspect DUMP`: the inventory of a dump, without restoring it. */
import { terminalText } from '../../terminal-text.js';
import { Command } from 'commander';
import { resolveDumpReader } from '../../toolchain/toolchain.js';
import { readArtifactHeader } from '../../verify/artifact-header.js';
import { resolveInputPath } from '../../exec/input-file.js';
import { archiveFilesCheck } from '../../verify/archive-files.js';
import { detectFormat } from '../../inventory/detect-format.js';
import { readInventory } from '../../inventory/read-inventory.js';
import { summarizeInventory } from '../../inventory/expectations.js';
import { objectTypeOf } from '../../inventory/object-types.js';
import { showBytesIn } from '../../report/show-bytes.js';
import { displayName, dumpEncoding } from '../../scan/dump-encoding.js';
import type { CliContext } from '../context.js';

export function registerInspect(program: Command, ctx: CliContext): void {
  program
    .command('inspect')
    .description('print the inventory of a dump (plain SQL, .sql.gz, custom, directory or tar archive)')
    .argument('<dump>', 'path of the dump')
    .option('--json', 'print the inventory as JSON', false)
    .action(async (given: string, o: { json: boolean }) => {
      // As verify: a FIFO/device is refused at once (exit 2); an archive that would make pg_restore follow a link, read
      // a FIFO or climb out of its directory is refused before pg_restore runs (exit 1).
      const path = (await resolveInputPath(given, 'the dump', { allowDirectory: true })).path;
      const format = await detectFormat(path);
      if (format === 'directory' || format === 'tar') {
        const files = await archiveFilesCheck(path, format);
        if (files.status === 'fail') {
          process.stderr.write(`pgdrill: ${files.detail}\n`);
          ctx.exitCode = 1;
          return;
        }
      }
      // A pg_restore that reads what the archive's header says wrote it (a plain dump needs none: any will do).
      const header = format.startsWith('plain') ? null : await readArtifactHeader(path, format);
      const bins = await resolveDumpReader(Math.max(header?.dumpedBy?.major ?? 0, header?.minRestoreMajor ?? 0));
      const scan = await readInventory(bins, path, format, ctx.signal);
      if (o.json) {
        // a SQL_ASCII dump's bytes that are not UTF-8 as \xNN, as in a report (JSON would carry them as lone surrogates)
        process.stdout.write(JSON.stringify(showBytesIn({ path: given, format, ...scan, summary: summarizeInventory(scan.inventory) }), null, 2) + '\n');
        return;
      }
      const s = summarizeInventory(scan.inventory);
      const out: string[] = [`${given} (${format}${format.startsWith('plain') ? `, ${scan.lines} lines, ${scan.bytes} bytes` : ''})`];
      if (format.startsWith('plain')) {
        out.push(`trailer: ${scan.trailer.complete ? 'complete' : 'MISSING (truncated?)'}${scan.trailer.restrictKey ? `, \\restrict key ${scan.trailer.unrestrictKey === scan.trailer.restrictKey ? 'matched' : 'NOT matched'}` : ''}`);
      }
      if (scan.trailer.dumpedBy) out.push(`dumped by pg_dump ${scan.trailer.dumpedBy} from server ${scan.trailer.dumpedFrom ?? '?'}`);
      const enc = dumpEncoding(scan.inventory.encoding ?? 'UTF8');
      const how = enc.name === 'SQL_ASCII' ? ' (no declared encoding: UTF-8 shown as characters, other bytes from 0x80 up as \\xNN)' : ' (read byte for byte: bytes from 0x80 up shown as \\xNN)';
      out.push(`encoding ${enc.name}${enc.decoded ? '' : how}`);
      out.push('', 'objects:');
      for (const [t, n] of Object.entries(s.counts_by_type).sort()) out.push(`  ${t.padEnd(18)} ${n}`);
      const byType = new Map<string, string[]>();
      for (const e of scan.inventory.entries) {
        const t = objectTypeOf(e.type);
        if (!t || t === 'index' || t === 'trigger') continue;
        const list = byType.get(t) ?? [];
        list.push(`${e.schema ? `${e.schema}.` : ''}${e.name}${e.owner ? ` (owner ${e.owner})` : ''}`);
        byType.set(t, list);
      }
      for (const [t, names] of [...byType].sort()) out.push('', `${t}:`, ...names.map((n) => `  ${n}`));
      out.push('', 'roles referenced:');
      for (const [r, c] of Object.entries(s.roles).sort()) out.push(`  ${r.padEnd(24)} owner ${c.owner}, grant ${c.grant}, other ${c.other}`);
      out.push('', 'grants by role:');
      for (const [r, c] of Object.entries(s.grants_by_role).sort()) out.push(`  ${r.padEnd(24)} ${c.total} grant(s), ${c.write} write`);
      if (scan.copyBlocks.length) {
        out.push('', 'table data (rows in COPY blocks):');
        for (const c of scan.copyBlocks) out.push(`  ${displayName(enc, c.table).padEnd(40)} ${c.rows}${c.terminated ? '' : '  (NOT TERMINATED: truncated)'}`);
      }
      if (scan.findings.length) {
        out.push('', `REFUSED CONTENT (${scan.findings.length}):`);
        for (const f of scan.findings) out.push(`  line ${f.line}: ${f.kind}: ${f.text}`);
      }
      // showBytes: anything else quoted from a SQL_ASCII dump (a refused statement's text) shows its bytes too
      process.stdout.write(terminalText(out.join('\n')) + '\n');
    });
}
