/** Mapping pg_dump's Type labels to the object kinds of the config and the catalog. */
import type { ObjectType } from '../config/schema.js';

const DUMP_TYPE_TO_OBJECT: Record<string, ObjectType> = {
  TABLE: 'table',
  VIEW: 'view',
  'MATERIALIZED VIEW': 'materialized_view',
  SEQUENCE: 'sequence',
  FUNCTION: 'function',
  AGGREGATE: 'function',
  PROCEDURE: 'procedure',
  SCHEMA: 'schema',
  EXTENSION: 'extension',
  INDEX: 'index',
  TYPE: 'type',
  DOMAIN: 'type',
  TRIGGER: 'trigger',
};

/** The config/catalog kind of a dump entry, or null for entries that are not objects (ACL, COMMENT, TABLE DATA, ...). */
export function objectTypeOf(dumpType: string): ObjectType | null {
  return DUMP_TYPE_TO_OBJECT[dumpType] ?? null;
}

/** Glob (* and ?) to an anchored regular expression. */
export function globToRegExp(glob: string): RegExp {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`);
}

/** Does a name match? Functions match with or without their argument list. */
export function nameMatches(pattern: RegExp, name: string): boolean {
  if (pattern.test(name)) return true;
  const paren = name.indexOf('(');
  return paren > 0 && pattern.test(name.slice(0, paren));
}
