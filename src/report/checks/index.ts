/**
 * The registry of checks: every check a drill can emit, by name, with its stage, what it proves, what fails, warns or
 * skips it, and the commands that run it. Emitting code uses its types, so a misspelt name or a stage other than the
 * name's is a compile error; docs/reference/checks.md and the report schema's list of names are generated from it
 * (`npm run schema`), and unit tests hold it to the code (every name emitted is registered, every entry emitted).
 */
import { z } from 'zod';
import { BACKUP_CHECKS } from './backup.js';
import { BASELINE_CHECKS } from './baseline.js';
import { CONTENT_CHECKS } from './content.js';
import type { CheckDefinition, StageName } from './definition.js';
import { FIDELITY_CHECKS } from './fidelity.js';
import { GUARD_CHECKS, PRODUCTION_CHECKS } from './guard.js';
import { RESTORE_CHECKS, TEARDOWN_CHECKS } from './restore.js';
import { PHYSICAL_BACKUP_CHECKS, PHYSICAL_FIDELITY_CHECKS, PHYSICAL_RESTORE_CHECKS } from './physical.js';
import { STAGE_CHECKS } from './stage-level.js';

export { COMMANDS, STAGES, type CheckDefinition, type CommandName, type StageName } from './definition.js';

/** Each stage's part of the registry, in the order the stages run (the reference page follows it). */
export const CHECK_GROUPS = [GUARD_CHECKS, BACKUP_CHECKS, PHYSICAL_BACKUP_CHECKS, CONTENT_CHECKS, RESTORE_CHECKS, PHYSICAL_RESTORE_CHECKS, FIDELITY_CHECKS, PHYSICAL_FIDELITY_CHECKS, TEARDOWN_CHECKS, PRODUCTION_CHECKS, BASELINE_CHECKS, STAGE_CHECKS] as const;

/** Every registered check by its key (its name; for a family, the name before `[item]`). */
export const CHECKS = {
  ...GUARD_CHECKS, ...BACKUP_CHECKS, ...PHYSICAL_BACKUP_CHECKS, ...CONTENT_CHECKS, ...RESTORE_CHECKS, ...PHYSICAL_RESTORE_CHECKS, ...FIDELITY_CHECKS, ...PHYSICAL_FIDELITY_CHECKS,
  ...TEARDOWN_CHECKS, ...PRODUCTION_CHECKS, ...BASELINE_CHECKS, ...STAGE_CHECKS,
} as const;

type Registry = typeof CHECKS;
/** A registry key: a check's name, or a family's name without its `[item]`. */
export type CheckKey = keyof Registry;
/** The keys of families: one check per configured item, named `key[item]`. */
export type FamilyKey = { [K in CheckKey]: Registry[K] extends { readonly item: string } ? K : never }[CheckKey];
/** A check name as reports carry it: a registered name, or a family's `key[item]`. */
export type CheckName = Exclude<CheckKey, FamilyKey> | `${FamilyKey}[${string}]`;
/** The registry key of a name (`content.objects[table x]` → `content.objects`). */
export type KeyOf<N extends CheckName> = N extends `${infer K extends FamilyKey}[${string}]` ? K : Extract<N, CheckKey>;
/** The stage the registry gives a name. */
export type StageOf<N extends CheckName> = Registry[KeyOf<N>]['stage'];

/** The registry's entry for a key (typed for code that walks every entry). */
export function definitionOf(key: CheckKey): CheckDefinition {
  return CHECKS[key];
}

export const CHECK_KEYS = Object.keys(CHECKS) as CheckKey[];
const isFamily = (k: CheckKey): k is FamilyKey => definitionOf(k).item !== undefined;
const FAMILY_KEYS = CHECK_KEYS.filter(isFamily);
const PLAIN_NAMES = CHECK_KEYS.filter((k): k is Exclude<CheckKey, FamilyKey> => !isFamily(k));

function isCheckKey(k: string): k is CheckKey {
  return Object.hasOwn(CHECKS, k);
}

/** The registry key of a name, or null when it is not a registered check's. */
export function checkKeyOf(name: string): CheckKey | null {
  const bracket = name.indexOf('[');
  const key = bracket < 0 ? name : name.slice(0, bracket);
  if (!isCheckKey(key)) return null;
  return (bracket < 0) === !isFamily(key) && (bracket < 0 || name.endsWith(']')) ? key : null;
}

/** The stage of a registered check's name. */
export function stageOf(name: CheckName): StageName {
  const key = checkKeyOf(name);
  if (!key) throw new Error(`not a registered check: ${name}`);
  return definitionOf(key).stage;
}

/** Old names → new, for reports written by earlier versions. */
export const RENAMED_CHECKS: ReadonlyMap<string, CheckKey> = new Map(
  CHECK_KEYS.flatMap((k) => {
    const from = definitionOf(k).renamedFrom;
    return from ? [[from, k] as const] : [];
  }),
);

/**
 * A check's name in report.json: one of the registered names, or a family's `key[item]`. A report of an earlier
 * version is read with the checks it names under their current names.
 */
export const CheckNameSchema = z.preprocess(
  (v) => (typeof v === 'string' ? RENAMED_CHECKS.get(v) ?? v : v),
  z.union([z.enum(PLAIN_NAMES), z.templateLiteral([z.enum(FAMILY_KEYS), '[', z.string(), ']'])]),
);
