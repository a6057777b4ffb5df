/**
 * What a registered check is: the shape of one entry of the check registry (./index.ts), and the stages and
 * commands it names. Kept apart from the entries so that each stage's file imports only this.
 */

/** The stages of a drill, in the order they run; a check's name starts with its stage (`backup.trailer`). */
export const STAGES = ['guard', 'backup', 'source', 'content', 'restore', 'fidelity', 'teardown', 'production', 'baseline', 'drill'] as const;
export type StageName = (typeof STAGES)[number];

/** The commands that run drills (and so emit checks). */
export const COMMANDS = ['run', 'verify', 'demo'] as const;
export type CommandName = (typeof COMMANDS)[number];

/** One registered check: what it proves and what each status means. Rendered into docs/reference/checks.md. */
export interface CheckDefinition {
  /** The stage that runs it; equal to its name's first part (the compiler holds every entry to that). */
  readonly stage: StageName;
  /** What a pass proves; null for a check emitted only when something went wrong (see `emitted`). */
  readonly proves: string | null;
  /** When it is emitted, if not on every drill its commands run (e.g. only when a lock wait gave up). */
  readonly emitted?: string;
  /** What makes it FAIL; null for a check that never fails. */
  readonly fails: string | null;
  /** For a check that never fails: what happens instead when what it proves does not hold (e.g. exit 3). */
  readonly instead?: string;
  /** What a WARN means, when it can warn. */
  readonly warns?: string;
  /** What a SKIP means, when it can be skipped. */
  readonly skips?: string;
  /** The commands that can run it. */
  readonly commands: readonly CommandName[];
  /**
   * A family of checks, one per configured item: the report names each `name[item]` (`content.objects[table public.*]`);
   * this says what the item is.
   */
  readonly item?: string;
  /** The name this check had in reports of earlier versions (such reports are read with the new name). */
  readonly renamedFrom?: string;
}

/** The stage a dotted name starts with (`'backup.trailer'` → `'backup'`). */
type PrefixOf<K> = K extends `${infer S}.${string}` ? S : never;

/**
 * The entries of one part of the registry, unchanged; the compiler refuses an entry whose stage is not its name's
 * first part, so that a report's `name` and `stage` can never disagree.
 */
export function defineChecks<const T extends Record<string, CheckDefinition>>(checks: T & { readonly [K in keyof T]: { readonly stage: PrefixOf<K> } }): T {
  return checks;
}
