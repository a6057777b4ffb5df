/**
 * Comparing two catalogs fact by fact, as streams in one order. No database here, so the rules are unit-tested directly.
 */
import { encodeServerText, hasEscapedBytes } from '../pg/server-bytes.js';
import type { CatalogFact } from './catalog-facts.js';
import type { SequenceBehind } from './sequences.js';

/** One difference between the source and the restored copy. `null` means "absent on that side". */
export interface CatalogDifference {
  readonly object: string;
  readonly attribute: string;
  readonly source: string | null;
  readonly restored: string | null;
}

/** Attribute used when a whole object is present on one side only. */
export const WHOLE_OBJECT = 'object';

/**
 * Order two strings by code point — the order of their UTF-8 bytes, which is how CATALOG_SQL sorts objects. Plain
 * `<` compares UTF-16 code units and puts U+E000–U+FFFF after the surrogate pairs of U+10000 and above.
 */
export function compareCodePoints(a: string, b: string): number {
  // From a SQL_ASCII database: compare as the server orders them, by stored bytes (UTF-8 bytes are code-point order)
  if (hasEscapedBytes(a) || hasEscapedBytes(b)) return Buffer.compare(encodeServerText(a), encodeServerText(b));
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** Surrogates (code points ≥ U+10000) above U+E000–U+FFFF, everything else in place. */
const codePointRank = (c: number) => (c < 0xd800 ? c : c < 0xe000 ? c + 0x2000 : c - 0x800);

/** A stream of facts in CATALOG_SQL's order, read an object at a time; refuses facts out of that order. */
class ObjectReader {
  private batch: readonly CatalogFact[] = [];
  private i = 0;
  private last: string | null = null;
  count = 0;

  constructor(private readonly side: string, private readonly it: AsyncIterator<readonly CatalogFact[]>) {}

  /** The next object's name, or null at the end. */
  async peek(): Promise<string | null> {
    while (this.i >= this.batch.length) {
      const next = await this.it.next();
      if (next.done) return null;
      this.batch = next.value;
      this.i = 0;
    }
    return this.batch[this.i]!.object;
  }

  /** Every fact of `object` (the one peek returned). */
  async take(object: string): Promise<CatalogFact[]> {
    if (this.last !== null && compareCodePoints(this.last, object) >= 0) {
      throw new Error(`the ${this.side} catalog's facts are not in code-point order of their objects ("${this.last}" before "${object}"): they cannot be compared as streams`);
    }
    this.last = object;
    const facts: CatalogFact[] = [];
    while ((await this.peek()) === object) facts.push(this.batch[this.i++]!);
    this.count += facts.length;
    return facts;
  }
}

/** An attribute's value on one side; duplicate facts (same object and attribute) are joined to compare as a set. */
function values(facts: readonly CatalogFact[]): Map<string, string> {
  const byAttribute = new Map<string, string[]>();
  for (const f of facts) {
    const list = byAttribute.get(f.attribute);
    if (list) list.push(f.value);
    else byAttribute.set(f.attribute, [f.value]);
  }
  return new Map([...byAttribute].map(([a, v]) => [a, v.length === 1 ? v[0]! : [...v].sort().join(' | ')]));
}

/** The differences within one object, by attribute. */
function diffObject(object: string, source: readonly CatalogFact[], restored: readonly CatalogFact[], emit: (d: CatalogDifference) => void): void {
  if (!restored.length) return emit({ object, attribute: WHOLE_OBJECT, source: 'present', restored: null });
  if (!source.length) return emit({ object, attribute: WHOLE_OBJECT, source: null, restored: 'present' });
  const s = values(source);
  const r = values(restored);
  for (const attribute of [...new Set([...s.keys(), ...r.keys()])].sort()) {
    const sv = s.get(attribute) ?? null;
    const rv = r.get(attribute) ?? null;
    if (sv !== rv) emit({ object, attribute, source: sv, restored: rv });
  }
}

/**
 * Compare two catalogs given as streams of fact batches in CATALOG_SQL's order (objects in code-point order), an
 * object at a time: memory holds one object's facts, however large the catalogs. Each difference goes to `emit`, by
 * object (code-point order), then attribute. An object present on one side only is one difference (attribute
 * `object`, value `present`), not one per attribute; otherwise each attribute whose value differs or that is present
 * on one side only is one. Duplicate facts (same object and attribute) are joined so that they compare as a set.
 * @returns how many facts each side had.
 */
export async function diffCatalogStreams(
  source: AsyncIterable<readonly CatalogFact[]>, restored: AsyncIterable<readonly CatalogFact[]>, emit: (d: CatalogDifference) => void,
): Promise<{ source: number; restored: number }> {
  const s = new ObjectReader('source', source[Symbol.asyncIterator]());
  const r = new ObjectReader('restored', restored[Symbol.asyncIterator]());
  for (;;) {
    const [so, ro] = [await s.peek(), await r.peek()];
    if (so === null && ro === null) return { source: s.count, restored: r.count };
    const c = so === null ? 1 : ro === null ? -1 : compareCodePoints(so, ro);
    const object = (c <= 0 ? so : ro)!;
    diffObject(object, c <= 0 ? await s.take(object) : [], c >= 0 ? await r.take(object) : [], emit);
  }
}

/** diffCatalogStreams for two lists of facts in any order: every difference, in the same order. */
export async function diffCatalogs(source: readonly CatalogFact[], restored: readonly CatalogFact[]): Promise<CatalogDifference[]> {
  const sorted = async function* (facts: readonly CatalogFact[]) {
    yield [...facts].sort((a, b) => compareCodePoints(a.object, b.object));
  };
  const out: CatalogDifference[] = [];
  await diffCatalogStreams(sorted(source), sorted(restored), (d) => out.push(d));
  return out;
}

/** Sequences behind, as catalog differences (attribute `position (not behind)`). */
export function sequenceDifferences(behind: readonly SequenceBehind[]): CatalogDifference[] {
  return behind.map((b) => ({ object: `sequence ${b.sequence}`, attribute: 'position (not behind)', source: b.source, restored: b.restored }));
}

/** One line for a difference: `table public.actor: grant SELECT to app_reader: source "granted by postgres", restored (absent)`. */
export function describeDifference(d: CatalogDifference): string {
  const v = (x: string | null) => (x === null ? '(absent)' : JSON.stringify(x.length > 200 ? `${x.slice(0, 200)}…` : x));
  return d.attribute === WHOLE_OBJECT
    ? `${d.object}: ${d.source === null ? 'only in the restored copy' : 'missing in the restored copy'}`
    : `${d.object}: ${d.attribute}: source ${v(d.source)}, restored ${v(d.restored)}`;
}

/**
 * A materialized view the restore left unpopulated because its refresh reads a foreign table
 * (src/restore/deferred-refresh.ts): populated on the source, not in the copy — that one fact, and only for the
 * views in `heldBack` (`schema.name`, as the catalog labels them). Any other difference of theirs still counts.
 */
export function isHeldBackUnpopulated(d: CatalogDifference, heldBack: ReadonlySet<string>): boolean {
  return d.attribute === 'populated' && d.source === 'true' && d.restored === 'false' && d.object.startsWith('materialized view ') &&
    heldBack.has(d.object.slice('materialized view '.length));
}
