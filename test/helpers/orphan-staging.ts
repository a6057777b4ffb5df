/**
 * A pgdrill-like process that makes a repository drill's staging directory (recorded in the state directory given
 * as argv[2], under TMPDIR), puts a file in its data directory as a restore would, prints the directory as one JSON
 * line and waits to be killed: SIGKILLing it leaves what a repository drill killed mid-restore leaves.
 */
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { repositoryStagingDir } from '../../src/physical/repository-verify.js';

const { dir } = await repositoryStagingDir(null, process.argv[2]);
await mkdir(join(dir, 'data'));
await writeFile(join(dir, 'data', 'PG_VERSION'), '15\n');
process.stdout.write(JSON.stringify({ pid: process.pid, dir }) + '\n');
setInterval(() => {}, 1 << 30);
