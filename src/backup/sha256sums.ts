/**
 * SHA256SUMS in `sha256sum -c` format ("<hex>  <path>", paths relative to the file's directory), and the
 * self-check that re-reads every listed file.
 */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { openRegularFile } from '../exec/input-file.js';

/** One line of SHA256SUMS. */
export interface SumEntry {
  readonly sha256: string;
  /** Relative to the SHA256SUMS file's directory. */
  readonly path: string;
}

/** Read size of `sha256File`: one buffer, reused for the whole file. */
export const READ_BUFFER = 1 << 20;

/**
 * sha256 of a file, read through one reused 1 MiB buffer: a re-read of a dump of any size allocates nothing
 * per chunk, so it leaves no garbage behind that would lift pgdrill's peak memory (run.peak_rss_bytes).
 * (`hashFileOffThread` in sha256-worker.ts does the same on a worker thread.) Only a regular file is read: never
 * through a symlink, never blocking on a FIFO (input-file.ts).
 */
export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  const fh = await openRegularFile(path, 'file');
  try {
    const buf = Buffer.allocUnsafe(READ_BUFFER);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}

/** Every regular file below a directory (links not followed), sorted, with sha256 and size (directory-format archives). */
export async function hashTree(dir: string): Promise<{ path: string; sha256: string; size: number }[]> {
  const out: { path: string; sha256: string; size: number }[] = [];
  for (const name of (await readdir(dir, { recursive: true })).sort()) {
    const p = join(dir, name);
    const st = await lstat(p);
    if (st.isFile()) out.push({ path: p, sha256: await sha256File(p), size: st.size });
  }
  return out;
}

/** Render SHA256SUMS text. Paths with a newline or backslash are refused by sha256sum's format, so they are escaped as it does. */
export function formatSums(entries: readonly SumEntry[]): string {
  return entries.map((e) => (/[\\\n]/.test(e.path) ? `\\${e.sha256}  ${e.path.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}` : `${e.sha256}  ${e.path}`)).join('\n') + '\n';
}

/** Parse SHA256SUMS text (also the binary-mode `*path` form). */
export function parseSums(text: string): SumEntry[] {
  const out: SumEntry[] = [];
  for (const raw of text.split('\n')) {
    if (!raw.trim()) continue;
    const escaped = raw.startsWith('\\');
    const line = escaped ? raw.slice(1) : raw;
    const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
    if (!m) throw new Error(`not a sha256sum line: ${raw.slice(0, 100)}`);
    const path = escaped ? m[2]!.replace(/\\n/g, '\n').replace(/\\\\/g, '\\') : m[2]!;
    out.push({ sha256: m[1]!.toLowerCase(), path });
  }
  return out;
}

/** Write SHA256SUMS for absolute paths with known digests. Returns the file's path. */
export async function writeSums(sumsPath: string, files: readonly { path: string; sha256: string }[]): Promise<string> {
  const base = dirname(sumsPath);
  await writeFile(sumsPath, formatSums(files.map((f) => ({ sha256: f.sha256, path: relative(base, f.path) }))), { mode: 0o600 });
  return sumsPath;
}

/** Result of re-reading every file a SHA256SUMS lists (what `sha256sum -c` does). */
export interface SumsCheck {
  readonly ok: boolean;
  readonly checked: number;
  readonly failures: readonly { path: string; expected: string; actual: string | null }[];
}

/**
 * Re-read and hash every listed file; `actual` is null for a file that cannot be read. `reread` holds digests of
 * files already re-read from disk since they were last written (absolute path → sha256; the drill re-reads its
 * dump as soon as pg_dump has exited): those are compared without reading them a third time.
 */
export async function checkSums(sumsPath: string, reread?: ReadonlyMap<string, string>): Promise<SumsCheck> {
  const base = dirname(sumsPath);
  const entries = parseSums(await readFile(sumsPath, 'utf8'));
  const failures: { path: string; expected: string; actual: string | null }[] = [];
  for (const e of entries) {
    const abs = join(base, e.path);
    const actual = reread?.get(abs) ?? (await sha256File(abs).catch(() => null));
    if (actual !== e.sha256) failures.push({ path: e.path, expected: e.sha256, actual });
  }
  return { ok: failures.length === 0 && entries.length > 0, checked: entries.length, failures };
}
