/** The source cluster the benches drill: a sandbox holding pgbench's tables at a given scale in database `bench`. */
import { join } from 'node:path';
import { resolveSandboxUser } from '../src/exec/os-user.js';
import { runProcess } from '../src/exec/run-process.js';
import { silentLogger } from '../src/logger.js';
import { SandboxCluster } from '../src/sandbox/cluster.js';
import { localToolchain } from '../src/toolchain/toolchain.js';

/**
 * Start a sandbox under parent, `pgbench -i -s scale` into database `bench`, then run the `after` statements in it
 * (say VACUUM ANALYZE). `server`: settings and directories shared with it (an archive). The caller stops it; on
 * failure it is stopped here.
 */
export async function startBenchSource(scale: number, parent: string, pgbin: string, label: string, after: readonly string[] = [], server: { settings?: Record<string, string>; shared?: string[] } = {}): Promise<SandboxCluster> {
  const bins = await localToolchain({ pgBindir: pgbin });
  const c = await SandboxCluster.start({ bins, parentDir: parent, osUser: await resolveSandboxUser(), logger: silentLogger, superuser: 'postgres', label, settings: server.settings, shared: server.shared });
  try {
    await runProcess({ bin: bins.path('psql'), args: ['-X', '-q', '-c', 'CREATE DATABASE bench'], env: c.env('postgres') });
    await runProcess({ bin: join(pgbin, 'pgbench'), args: ['-i', '-q', '-s', String(scale), 'bench'], env: c.env('bench') });
    if (after.length) await runProcess({ bin: bins.path('psql'), args: ['-X', '-q', ...after.flatMap((sql) => ['-c', sql])], env: c.env('bench') });
    return c;
  } catch (err) {
    await c.stop();
    throw err;
  }
}
