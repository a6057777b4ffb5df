/**
 * pg_dump's comment lines: the `-- Name: …; Type: …; Schema: …; Owner: …` header above every TOC entry, the
 * version lines at the top and the completion trailer at the end. Only lines that start at the top level of the
 * script count (the scanner checks that); a header-like line inside a function body is just text.
 */

/** One reading of a TOC entry header. */
export interface HeaderReading {
  readonly type: string;
  readonly schema: string | null;
  readonly name: string;
}

/** What a comment line says, if it is one of pg_dump's. */
export type HeaderLine =
  | {
    readonly kind: 'entry'; readonly type: string; readonly schema: string | null; readonly name: string; readonly owner: string | null;
    /** Other readings of a header that splits more than one way (a name, schema or owner holding `; Type: X; Schema: `): rare, adversarial. */
    readonly alternatives?: readonly HeaderReading[];
  }
  | { readonly kind: 'complete' }
  | { readonly kind: 'dumped-from'; readonly version: string }
  | { readonly kind: 'dumped-by'; readonly version: string };

// `-- Name: x; Type: TABLE; Schema: public; Owner: postgres` and `-- Data for Name: …`, optionally `; Tablespace: …`.
// pg_dump writes tag, schema and owner unquoted, with newlines and carriage returns replaced by spaces (its
// sanitize_line()), so one line is one header — but a name may itself hold `; Type: `, `; Schema: ` or `; Owner: `.
// The type is one of pg_dump's labels (words), which rules out most wrong splits; the rest are kept as
// alternatives, so that a lookup by name finds the entry whichever split is the true one. The first reading is the
// one with the longest name and the shortest schema and owner: object names come from applications and users
// (anything goes), schema and role names much less so.
const ENTRY_PREFIXES = ['-- Name: ', '-- Data for Name: '];
const TYPE_SEP = '; Type: ';
const SCHEMA_SEP = '; Schema: ';
const OWNER_SEP = '; Owner:';
const TABLESPACE_SEP = '; Tablespace: ';
// pg_dump 15 writes upper-case labels; older ones wrote some in mixed case ("Constraint").
const TYPE_LABEL = /^[A-Za-z]+(?: [A-Za-z]+)*$/;
/** Readings kept, and `; Type: ` separators tried, per header line: a hostile line full of separators must not
 * cost quadratic time. */
const MAX_READINGS = 8;
const MAX_TYPE_SEPARATORS = 64;
/** Longer than any pg_dump type label ("PUBLICATION TABLES IN SCHEMA"). */
const MAX_TYPE_LABEL = 64;

interface EntryReading extends HeaderReading {
  readonly owner: string | null;
}

function readings(body: string): EntryReading[] {
  const out: EntryReading[] = [];
  let tried = 0;
  for (let i = body.lastIndexOf(TYPE_SEP); i !== -1 && out.length < MAX_READINGS && tried++ < MAX_TYPE_SEPARATORS; i = i === 0 ? -1 : body.lastIndexOf(TYPE_SEP, i - 1)) {
    const typeStart = i + TYPE_SEP.length;
    const window = body.slice(typeStart, typeStart + MAX_TYPE_LABEL + SCHEMA_SEP.length);
    const j = window.indexOf(SCHEMA_SEP);
    if (j === -1) continue;
    const type = window.slice(0, j);
    if (!TYPE_LABEL.test(type)) continue;
    const schemaStart = typeStart + j + SCHEMA_SEP.length;
    for (let k = body.indexOf(OWNER_SEP, schemaStart); k !== -1 && out.length < MAX_READINGS; k = body.indexOf(OWNER_SEP, k + 1)) {
      let owner = body.slice(k + OWNER_SEP.length);
      if (owner.startsWith(' ')) owner = owner.slice(1);
      const ts = owner.indexOf(TABLESPACE_SEP);
      if (ts !== -1) owner = owner.slice(0, ts);
      const schema = body.slice(schemaStart, k);
      out.push({ name: body.slice(0, i), type, schema: schema === '-' ? null : schema, owner: owner === '-' || owner === '' ? null : owner });
    }
  }
  return out;
}

const DUMPED_FROM = /^-- Dumped from database version (.+)$/;
const DUMPED_BY = /^-- Dumped by pg_dump(?:all)? version (.+)$/;

/** Parses one line that starts with `--` (a trailing `\r` is ignored). Returns null for any other comment. */
export function parseHeaderLine(line: string): HeaderLine | null {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (!text.startsWith('-- ')) return null;
  const prefix = ENTRY_PREFIXES.find((p) => text.startsWith(p));
  if (prefix) {
    const [first, ...more] = readings(text.slice(prefix.length));
    if (first) {
      const alternatives = more.map(({ type, schema, name }) => ({ type, schema, name }));
      return { kind: 'entry', ...first, ...(alternatives.length ? { alternatives } : {}) };
    }
  }
  const trimmed = text.trimEnd();
  if (trimmed === '-- PostgreSQL database dump complete' || trimmed === '-- PostgreSQL database cluster dump complete') return { kind: 'complete' };
  const from = DUMPED_FROM.exec(trimmed);
  if (from) return { kind: 'dumped-from', version: from[1]! };
  const by = DUMPED_BY.exec(trimmed);
  if (by) return { kind: 'dumped-by', version: by[1]! };
  return null;
}
