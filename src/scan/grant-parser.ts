/**
 * GRANT, REVOKE and ALTER DEFAULT PRIVILEGES, read from a statement's top-level tokens. pg_dump writes one
 * object per GRANT, but the parser takes the general forms: privilege lists, `ALL [PRIVILEGES]`, column lists
 * `SELECT(a, b)`, several objects and grantees, `GROUP r`, `WITH GRANT OPTION`, `GRANTED BY r`, and role
 * membership `GRANT r1, r2 TO r3`.
 */
import type { GrantEntry } from '../inventory/types.js';
import { asciiLower } from './psql-lexer.js';
import { findTopLevelWord, isPunct, isWord, keyword, renderName, roleName, splitTopLevel, type StmtToken } from './statement-tokens.js';

/** A GrantEntry with what else the statement said. */
export interface ScannedGrant extends GrantEntry {
  /** `WITH GRANT OPTION` (privileges) or `WITH ADMIN OPTION` (membership). */
  readonly withGrantOption?: boolean;
}

/** A role a statement refers to, and in what capacity. */
export interface RoleRef {
  readonly role: string;
  readonly as: 'owner' | 'grant' | 'other';
}

/** What one ACL statement yields. */
export interface AclParse {
  readonly grants: ScannedGrant[];
  readonly roles: RoleRef[];
}

/** Object types as written after ON, longest first where they share a prefix. */
const OBJECT_TYPES: readonly (readonly string[])[] = [
  ['foreign', 'data', 'wrapper'], ['foreign', 'server'], ['large', 'object'],
  ['table'], ['sequence'], ['database'], ['domain'], ['function'], ['procedure'], ['routine'], ['language'],
  ['schema'], ['tablespace'], ['type'], ['parameter'],
];

/** `GRANT …` (tokens[0] is GRANT). */
export function parseGrant(tokens: readonly StmtToken[], line: number): AclParse {
  const grants: ScannedGrant[] = [];
  const roles: RoleRef[] = [];
  const split = findTopLevelWord(tokens, 1, ['on', 'to']);
  if (split === -1) return { grants, roles };
  const toIdx = keyword(tokens[split]) === 'to' ? split : findTopLevelWord(tokens, split + 1, ['to']);
  if (toIdx === -1) return { grants, roles };
  const tail = parseGranteeTail(tokens, toIdx + 1, roles);

  if (keyword(tokens[split]) === 'to') {
    // Role membership: GRANT r1, r2 TO r3
    for (const part of splitTopLevel(tokens, 1, split)) {
      const granted = part.length === 1 ? roleName(part[0]) : null;
      if (!granted) continue;
      roles.push({ role: granted, as: 'grant' });
      for (const grantee of tail.grantees) {
        grants.push(entry(grantee, 'MEMBER', 'ROLE', granted, undefined, line, tail.withOption));
      }
    }
    return { grants, roles };
  }

  const privileges = splitTopLevel(tokens, 1, split).map(parsePrivilege).filter((p) => p.name !== '');
  let objStart = split + 1;
  let objectType = 'TABLE';
  if (isWord(tokens[objStart], 'all') && isWord(tokens[objStart + 2], 'in') && isWord(tokens[objStart + 3], 'schema')) {
    objectType = `ALL ${tokens[objStart + 1]!.value.toUpperCase()} IN SCHEMA`; // objStart + 2 exists
    objStart += 4;
  } else {
    for (const words of OBJECT_TYPES) {
      if (words.every((w, k) => isWord(tokens[objStart + k], w))) {
        objectType = words.join(' ').toUpperCase();
        objStart += words.length;
        break;
      }
    }
  }
  const objects = splitTopLevel(tokens, objStart, toIdx).map(renderName).filter((o) => o !== '');
  for (const object of objects) {
    for (const p of privileges) {
      for (const grantee of tail.grantees) {
        grants.push(entry(grantee, p.name, objectType, object, p.columns, line, tail.withOption));
      }
    }
  }
  return { grants, roles };
}

/** `REVOKE …`: no grants, but the roles it names must exist for the restore to succeed. */
export function parseRevoke(tokens: readonly StmtToken[]): RoleRef[] {
  const roles: RoleRef[] = [];
  const from = findTopLevelWord(tokens, 1, ['from']);
  if (from === -1) return roles;
  const split = findTopLevelWord(tokens, 1, ['on'], from);
  if (split === -1) {
    // REVOKE [ADMIN OPTION FOR] r1 FROM r2: r1 is referenced too
    let start = 1;
    if (isWord(tokens[1], 'admin') || isWord(tokens[1], 'inherit') || isWord(tokens[1], 'set')) start = findTopLevelWord(tokens, 1, ['for'], from) + 1 || 1;
    for (const part of splitTopLevel(tokens, start, from)) {
      const r = part.length === 1 ? roleName(part[0]) : null;
      if (r) roles.push({ role: r, as: 'grant' });
    }
  }
  parseGranteeList(tokens, from + 1, ['cascade', 'restrict', 'granted'], roles);
  return roles;
}

/** `ALTER DEFAULT PRIVILEGES [FOR ROLE r] [IN SCHEMA s] GRANT|REVOKE … TO|FROM r2`: roles only. */
export function parseDefaultPrivileges(tokens: readonly StmtToken[]): RoleRef[] {
  const roles: RoleRef[] = [];
  const forIdx = findTopLevelWord(tokens, 3, ['for']);
  const action = findTopLevelWord(tokens, 3, ['grant', 'revoke']);
  if (forIdx !== -1 && (action === -1 || forIdx < action) && (isWord(tokens[forIdx + 1], 'role') || isWord(tokens[forIdx + 1], 'user'))) {
    const end = findTopLevelWord(tokens, forIdx + 2, ['in', 'grant', 'revoke']);
    for (const part of splitTopLevel(tokens, forIdx + 2, end === -1 ? tokens.length : end)) {
      const r = part.length === 1 ? roleName(part[0]) : null;
      if (r) roles.push({ role: r, as: 'other' });
    }
  }
  if (action !== -1) {
    const to = findTopLevelWord(tokens, action + 1, ['to', 'from']);
    if (to !== -1) parseGranteeList(tokens, to + 1, ['with', 'cascade', 'restrict'], roles);
  }
  return roles;
}

function parsePrivilege(part: StmtToken[]): { name: string; columns?: string[] } {
  const open = part.findIndex((t) => isPunct(t, '('));
  const words = (open === -1 ? part : part.slice(0, open)).filter((t) => t.kind === 'ident').map((t) => t.value.toUpperCase());
  let name = words.join(' ');
  if (name === 'ALL PRIVILEGES') name = 'ALL';
  if (name === 'TEMP') name = 'TEMPORARY';
  if (open === -1) return { name };
  const close = part.findIndex((t, k) => k > open && isPunct(t, ')'));
  const cols = splitTopLevel(part, open + 1, close === -1 ? part.length : close)
    .map((c) => {
      const only = c.length === 1 ? c[0] : undefined;
      return only ? (only.kind === 'ident' ? asciiLower(only.value) : only.value) : renderName(c);
    })
    .filter((c) => c !== '');
  return { name, columns: cols };
}

interface GranteeTail {
  grantees: string[];
  withOption: boolean;
}

/** Grantees after TO, then WITH GRANT/ADMIN OPTION and GRANTED BY. */
function parseGranteeTail(tokens: readonly StmtToken[], from: number, roles: RoleRef[]): GranteeTail {
  const end = findTopLevelWord(tokens, from, ['with', 'granted']);
  const stop = end === -1 ? tokens.length : end;
  const grantees: string[] = [];
  for (const part of splitTopLevel(tokens, from, stop)) {
    const t = isWord(part[0], 'group') ? part[1] : part[0];
    if (!t || isPunct(t, ';')) continue;
    const kw = keyword(t);
    if (kw === 'public') {
      grantees.push('PUBLIC');
      continue;
    }
    if (kw === 'current_user' || kw === 'session_user' || kw === 'current_role') {
      grantees.push(kw.toUpperCase());
      continue;
    }
    const r = roleName(t);
    if (r) {
      grantees.push(r);
      roles.push({ role: r, as: 'grant' });
    }
  }
  let withOption = false;
  for (let i = stop; i < tokens.length; i++) {
    if (isWord(tokens[i], 'with') && (isWord(tokens[i + 1], 'grant') || isWord(tokens[i + 1], 'admin')) &&
      (isWord(tokens[i + 2], 'option') || isWord(tokens[i + 2], 'true'))) withOption = true;
    if (isWord(tokens[i], 'granted') && isWord(tokens[i + 1], 'by')) {
      const r = roleName(tokens[i + 2]);
      if (r) roles.push({ role: r, as: 'other' });
    }
  }
  return { grantees, withOption };
}

function parseGranteeList(tokens: readonly StmtToken[], from: number, stopWords: readonly string[], roles: RoleRef[]): void {
  const end = findTopLevelWord(tokens, from, stopWords);
  for (const part of splitTopLevel(tokens, from, end === -1 ? tokens.length : end)) {
    const t = isWord(part[0], 'group') ? part[1] : part[0];
    const r = roleName(t);
    if (r) roles.push({ role: r, as: 'grant' });
  }
}

function entry(role: string, privilege: string, objectType: string, object: string, columns: string[] | undefined, line: number, withGrantOption: boolean): ScannedGrant {
  return {
    role, privilege, objectType, object,
    ...(columns && columns.length ? { columns } : {}),
    line,
    ...(withGrantOption ? { withGrantOption: true } : {}),
  };
}
