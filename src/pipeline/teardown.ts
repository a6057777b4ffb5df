/**
 * The teardown stage: the restore sandbox stopped and its removal confirmed (`teardown.confirmed`), or, with
 * `--keep`, left running with the command that connects to it — on success, failure and interrupt alike.
 */
import type { Report } from '../report/model.js';
import type { SandboxCluster } from '../sandbox/cluster.js';
import type { DrillContext } from './context.js';

/** Holds the sandbox a stage started, so that its teardown happens whatever ends the stage. */
export class SandboxLease {
  #sandbox: SandboxCluster | null = null;

  /** The sandbox, once started. */
  get sandbox(): SandboxCluster | null {
    return this.#sandbox;
  }

  /** Start (or take over) the sandbox; from then on it is this lease's to tear down. */
  async take(start: () => Promise<SandboxCluster>): Promise<SandboxCluster> {
    this.#sandbox = await start();
    return this.#sandbox;
  }
}

/** The report's `teardown` section, and how to reach a kept sandbox. */
export interface TeardownResult {
  readonly teardown: Report['teardown'];
  readonly kept: boolean;
  /** `--keep`: the psql command that connects to the kept copy, and how to stop and remove it. */
  readonly connect: string | null;
}

/**
 * Keep or stop the sandbox (none: nothing to tear down) and record `teardown.confirmed`. The stop runs inside the
 * stage, so that its time (the server's exit and the removal of the restored copy's files: seconds at pgbench
 * scale 50) shows in the report's stage timings; an error of the stop or the keep still escapes, as it always did.
 */
export async function teardownStage(ctx: DrillContext, sandbox: SandboxCluster | null, o: { readonly keep: boolean; readonly database: string }): Promise<TeardownResult> {
  const b = ctx.builder;
  const kept = sandbox !== null && o.keep && !ctx.signal?.aborted;
  let result: TeardownResult | null = null;
  let escaping: { readonly err: unknown } | null = null;
  await b.stage('teardown', async () => {
    let stopped: Awaited<ReturnType<SandboxCluster['stop']>> | null;
    try {
      stopped = sandbox && !kept ? await sandbox.stop() : null;
      result = sandbox && kept ? await keep(ctx, sandbox, o.database) : {
        kept: false, connect: null,
        teardown: { confirmed: stopped ? stopped.confirmed : true, detail: stopped?.detail ?? 'no sandbox was started', postmaster_pid: stopped?.postmasterPid ?? null },
      };
    } catch (err) {
      escaping = { err };
      throw err;
    }
    if (result.kept) {
      b.add({ name: 'teardown.confirmed', stage: 'teardown', status: 'warn', detail: `--keep: sandbox left running; connect with ${result.connect}` });
    } else if (stopped) {
      b.expect('teardown.confirmed', 'teardown', stopped.confirmed, stopped.detail, stopped.detail, { ...stopped });
    } else {
      b.add({ name: 'teardown.confirmed', stage: 'teardown', status: 'pass', detail: 'no sandbox was started; nothing to tear down' });
    }
  }, (err) => escaping !== null && err === escaping.err);
  // Unreachable without a result (a stop or keep error escaped above, anything later is recorded as teardown.error).
  return result ?? { kept: false, connect: null, teardown: { confirmed: false, detail: 'teardown did not complete: see teardown.error', postmaster_pid: null } };
}

/** `--keep`: the sandbox left running, marked kept (orphan sweeps leave it), its spare's refill ended. */
async function keep(ctx: DrillContext, sandbox: SandboxCluster, database: string): Promise<TeardownResult> {
  // pg_ctl refuses to run as root: as root, the stop runs as the sandbox's own OS user, as pgdrill ran it.
  const stop = `${sandbox.osUser ? `runuser -u ${sandbox.osUser.name} -- ` : ''}${ctx.bins.path('pg_ctl')} -D ${sandbox.dataDir} stop`;
  const connect = `psql "${sandbox.url(database)}"   (stop it with: ${stop}; then rm -rf ${sandbox.rootDir})`;
  await sandbox.markKept().catch(() => {});
  await sandbox.endSpareRefill();
  return { kept: true, connect, teardown: { confirmed: false, detail: `kept running: ${connect}`, postmaster_pid: null } };
}
