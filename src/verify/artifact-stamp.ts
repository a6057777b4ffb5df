/**
 * What identifies an artefact's content cheaply (inode, size, newest mtime), taken before and after a verify:
 * `backup.unchanged` — a change during the verify means the results may not describe it.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckResult } from '../report/model.js';

/** An artefact's identity and size; a directory archive's: the sum of its files' sizes and the newest mtime among them. */
export interface FileStamp {
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
}

export async function stampOf(path: string): Promise<FileStamp> {
  const st = await lstat(path);
  if (!st.isDirectory()) return { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
  let size = 0;
  let mtimeMs = st.mtimeMs;
  for (const name of await readdir(path, { recursive: true })) {
    const s = await lstat(join(path, name)); // a link inside is never followed (backup.archive_files refuses it)
    if (!s.isFile()) continue;
    size += s.size;
    mtimeMs = Math.max(mtimeMs, s.mtimeMs);
  }
  return { ino: st.ino, size, mtimeMs };
}

/** `backup.unchanged`: the artefact as it was found (`after` null: it disappeared). */
export function unchangedCheck(artifact: string, before: FileStamp, after: FileStamp | null): CheckResult {
  const unchanged = after !== null && after.ino === before.ino && after.size === before.size && after.mtimeMs === before.mtimeMs;
  return {
    name: 'backup.unchanged', stage: 'backup', status: unchanged ? 'pass' : 'fail',
    detail: unchanged
      ? `the artefact is as it was found (same inode, size ${before.size} and mtime): verify only reads it`
      : after === null
        ? `the artefact ${artifact} disappeared during the verify: the results do not describe any file`
        : `the artefact changed while it was verified (size ${before.size} → ${after.size}, mtime ${new Date(before.mtimeMs).toISOString()} → ${new Date(after.mtimeMs).toISOString()}): something else wrote to it; the results may not describe it — verify it again`,
    evidence: { before, after },
  };
}
