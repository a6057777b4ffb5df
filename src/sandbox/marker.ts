/**
 * The marker file that says "this directory is a pgdrill sandbox", for a human looking at it. It proves nothing:
 * the sandbox's OS user owns the directory and anyone can write such a file elsewhere, so `pgdrill cleanup` acts
 * only on pgdrill's own record of the sandbox (sandbox-records.ts) and merely reports a marker it has no record of.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const SANDBOX_MARKER = 'pgdrill-sandbox.json';

/** What the marker records. */
export interface SandboxMarker {
  readonly kind: string;
  readonly pgdrillPid: number;
  readonly socketDir: string;
  readonly dataDir: string;
  readonly createdAt: string;
  /** Unused since the record (sandbox-records.ts) holds it; read from markers of older versions. */
  readonly kept?: boolean;
}

/**
 * Write the marker into a new sandbox directory. Created exclusively (O_EXCL, which never follows a link): the
 * directory belongs to the sandbox's OS user, and root must not write through a link planted there.
 */
export async function writeMarker(dir: string, marker: SandboxMarker): Promise<void> {
  await writeFile(join(dir, SANDBOX_MARKER), JSON.stringify(marker, null, 2) + '\n', { flag: 'wx' });
}

/** Read the marker of a sandbox directory; null when there is none (then the directory is not pgdrill's). */
export async function readMarker(dir: string): Promise<SandboxMarker | null> {
  try {
    const m = JSON.parse(await readFile(join(dir, SANDBOX_MARKER), 'utf8')) as SandboxMarker;
    return typeof m.pgdrillPid === 'number' && typeof m.dataDir === 'string' && typeof m.socketDir === 'string' ? m : null;
  } catch {
    return null;
  }
}

