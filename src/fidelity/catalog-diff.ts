/**
 * Comparing two catalogs fact by fact. Pure: no database here, so the rules are unit-tested directly.
 */
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

const key = (f: { object: string; attribute: string }) => `${f.object}\u0000${f.attribute}`;

/**
 * Every difference, in a stable order (by object, then attribute). An object present on one side only is one
 * difference (attribute `object`, value `present`), not one per attribute; otherwise each attribute whose value
 * differs or that is present on one side only is one difference. Duplicate facts (same object and attribute) are
 * joined so that they compare as a set.
 */
export function diffCatalogs(source: readonly CatalogFact[], restored: readonly CatalogFact[]): CatalogDifference[] {
  const index = (facts: readonly CatalogFact[]) => {
    const byKey = new Map<string, string[]>();
    const objects = new Set<string>();
    for (const f of facts) {
      objects.add(f.object);
      const k = key(f);
      const list = byKey.get(k);
      if (list) list.push(f.value);
      else byKey.set(k, [f.value]);
    }
    const values = new Map<string, string>();
    for (const [k, v] of byKey) values.set(k, v.length === 1 ? v[0]! : [...v].sort().join(' | '));
    return { values, objects };
  };
  const s = index(source);
  const r = index(restored);
  const out: CatalogDifference[] = [];
  const reported = new Set<string>();
  for (const o of s.objects) if (!r.objects.has(o)) out.push({ object: o, attribute: WHOLE_OBJECT, source: 'present', restored: null }), reported.add(o);
  for (const o of r.objects) if (!s.objects.has(o)) out.push({ object: o, attribute: WHOLE_OBJECT, source: null, restored: 'present' }), reported.add(o);
  const keys = new Set([...s.values.keys(), ...r.values.keys()]);
  for (const k of keys) {
    const [object, attribute] = k.split('\u0000') as [string, string];
    if (reported.has(object)) continue;
    const sv = s.values.get(k) ?? null;
    const rv = r.values.get(k) ?? null;
    if (sv !== rv) out.push({ object, attribute, source: sv, restored: rv });
  }
  return out.sort((a, b) => (a.object < b.object ? -1 : a.object > b.object ? 1 : a.attribute < b.attribute ? -1 : a.attribute > b.attribute ? 1 : 0));
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
