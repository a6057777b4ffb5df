/**
 * A pgdrill-like process that starts a sandbox (recorded in PGDRILL_STATE_DIR), prints it as one JSON line and then
 * waits to be killed: SIGKILLing it leaves a genuine orphan, as a killed drill does. Run with `node --import tsx`.
 */
import { SandboxCluster } from '../../src/sandbox/cluster.js';
import { resolveSandboxUser } from '../../src/exec/os-user.js';
import { bins, silentLogger } from './clusters.js';

const parentDir = process.argv[2]!;
const sb = await SandboxCluster.start({ bins: await bins(), parentDir, osUser: await resolveSandboxUser(), logger: silentLogger, label: 'sandbox' });
process.stdout.write(JSON.stringify({ pid: process.pid, rootDir: sb.rootDir, dataDir: sb.dataDir, socketDir: sb.socketDir }) + '\n');
setInterval(() => {}, 1 << 30);
