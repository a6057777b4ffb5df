/**
 * Cross-major normalisations: what legitimately changes when a dump of PostgreSQL `source` is restored into a newer
 * major (an upgrade rehearsal, `--target-major`). Each rule names the major that brought the change, why it is not a
 * loss, and how it rewrites a catalog fact (catalog-facts.ts) or a round-trip object (round-trip.ts) so that the
 * two sides compare equal. A rule applies only when source major < `since` ≤ sandbox major, and every application is
 * counted and its objects named in the report (`fidelity.normalisations`): nothing is dropped silently, and any
 * difference no rule explains is still a finding. Found by restoring pagila, northwind and a set of odd objects from
 * 13, 14 and 15 into every newer major 14–18 (docs/versions.md lists them).
 */
import type { CatalogDifference } from './catalog-diff.js';
import type { CatalogFact } from './catalog-facts.js';

/** Which dump or catalog a fact or line comes from. */
export type Side = 'source' | 'restored';

/** One cross-major normalisation. */
export interface CrossMajorRule {
  /** Short stable name, e.g. `maintain-privilege`. */
  readonly id: string;
  /** The major that brought the change: the rule applies when source < since ≤ sandbox. */
  readonly since: number;
  readonly why: string;
  /** Rewrite one catalog fact: the same fact when the rule does not touch it, another value, or null (dropped). */
  readonly fact?: (f: CatalogFact, side: Side) => CatalogFact | null;
  /** Rewrite one round-trip object's lines (its `-- Name: …` header given): the same array when untouched. */
  readonly section?: (header: string, lines: readonly string[], side: Side) => readonly string[];
  /**
   * For a change that only the pair shows: is the restored text the source's, changed only the way the new major
   * prints it? Asked of a catalog difference (`what` is `object: attribute`) and of a round-trip object that differs
   * (`what` is its header, the texts its lines joined).
   */
  readonly equivalent?: (what: string, source: string, restored: string) => boolean;
}

/** A normalisation as the report lists it: the rule, the majors, how often it applied and to what. */
export interface AppliedNormalisation {
  readonly id: string;
  readonly since: number;
  readonly source_major: number;
  readonly sandbox_major: number;
  readonly why: string;
  /** Catalog facts rewritten or dropped (both sides). */
  readonly catalog_facts: number;
  /** Round-trip objects (pg_dump entries) rewritten (both sides). */
  readonly round_trip_objects: number;
  /** The first objects it touched (at most MAX_EXAMPLES). */
  readonly examples: string[];
}

/** Objects named per normalisation in the report. */
export const MAX_EXAMPLES = 10;

/** pg_dump's list of every table privilege before 17 (what `ALL` meant then), as pg_dump ≥ 17 prints it for an older server. */
const ALL_BEFORE_17 = 'SELECT,INSERT,REFERENCES,DELETE,TRIGGER,TRUNCATE,UPDATE';
const IDENT = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
/** Words after a relation in FROM that are not its alias. */
const NOT_ALIAS = 'ON|WHERE|JOIN|LEFT|RIGHT|INNER|FULL|CROSS|NATURAL|GROUP|ORDER|LIMIT|OFFSET|UNION|EXCEPT|INTERSECT|HAVING|WINDOW|USING|TABLESAMPLE|FETCH|FOR|WITH';
/** `FROM|JOIN [(…] [ONLY] [schema.]relation [[AS] alias]`, or a function in FROM (`FROM XMLTABLE(…)`, named by the function). */
const RANGE_ENTRY = new RegExp(String.raw`(?:\bFROM|\bJOIN)\s+\(*\s*(?:ONLY\s+)?(?:${IDENT}\.)?(${IDENT})(\()?(?:\s+(?:AS\s+)?(?!(?:${NOT_ALIAS})\b)(${IDENT}))?`, 'g');

/** The names a query's columns may be qualified with: every relation's alias, or its name (quoted or not) when it has none. */
export function rangeNames(sql: string): Set<string> {
  const names = new Set<string>();
  for (const m of sql.matchAll(RANGE_ENTRY)) {
    const name = m[2] && !m[3] ? m[1]!.toLowerCase() : (m[3] ?? m[1]!);
    names.add(name);
    if (/^[a-z_][a-z0-9_$]*$/.test(name)) names.add(`"${name}"`);
  }
  return names;
}

const TOKEN = new RegExp(String.raw`${IDENT}|\s+|.`, 'gs');

/**
 * Is `restored` the query `source` with some column qualifiers left out — `t.id` printed `id`, where `t` names a
 * relation of the query — and otherwise the same text? Only qualifiers can be missing: a column qualified by another
 * relation, or any other change, is not equivalent.
 */
export function sameButUnqualified(source: string, restored: string): boolean {
  const names = rangeNames(source);
  const s = source.match(TOKEN) ?? [];
  const r = restored.match(TOKEN) ?? [];
  let i = 0;
  let j = 0;
  while (i < s.length && j < r.length) {
    if (s[i] === r[j]) {
      i++;
      j++;
    } else if (names.has(s[i]!) && s[i + 1] === '.' && s[i + 2] === r[j]) {
      i += 2;
    } else {
      return false;
    }
  }
  return i === s.length && j === r.length;
}

function withoutNoIndent(f: CatalogFact): CatalogFact {
  const value = f.value.replace(/ NO INDENT\)/g, ')');
  return value === f.value ? f : { ...f, value };
}

/** The rules, in the order of the majors that brought them. */
export const CROSS_MAJOR_RULES: readonly CrossMajorRule[] = [
  {
    id: 'multirange-type-name',
    since: 14,
    why: '14 creates a multirange type beside every range type (CREATE TYPE … AS RANGE gets `multirange_type_name`): pg_dump prints it for a 14+ server only; the range type itself is unchanged',
    section: (header, lines, side) => {
      if (side !== 'restored' || !/; Type: TYPE;/.test(header)) return lines;
      const i = lines.findIndex((l) => /^ {4}multirange_type_name = /.test(l));
      if (i < 1) return lines;
      return [...lines.slice(0, i - 1), lines[i - 1]!.replace(/,$/, ''), ...lines.slice(i + 1)];
    },
  },
  {
    id: 'icu-collation-locale',
    since: 15,
    why: "15 keeps an ICU collation's locale in its own column (colliculocale, colllocale from 17) instead of collcollate/collctype: the same locale, in another field",
    fact: (f, side) => {
      if (side !== 'source' || !f.object.startsWith('collation ') || f.attribute !== 'definition') return f;
      const d = JSON.parse(f.value) as Record<string, unknown>;
      if (d.collprovider !== 'i' || d.colllocale !== undefined || typeof d.collcollate !== 'string') return f;
      const { collcollate, collctype: _ctype, ...rest } = d;
      return { ...f, value: jsonbText({ ...rest, colllocale: collcollate }) };
    },
  },
  {
    id: 'view-column-qualification',
    since: 16,
    why: "16 prints a column of a query level with one relation without the relation's name (`SELECT id FROM app.t` where 15 printed `SELECT t.id FROM app.t`): a view's, materialized view's or rule's text is equal when only such qualifiers are missing from it",
    equivalent: (what, source, restored) =>
      /^(?:view |materialized view |rule )[^:]*: definition$|; Type: (?:MATERIALIZED VIEW|VIEW|RULE);/.test(what) && sameButUnqualified(source, restored),
  },
  {
    id: 'xmlserialize-no-indent',
    since: 16,
    why: '16 adds XMLSERIALIZE(… INDENT) and prints the default, NO INDENT, in every deparsed XMLSERIALIZE: what older majors did without saying',
    fact: (f, side) => (side === 'restored' && f.value.includes('XMLSERIALIZE(') ? withoutNoIndent(f) : f),
    section: (header, lines, side) => {
      if (side !== 'restored' || !lines.some((l) => l.includes('XMLSERIALIZE('))) return lines;
      const out = lines.map((l) => l.replace(/ NO INDENT\)/g, ')'));
      return out.some((l, i) => l !== lines[i]) ? out : lines;
    },
  },
  {
    id: 'domain-not-null-constraint',
    since: 17,
    why: "17 records a domain's NOT NULL as a constraint of its own (pg_constraint, `NOT NULL`); the domain's `not null` fact is still compared",
    fact: (f, side) => (side === 'restored' && f.object.startsWith('constraint ') && f.attribute === 'definition' && f.value === 'NOT NULL' ? null : f),
  },
  {
    id: 'maintain-privilege',
    since: 17,
    why: '17 adds the MAINTAIN privilege on relations: the owner holds it by default, and a GRANT ALL from an older dump grants it too; every older privilege is still compared',
    fact: (f, side) => (side === 'restored' && f.attribute.startsWith('grant MAINTAIN to ') ? null : f),
    section: (header, lines, side) => {
      if (side !== 'source' || !/; Type: (?:ACL|DEFAULT ACL);/.test(header)) return lines;
      let changed = false;
      const out = lines.map((l) => {
        const r = l.replace(new RegExp(String.raw`\b(GRANT|REVOKE) ${ALL_BEFORE_17} ON (TABLES?)\b`), '$1 ALL ON $2');
        changed ||= r !== l;
        return r;
      });
      return changed ? out : lines;
    },
  },
  {
    id: 'not-null-constraint',
    since: 18,
    why: "18 records every column's NOT NULL as a named constraint (pg_constraint, `NOT NULL column`); the column's `not null` fact is still compared",
    fact: (f, side) => (side === 'restored' && f.object.startsWith('constraint ') && f.attribute === 'definition' && /^NOT NULL \S/.test(f.value) ? null : f),
  },
];

/** An object as PostgreSQL prints a jsonb object: keys by length, then bytes; `": "` and `", "` between. */
export function jsonbText(o: Record<string, unknown>): string {
  const keys = Object.keys(o).sort((a, b) => Buffer.byteLength(a) - Buffer.byteLength(b) || Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return `{${keys.map((k) => `${JSON.stringify(k)}: ${JSON.stringify(o[k])}`).join(', ')}}`;
}

/** The rules that apply between two majors (none when the sandbox is not newer than the source). */
export function rulesBetween(sourceMajor: number, sandboxMajor: number, rules = CROSS_MAJOR_RULES): CrossMajorRule[] {
  return rules.filter((r) => sourceMajor < r.since && r.since <= sandboxMajor);
}

/**
 * The normalisations of one comparison: rewrites facts and round-trip objects with the rules between the two majors,
 * counting each rule's applications and the objects it touched, for the report.
 */
export class CrossMajorNormaliser {
  private readonly rules: CrossMajorRule[];
  private readonly counts = new Map<string, { facts: number; sections: number; examples: Set<string> }>();

  constructor(readonly sourceMajor: number, readonly sandboxMajor: number, rules = CROSS_MAJOR_RULES) {
    this.rules = rulesBetween(sourceMajor, sandboxMajor, rules);
    for (const r of this.rules) this.counts.set(r.id, { facts: 0, sections: 0, examples: new Set() });
  }

  /** Whether any rule applies (the majors differ in a way a rule knows). */
  get active(): boolean {
    return this.rules.length > 0;
  }

  private note(id: string, kind: 'facts' | 'sections', object: string): void {
    const c = this.counts.get(id)!;
    c[kind]++;
    if (c.examples.size < MAX_EXAMPLES) c.examples.add(object);
  }

  /** One fact through every rule: the fact to compare, or null when a rule drops it. */
  fact(f: CatalogFact, side: Side): CatalogFact | null {
    let cur: CatalogFact | null = f;
    for (const r of this.rules) {
      if (!cur || !r.fact) continue;
      const next = r.fact(cur, side);
      if (next !== cur && (!next || next.value !== cur.value || next.attribute !== cur.attribute)) this.note(r.id, 'facts', cur.object);
      cur = next;
    }
    return cur;
  }

  /** A stream of fact batches through `fact`. */
  async *facts(batches: AsyncIterable<readonly CatalogFact[]>, side: Side): AsyncGenerator<CatalogFact[]> {
    for await (const batch of batches) {
      if (!this.active) {
        yield [...batch];
        continue;
      }
      const out: CatalogFact[] = [];
      for (const f of batch) {
        const n = this.fact(f, side);
        if (n) out.push(n);
      }
      if (out.length) yield out;
    }
  }

  /**
   * Is a remaining difference one a pairwise rule explains? `what` is `object: attribute` for a catalog fact, the
   * `-- Name: …` header for a round-trip object; `kind` says which, for the counts.
   */
  equivalent(kind: 'facts' | 'sections', what: string, source: string, restored: string): boolean {
    for (const r of this.rules) {
      if (r.equivalent?.(what, source, restored)) {
        this.note(r.id, kind, kind === 'facts' ? what.replace(/: [^:]*$/, '') : what);
        return true;
      }
    }
    return false;
  }

  /** Does a pairwise rule explain this catalog difference (a value on both sides)? */
  explains(d: CatalogDifference): boolean {
    return d.source !== null && d.restored !== null && this.equivalent('facts', `${d.object}: ${d.attribute}`, d.source, d.restored);
  }

  /** One round-trip object's lines through every rule; `count` false for a second reading of the same dump. */
  section(header: string, lines: readonly string[], side: Side, count = true): readonly string[] {
    let cur = lines;
    for (const r of this.rules) {
      if (!r.section) continue;
      const next = r.section(header, cur, side);
      if (next !== cur && count) this.note(r.id, 'sections', header);
      cur = next;
    }
    return cur;
  }

  /**
   * A clause for a check's detail: how many facts (or round-trip objects) the rules rewrote, by rule; '' when no
   * rule applies between the majors.
   */
  describe(kind: 'facts' | 'sections'): string {
    if (!this.active) return '';
    const used = [...this.counts].filter(([, c]) => c[kind] > 0).map(([id, c]) => `${id} ${c[kind]}`);
    const what = kind === 'facts' ? 'catalog fact(s)' : 'object(s)';
    const total = [...this.counts.values()].reduce((a, c) => a + c[kind], 0);
    return `; source PostgreSQL ${this.sourceMajor}, sandbox ${this.sandboxMajor}: ${total} ${what} normalised across majors${used.length ? ` (${used.join(', ')})` : ''}, rules in report.json fidelity.normalisations`;
  }

  /** What was applied, for the report: every rule between the majors, also those that touched nothing. */
  applied(): AppliedNormalisation[] {
    return this.rules.map((r) => {
      const c = this.counts.get(r.id)!;
      return {
        id: r.id, since: r.since, source_major: this.sourceMajor, sandbox_major: this.sandboxMajor, why: r.why,
        catalog_facts: c.facts, round_trip_objects: c.sections, examples: [...c.examples],
      };
    });
  }
}
