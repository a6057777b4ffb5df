/**
 * The marker file that says "this directory is a pgdrill sandbox": `pgdrill cleanup` removes only directories
 * that carry it, so it never touches anything that is not pgdrill's.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const SANDBOX_MARKER = 'pgdrill-sandbox.json';

/** What the marker records. */
export interface SandboxMarker {
  readonly kind: string;
  readonly pgdrillPid: number;
  readonly socketDir: string;
  readonly dataDir: string;
  readonly createdAt: string;
}

export async function writeMarker(dir: string, marker: SandboxMarker): Promise<void> {
  await writeFile(join(dir, SANDBOX_MARKER), JSON.stringify(marker, null, 2) + '\n');
}
