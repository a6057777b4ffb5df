/**
 * A crash — an error nothing caught, which is a bug — must not leave a sandbox running: its postmaster is a process
 * of its own that outlives pgdrill, with the restored copy of production's data on disk. Nor pg_dump: it would go
 * on holding its locks on the source. Node's default (print the error, exit 1) would leave all of them;
 * `installCrashHandler` kills the running children (pg_dump, psql, cp…), removes partial dumps, tears every live
 * sandbox down, then exits 70.
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

/** The one line a user sees for a bug (exit 70): what went wrong, and how to see more. */
export function internalErrorLine(message: string): string {
  const first = message.split('\n')[0]!.slice(0, 300);
  return `pgdrill: internal error (a bug; please report it): ${first} (exit 70; PGDRILL_DEBUG=1 shows the stack)`;
}

/**
 * Exit 70 (EX_SOFTWARE: a bug, not a verdict) after killing the running children and tearing every live sandbox
 * down, on an uncaught exception or an unhandled rejection. One line on stderr; the stack only with PGDRILL_DEBUG.
 * Idempotent.
 */
export function installCrashHandler(): void {
  if (installed) return;
  installed = true;
  let crashing = false;
  const onCrash = (err: unknown) => {
    process.stderr.write(`${internalErrorLine(String(err instanceof Error ? `${err.name}: ${err.message}` : err))}\n`);
    if (process.env.PGDRILL_DEBUG) process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
    if (crashing) return; // the teardown below is under way; its exit comes
    crashing = true;
    process.stderr.write('pgdrill: stopping its child processes and tearing down the sandboxes before exiting\n');
    stopEverythingAndExit(70);
  };
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
}
