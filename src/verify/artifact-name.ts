/** Names derived from an artefact when there is no source to ask: the database a dump belongs to, and its tables. */
import { basename } from 'node:path';
import type { TableRef } from '../catalog/tables.js';

/**
 * The database a dump file belongs to, from its name: `nightly/pagila-2026-11-27.sql.gz` → `pagila`. Extensions
 * (.sql, .gz, .dump, .backup, .tar, .dir, .pgdump) and a trailing date or time stamp are removed, so that every
 * night's dump of one database lands under one name in the history (and the baseline and `status` work).
 */
export function databaseFromArtifactName(path: string): string {
  let name = basename(path.replace(/\/+$/, ''));
  for (;;) {
    const next = name.replace(/\.(sql|gz|gzip|dump|backup|bak|tar|dir|pgdump|custom|plain|psql)$/i, '');
    if (next === name) break;
    name = next;
  }
  // pgdrill's own stamp (20261127T233317Z), ISO dates and times, 20261127, 2026-11-27_0300, epoch seconds.
  name = name.replace(/[-_.]?(\d{8}T\d{6}Z?|\d{4}-\d{2}-\d{2}(?:[T_ -]?\d{2}[:-]?\d{2}(?:[:-]?\d{2})?Z?)?|\d{8}(?:[T_-]?\d{4,6})?|\d{10})$/, '');
  return name || 'dump';
}

/**
 * Split a COPY target as pg_dump writes it (`public.actor`, `"My Schema"."Order"`) into schema and name,
 * honouring double quotes (a quoted name may hold dots). A name without a schema gets `public`.
 */
export function parseQualifiedName(text: string): TableRef | null {
  const parts: string[] = [];
  let i = 0;
  const s = text.trim();
  while (i < s.length) {
    if (s[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        if (i >= s.length) return null;
        if (s[i] === '"') {
          if (s[i + 1] === '"') {
            v += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += s[i++];
      }
      parts.push(v);
    } else {
      const m = /^[^."\s]+/.exec(s.slice(i));
      if (!m) return null;
      // Unquoted identifiers are folded to lower case by the server.
      parts.push(m[0].toLowerCase());
      i += m[0].length;
    }
    if (i < s.length) {
      if (s[i] !== '.') return null;
      i++;
    }
  }
  if (parts.length === 1) return { schema: 'public', name: parts[0]! };
  if (parts.length === 2) return { schema: parts[0]!, name: parts[1]! };
  return null;
}
