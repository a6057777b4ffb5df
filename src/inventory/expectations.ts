/**
 * The content check: a dump's inventory against the config's expectations (objects by type and glob with
 * exact counts, roles referenced, grants per role and "no write grants"), or — with no expectations
 * configured — against the source catalog itself.
 */
import type { ObjectExpectation, GrantExpectation, DrillConfig } from '../config/schema.js';
import type { CatalogObject } from '../catalog/objects.js';
import type { CheckResult } from '../report/model.js';
import type { DumpInventory } from './types.js';
import { decodeBytes, displayName, dumpEncoding, type DumpEncoding } from '../scan/dump-encoding.js';
import { globToRegExp, nameMatches, objectTypeOf } from './object-types.js';

/** Privileges that let a role change data. */
export const WRITE_PRIVILEGES = new Set(['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'ALL', 'ALL PRIVILEGES']);

const LIST_LIMIT = 20;

function listNames(names: readonly string[]): string {
  return names.length <= LIST_LIMIT ? names.join(', ') : `${names.slice(0, LIST_LIMIT).join(', ')}, … (${names.length - LIST_LIMIT} more)`;
}

function label(e: ObjectExpectation): string {
  return `${e.type} ${e.schema ? `${e.schema}.` : ''}${e.name}`;
}

/** Check one object expectation. */
export function checkObjectExpectation(inv: DumpInventory, e: ObjectExpectation): CheckResult {
  const nameRe = globToRegExp(e.name);
  const schemaRe = e.schema ? globToRegExp(e.schema) : null;
  const matched = [
    ...new Set(
      inv.entries
        .filter((x) => objectTypeOf(x.type) === e.type && nameMatches(nameRe, x.name) && (!schemaRe || schemaRe.test(x.schema ?? '')))
        .map((x) => `${x.schema ? `${x.schema}.` : ''}${x.name}`),
    ),
  ].sort();
  const ok = e.count !== undefined ? matched.length === e.count : matched.length > 0;
  const expected = e.count !== undefined ? `exactly ${e.count}` : 'at least 1';
  return {
    name: `content.objects[${label(e)}]`,
    stage: 'content',
    status: ok ? 'pass' : 'fail',
    detail: ok
      ? `${matched.length} ${e.type} object(s) match ${label(e)} (expected ${expected})${matched.length ? `: ${listNames(matched)}` : ''}`
      : matched.length === 0
        ? `missing from the dump: no ${e.type} matches ${e.schema ? `${e.schema}.` : ''}${e.name} (expected ${expected})`
        : `${matched.length} ${e.type} object(s) match ${label(e)}, expected ${expected}: ${listNames(matched)}`,
    evidence: { matched, expected: e.count ?? null },
  };
}

/** Roles that must be referenced by OWNER/GRANT entries. */
export function checkRoleExpectation(inv: DumpInventory, role: string): CheckResult {
  const ref = inv.roles[role];
  const total = ref ? ref.owner + ref.grant + ref.other : 0;
  return {
    name: `content.role[${role}]`,
    stage: 'content',
    status: total > 0 ? 'pass' : 'fail',
    detail: total > 0
      ? `role ${role} is referenced ${total} time(s) (${ref!.owner} owner, ${ref!.grant} grant, ${ref!.other} other)`
      : `role ${role} is not referenced by any OWNER or GRANT entry in the dump`,
    evidence: { references: ref ?? null },
  };
}

/** Grants to one role: exact count, no write privilege, objects that must carry a grant. */
export function checkGrantExpectation(inv: DumpInventory, g: GrantExpectation): CheckResult {
  const mine = inv.grants.filter((x) => x.role === g.role);
  const writes = mine.filter((x) => WRITE_PRIVILEGES.has(x.privilege));
  const problems: string[] = [];
  if (g.count !== undefined && mine.length !== g.count) problems.push(`${mine.length} grant(s) to ${g.role}, expected exactly ${g.count}`);
  if (g.no_write && writes.length) {
    problems.push(`${g.role} holds write privilege(s): ${listNames(writes.map((w) => `${w.privilege} on ${w.object} (line ${w.line})`))}`);
  }
  for (const obj of g.on ?? []) {
    const re = globToRegExp(obj);
    if (!mine.some((x) => nameMatches(re, x.object))) problems.push(`no grant to ${g.role} on ${obj}`);
  }
  const summary = `${mine.length} grant(s) to ${g.role}, ${writes.length} write`;
  return {
    name: `content.grants[${g.role}]`,
    stage: 'content',
    status: problems.length ? 'fail' : 'pass',
    detail: problems.length ? problems.join('; ') : `${summary}${g.count !== undefined ? ` (expected ${g.count})` : ''}${g.no_write ? '; no write privilege' : ''}`,
    evidence: {
      grants: mine.map((x) => `${x.privilege} ON ${x.objectType} ${x.object}${x.columns ? `(${x.columns.join(',')})` : ''}`),
      write: writes.length,
    },
  };
}

/**
 * The kinds the source catalog check compares: pg_dump dumps each on a TOC entry of its own, tagged with the bare name
 * (functions and procedures: with their argument types). Left out: indexes, triggers and constraints (tagged
 * `table name` or made by a constraint), and whatever the catalog list leaves out as pg_dump does (extension
 * members, system schemas, row and array types, a range type's constructors).
 */
const SOURCE_CATALOG_KINDS = new Set(['table', 'view', 'materialized_view', 'sequence', 'foreign_table', 'function', 'procedure', 'type', 'schema', 'extension']);

/** A dump entry's kind as the catalog list names it. */
function catalogKindOf(dumpType: string): string | null {
  return dumpType === 'FOREIGN TABLE' ? 'foreign_table' : objectTypeOf(dumpType);
}

/** pg_dump's sanitize_line(): tags and schemas in its `-- Name:` headers have newlines and carriage returns as spaces. */
function asInHeader(s: string): string {
  return s.replace(/[\n\r]/g, ' ');
}

function entryKey(type: string, schema: string | null, name: string): string {
  return `${type}\u0000${schema ?? ''}\u0000${name}`;
}

/**
 * A source object's schema and name as the dump's headers write them. When the dump is in the server's encoding (or
 * the server's is SQL_ASCII, which converts nothing), the catalog's stored bytes are decoded exactly as the scanner
 * decoded the dump — equal names give equal text whatever the encoding. Otherwise (a dump taken with
 * `pg_dump --encoding`) the server's own conversion to UTF-8 is compared with the dump's decoding.
 */
function asDumped(o: CatalogObject, enc: DumpEncoding): { schema: string | null; name: string } {
  const b = o.bytes;
  const raw = b && (dumpEncoding(b.encoding).name === enc.name || dumpEncoding(b.encoding).name === 'SQL_ASCII');
  const schema = raw ? b.schema : o.schema;
  const name = raw ? b.name : o.name;
  const shown = (s: string) => asInHeader(displayName(enc, raw ? decodeBytes(enc, Buffer.from(s, 'latin1')) : s));
  return { schema: schema === null ? null : shown(schema), name: shown(name) };
}

/**
 * Without expectations: every table, view, materialized view, sequence, foreign table, function (aggregates
 * included), procedure, type (enum, domain, range, composite), schema and extension of the source must be in the dump. Objects are matched on what pg_dump writes in each entry's header —
 * the tag it builds itself (functions: name and `format_type()` of each argument; a zero-argument aggregate
 * `name(*)`), newlines and carriage returns as spaces, in the dump's encoding — and on every reading of a header
 * that splits more than one way.
 */
export function checkAgainstSourceCatalog(inv: DumpInventory, source: readonly CatalogObject[]): CheckResult {
  const enc = dumpEncoding(inv.encoding ?? 'UTF8');
  const inDump = new Set<string>();
  for (const x of inv.entries) {
    for (const r of [x, ...(x.alternatives ?? [])]) {
      const t = catalogKindOf(r.type);
      if (t) inDump.add(entryKey(t, r.schema, r.name));
    }
  }
  const wanted = source.filter((o) => SOURCE_CATALOG_KINDS.has(o.type));
  const missing: string[] = [];
  for (const o of wanted) {
    const d = asDumped(o, enc);
    if (!inDump.has(entryKey(o.type, d.schema, d.name))) missing.push(`${o.type} ${d.schema ? `${d.schema}.` : ''}${d.name}`);
  }
  return {
    name: 'content.source_catalog',
    stage: 'content',
    status: missing.length ? 'fail' : 'pass',
    detail: missing.length
      ? `${missing.length} source object(s) missing from the dump: ${listNames(missing)}`
      : `all ${wanted.length} objects of the source (tables, views, materialized views, sequences, foreign tables, functions, procedures, types, schemas, extensions) are in the dump`,
    evidence: { expected: wanted.length, missing, encoding: enc.name },
  };
}

/** All content checks for a config (or the default expectation when none is configured). */
export function contentChecks(inv: DumpInventory, expect: DrillConfig['expect'], source: readonly CatalogObject[] | null): CheckResult[] {
  if (!expect) {
    if (!source) return [{ name: 'content.expectations', stage: 'content', status: 'skip', detail: 'no expectations configured and no source catalog to compare with' }];
    return [checkAgainstSourceCatalog(inv, source)];
  }
  return [
    ...expect.objects.map((e) => checkObjectExpectation(inv, e)),
    ...expect.roles.map((r) => checkRoleExpectation(inv, r)),
    ...expect.grants.map((g) => checkGrantExpectation(inv, g)),
  ];
}

/** Summaries for the report: counts per object kind, grants per role. */
export function summarizeInventory(inv: DumpInventory): {
  counts_by_type: Record<string, number>;
  roles: DumpInventory['roles'];
  grants_by_role: Record<string, { total: number; write: number }>;
} {
  const counts: Record<string, number> = {};
  for (const e of inv.entries) {
    const t = objectTypeOf(e.type);
    if (t) counts[t] = (counts[t] ?? 0) + 1;
  }
  const grants: Record<string, { total: number; write: number }> = {};
  for (const g of inv.grants) {
    const r = (grants[g.role] ??= { total: 0, write: 0 });
    r.total++;
    if (WRITE_PRIVILEGES.has(g.privilege)) r.write++;
  }
  return { counts_by_type: counts, roles: inv.roles, grants_by_role: grants };
}
