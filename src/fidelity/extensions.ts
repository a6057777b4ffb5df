/**
 * Before restoring: does the sandbox's server have every extension the source uses? A dump carries
 * `CREATE EXTENSION x`, never the extension's files; when the sandbox's PostgreSQL lacks them the restore fails
 * on that statement and on everything that depends on it. Comparing the source's `pg_extension` with the
 * sandbox's `pg_available_extension_versions` names the cause up front, as an environment defect (the machine
 * that restores differs), not a backup defect.
 */
import type { DbSession } from '../pg/client.js';
import type { CheckResult } from '../report/model.js';

/** An installed extension and its version. */
export interface ExtensionVersion {
  readonly name: string;
  readonly version: string;
}

/** Extensions installed in the connected database (the source: inside the dump's snapshot). */
export async function installedExtensions(db: DbSession): Promise<ExtensionVersion[]> {
  return db.query<ExtensionVersion & Record<string, unknown>>('SELECT extname::text AS name, extversion AS version FROM pg_catalog.pg_extension ORDER BY 1');
}

/** The error a server gives for an extension whose control file it cannot read (missing, a dangling link, unreadable). */
export function isExtensionUnavailable(err: unknown): boolean {
  const e = err as { message?: string; sqlstate?: string };
  return /extension ".*" is not available|could not open extension control file/i.test(e?.message ?? '') || e?.sqlstate === '58P01';
}

/**
 * Extensions the connected server could install, name → versions: its whole extension directory in one query. That
 * listing fails as a whole when any one control file there cannot be read or parsed (a package half installed, a
 * link that dangles, a file edited by hand), though the extensions asked about may be fine: then each of `names` is asked about alone
 * (`pg_extension_update_paths` reads only that extension's files; an extension with a single version lists none,
 * kept as available in an unknown version — an empty list).
 */
export async function availableExtensions(db: DbSession, names: readonly string[] = []): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  try {
    const rows = await db.query<{ name: string; version: string }>('SELECT name::text AS name, version FROM pg_catalog.pg_available_extension_versions ORDER BY 1, 2');
    for (const r of rows) out.set(r.name, [...(out.get(r.name) ?? []), r.version]);
    return out;
  } catch {
    // Whatever failed the whole listing (an unreadable or malformed control file of any extension on the machine),
    // the extensions that matter are asked about one by one below; an error about one of them is its own.
  }
  for (const name of names) {
    try {
      const rows = await db.query<{ version: string }>(
        'SELECT DISTINCT v AS version FROM pg_catalog.pg_extension_update_paths($1) p, LATERAL (VALUES (p.source), (p.target)) AS x(v) ORDER BY 1', [name]);
      out.set(name, rows.map((r) => r.version));
    } catch (err) {
      if (!isExtensionUnavailable(err)) throw err;
    }
  }
  return out;
}

/** What the sandbox lacks: extensions not available at all, and extensions available only in other versions. */
export interface ExtensionGap {
  readonly missing: ExtensionVersion[];
  readonly otherVersion: (ExtensionVersion & { readonly available: string[] })[];
}

/** Compare the source's extensions with what the sandbox offers. Pure. */
export function extensionGap(source: readonly ExtensionVersion[], available: ReadonlyMap<string, readonly string[]>): ExtensionGap {
  const missing: ExtensionVersion[] = [];
  const otherVersion: ExtensionGap['otherVersion'] = [];
  for (const e of source) {
    const versions = available.get(e.name);
    if (!versions) missing.push(e);
    // An empty list: available, its versions not listed (see availableExtensions).
    else if (versions.length && !versions.includes(e.version)) otherVersion.push({ ...e, available: [...versions] });
  }
  return { missing, otherVersion };
}

/** The `restore.extensions_available` check: fail for a missing extension, warn for another version only. */
export function extensionsCheck(source: readonly ExtensionVersion[], gap: ExtensionGap): CheckResult {
  const name = 'restore.extensions_available';
  if (gap.missing.length) {
    return {
      name, stage: 'restore', status: 'fail',
      detail: `environment defect: the sandbox's PostgreSQL lacks extension(s) the source uses: ${gap.missing.map((e) => `${e.name} ${e.version}`).join(', ')} — ` +
        'install their packages for this PostgreSQL version on the machine that restores (the dump cannot carry them)',
      evidence: { classification: 'environment_defect', missing: gap.missing, other_version: gap.otherVersion, source: source },
    };
  }
  if (gap.otherVersion.length) {
    return {
      name, stage: 'restore', status: 'warn',
      detail: `the sandbox offers other versions of: ${gap.otherVersion.map((e) => `${e.name} (source ${e.version}, available ${e.available.join(', ')})`).join('; ')} — CREATE EXTENSION installs the default version`,
      evidence: { classification: 'environment_defect', missing: [], other_version: gap.otherVersion, source: source },
    };
  }
  return {
    name, stage: 'restore', status: 'pass',
    detail: `all ${source.length} extension(s) of the source are available in the sandbox in their version: ${source.map((e) => `${e.name} ${e.version}`).join(', ')}`,
    evidence: { missing: [], other_version: [], source: source },
  };
}

/**
 * The pre-restore check on a running sandbox (any database of it: availability is per server): the check to add,
 * and the gap for the report.
 */
export async function sandboxExtensionsCheck(db: DbSession, source: readonly ExtensionVersion[]): Promise<{ check: CheckResult; gap: ExtensionGap }> {
  const gap = extensionGap(source, await availableExtensions(db, source.map((e) => e.name)));
  return { check: extensionsCheck(source, gap), gap };
}
