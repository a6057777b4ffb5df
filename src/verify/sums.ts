/**
 * SHA256SUMS of an artefact pgdrill did not write: given with `--sums`, or a `SHA256SUMS` beside the artefact
 * that lists it. Only the lines that belong to the artefact are checked (for a directory archive: every file in
 * it), so a SHA256SUMS that covers a whole backup directory works.
 */
import { lstat, readdir } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { parseSums, sha256File, type SumEntry } from '../backup/sha256sums.js';
import { ConfigError } from '../errors.js';
import { readBoundedFile, resolveInputPath } from '../exec/input-file.js';
import type { CheckResult } from '../report/model.js';

/** The SHA256SUMS to use and the lines in it that belong to the artefact. */
export interface ArtifactSums {
  readonly sumsPath: string;
  readonly entries: readonly (SumEntry & { readonly abs: string })[];
  /** True when the file was given with --sums (then it must list the artefact). */
  readonly explicit: boolean;
}

/** Largest SHA256SUMS read: about 600 000 lines, far more than any backup directory lists. */
export const MAX_SUMS_BYTES = 64 << 20;

async function readSums(path: string): Promise<SumEntry[]> {
  const text = (await readBoundedFile(path, 'SHA256SUMS', MAX_SUMS_BYTES)).toString('utf8');
  try {
    return parseSums(text);
  } catch (err) {
    throw new ConfigError(`cannot use ${path} as SHA256SUMS: ${(err as Error).message}`, [], { cause: err });
  }
}

/**
 * Find the SHA256SUMS lines for `artifact`. Paths in the file are relative to its directory; a file given with
 * `given` that lists none such may name the artefact by its bare file name instead. With `given`, that file must
 * exist (ConfigError otherwise); without, `SHA256SUMS` beside the artefact is used if it lists it. Null when there is
 * none to use.
 */
export async function findArtifactSums(artifact: string, given?: string): Promise<ArtifactSums | null> {
  const abs = resolve(artifact);
  // Given or beside the artefact, it must be a regular file (a FIFO or device is refused at once, exit 2).
  const beside = join(dirname(abs), 'SHA256SUMS');
  if (!given && !(await lstat(beside).then(() => true, () => false))) return null;
  const candidate = (await resolveInputPath(given ?? beside, given ? '--sums' : 'the SHA256SUMS beside the artefact')).path;
  const base = dirname(candidate);
  const all = await readSums(candidate);
  let entries = all.map((e) => ({ ...e, abs: resolve(base, e.path) })).filter((e) => e.abs === abs || e.abs.startsWith(abs + sep));
  if (!entries.length && given) {
    // A SHA256SUMS kept elsewhere that names the artefact by its file name (as `sha256sum` run beside it writes it).
    const name = basename(abs);
    entries = all
      .filter((e) => e.path.replace(/^\.\//, '') === name || e.path.replace(/^\.\//, '').startsWith(`${name}/`))
      .map((e) => ({ ...e, abs: resolve(dirname(abs), e.path) }))
      .filter((e) => e.abs === abs || e.abs.startsWith(abs + sep)); // `name/../../x` does not climb out
  }
  if (!entries.length && !given) return null;
  return { sumsPath: candidate, entries, explicit: !!given };
}

/**
 * Check the artefact against its SHA256SUMS lines. `known` holds digests already computed in the scan's single
 * read (absolute path → sha256), so a plain dump is read once.
 */
export async function sumsCheck(artifact: string, sums: ArtifactSums | null, known: ReadonlyMap<string, string> = new Map()): Promise<CheckResult> {
  if (!sums) {
    return { name: 'backup.sha256sums', stage: 'backup', status: 'skip', detail: 'no SHA256SUMS given (--sums) or found beside the artefact listing it: the bytes are not compared with a recorded checksum' };
  }
  if (!sums.entries.length) {
    return {
      name: 'backup.sha256sums', stage: 'backup', status: 'fail',
      detail: `${sums.sumsPath} does not list ${artifact}: nothing to compare (paths in SHA256SUMS are relative to its directory)`,
      evidence: { sums_path: sums.sumsPath },
    };
  }
  const failures: { path: string; expected: string; actual: string | null }[] = [];
  for (const e of sums.entries) {
    const actual = known.get(e.abs) ?? (await sha256File(e.abs).catch(() => null));
    if (actual !== e.sha256) failures.push({ path: e.path, expected: e.sha256, actual });
  }
  // A directory archive: a file in it that SHA256SUMS does not list was added after the sums were written.
  const unlisted: string[] = [];
  const st = await lstat(artifact);
  if (st.isDirectory()) {
    const listed = new Set(sums.entries.map((e) => e.abs));
    for (const name of (await readdir(artifact, { recursive: true })).sort()) {
      const p = resolve(artifact, name);
      if ((await lstat(p)).isFile() && !listed.has(p)) unlisted.push(relative(dirname(sums.sumsPath), p));
    }
  }
  const ok = failures.length === 0 && unlisted.length === 0;
  const first = failures[0];
  return {
    name: 'backup.sha256sums', stage: 'backup', status: ok ? 'pass' : 'fail',
    detail: ok
      ? `${sums.entries.length} file(s) match ${sums.sumsPath}${sums.entries.length === 1 ? ` (sha256 ${sums.entries[0]!.sha256})` : ''}`
      : first
        ? `${failures.length} of ${sums.entries.length} file(s) do not match ${sums.sumsPath}: ${first.path} ${first.actual === null ? 'is missing or unreadable' : `has sha256 ${first.actual}, SHA256SUMS says ${first.expected}`}${failures.length > 1 ? `; also ${failures.slice(1, 6).map((f) => f.path).join(', ')}` : ''}`
        : `file(s) in the archive not listed in ${sums.sumsPath}: ${unlisted.slice(0, 10).join(', ')}`,
    evidence: { sums_path: sums.sumsPath, checked: sums.entries.length, failures, unlisted },
  };
}

/**
 * The globals file given with `verify --globals`: its size and sha256, compared with the SHA256SUMS that lists it
 * (`--sums`, or `SHA256SUMS` beside it) when there is one. The `backup.globals` check fails only on a mismatch;
 * its report entry is `report.backup.globals`.
 */
export async function globalsCheck(path: string, sumsGiven?: string): Promise<{
  check: CheckResult;
  report: { mode: 'globals-only'; path: string; sha256: string; size_bytes: number; note: string | null };
}> {
  const [sha256, size] = await Promise.all([sha256File(path), lstat(path).then((st) => st.size)]);
  const sums = await findArtifactSums(path, sumsGiven).catch(() => null);
  const listed = sums?.entries.find((e) => e.abs === resolve(path)) ?? null;
  const ok = !listed || listed.sha256 === sha256;
  const against = listed ? (ok ? `, matches ${sums!.sumsPath}` : '') : '; not listed in a SHA256SUMS: its bytes are not compared with a recorded checksum';
  return {
    check: {
      name: 'backup.globals', stage: 'backup', status: ok ? 'pass' : 'fail',
      detail: ok
        ? `globals ${path}: ${size} bytes, sha256 ${sha256}${against}; its roles are restored before the dump`
        : `globals ${path} has sha256 ${sha256}, ${sums!.sumsPath} says ${listed.sha256}: it changed since the sums were written`,
      evidence: { path, sha256, size_bytes: size, sums_path: listed ? sums!.sumsPath : null },
    },
    report: { mode: 'globals-only', path, sha256, size_bytes: size, note: listed ? null : 'not listed in a SHA256SUMS' },
  };
}
