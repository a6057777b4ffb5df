/**
 * A crash — an error nothing caught, which is a bug — must not leave a sandbox running: its postmaster is a process
 * of its own that outlives pgdrill, with the restored copy of production's data on disk. Nor pg_dump: it would go
 * on holding its locks on the source. Node's default (print the error, exit 1) would leave all of them;
 * `installCrashHandler` kills the running children (pg_dump, psql, cp…), removes partial dumps, tears every live
 * sandbox down, then exits 1.
 */
import { removePartialsNow } from '../backup/partial-files.js';
import { killRunningChildren } from '../exec/run-process.js';
import { stopAllSandboxes } from '../sandbox/registry.js';

let installed = false;

/**
 * Kill the running children, remove partial dumps, tear every live sandbox down, exit with `code`: for a crash, and for a second signal
 * (forced) where the orderly teardown of the first is not waited for.
 */
export function stopEverythingAndExit(code: number): void {
  killRunningChildren();
  removePartialsNow(); // pg_dump is gone: no partial dump is left behind
  void stopAllSandboxes().finally(() => process.exit(code));
}

/** Exit 1 after killing the running children and tearing every live sandbox down, on an uncaught exception or an unhandled rejection. Idempotent. */
export function installCrashHandler(): void {
  if (installed) return;
  installed = true;
  let crashing = false;
  const onCrash = (err: unknown) => {
    process.stderr.write(`pgdrill: internal error (a bug; please report it): ${(err as Error)?.stack ?? String(err)}\n`);
    if (crashing) return; // the teardown below is under way; its exit comes
    crashing = true;
    process.stderr.write('pgdrill: stopping its child processes and tearing down the sandboxes before exiting\n');
    stopEverythingAndExit(1);
  };
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
}
