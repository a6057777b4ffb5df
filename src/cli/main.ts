#!/usr/bin/env -S node --expose-gc --max-semi-space-size=8
/**
 * The thin CLI: parse flags, call the library, print. The only place that calls process.exit; one catch maps
 * error classes to the documented exit codes (0 PASS, 1 FAIL, 2 usage/config, 3 guard, 4 environment,
 * 70 internal error (a bug), 129/130/143 interrupted).
 */
import { CommanderError } from 'commander';
import { ConfigError, INTERRUPT_EXIT_CODES, InternalError, InterruptedError, isSystemError, PgdrillError, type InterruptSignal } from '../errors.js';
import { diskFullError, isDiskFull } from '../exec/disk-full.js';
import { stopAllSandboxes } from '../sandbox/registry.js';
import { capHeapGrowth } from './heap-cap.js';
import { installCrashHandler, internalErrorLine, stopEverythingAndExit } from './crash.js';
import type { Logger } from '../logger.js';
import { buildProgram } from './program.js';
import { watchParent } from './parent-watch.js';
import type { CliContext } from './context.js';
import { PRIVATE_UMASK } from '../exec/private-mode.js';
import { terminalText } from '../terminal-text.js';

/** Everything main writes to stderr goes through terminalText: a name on production must not drive the terminal. */
const writeErr = (s: string): boolean => process.stderr.write(terminalText(s));

/**
 * Logs on stderr; info and debug only with PGDRILL_DEBUG, stamped with the milliseconds since pgdrill started. Bytes
 * of a SQL_ASCII database that are not UTF-8 show as `\xNN` (src/pg/server-bytes.ts).
 */
const traced = (level: string) => (m: string) => void (process.env.PGDRILL_DEBUG ? writeErr(`${level} +${Math.round(performance.now())}ms: ${m}\n`) : undefined);
const stderrLogger: Logger = {
  debug: traced('debug'),
  info: traced('info'),
  warn: (m) => void writeErr(`warning: ${m}\n`),
  error: (m) => void writeErr(`error: ${m}\n`),
};

export type { CliContext } from './context.js';

async function main(argv: string[]): Promise<number> {
  process.umask(PRIVATE_UMASK); // everything pgdrill and its children write is the caller's alone: src/exec/private-mode.ts
  // Process-level tuning is the command's, never the library's: with --expose-gc (the bin line above) a minor GC
  // every few MiB of dump (src/backup/reclaim-buffers.ts) and a cap on the heap's growth (src/cli/heap-cap.ts);
  // --max-semi-space-size=8 halves V8's young generation (32 → 16 MB, all of it resident once a drill has churned
  // through it): docs/performance.md, "5,000 tables: the young generation".
  const heapCap = capHeapGrowth();
  installCrashHandler(); // a bug that escapes every catch still tears the sandboxes down: see src/cli/crash.ts
  ignoreClosedOutput(); // `pgdrill … | head`, a dropped ssh session: see below
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: InterruptSignal) => {
    signals++;
    writeErr(`\npgdrill: ${sig} received — tearing down (again to force)…\n`);
    if (signals === 1) controller.abort(new InterruptedError(sig));
    else stopEverythingAndExit(INTERRUPT_EXIT_CODES[sig]); // forced: pg_dump and the others go at once, then the sandboxes
  };
  // SIGHUP: the terminal or the ssh session went away — the same orderly teardown as SIGTERM (exit 129).
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => onSignal(sig));
  watchParent(() => onSignal('SIGTERM')); // a fleet worker's drill ends with its worker: src/cli/parent-watch.ts

  const ctx: CliContext = { signal: controller.signal, logger: stderrLogger, argv: ['pgdrill', ...argv], exitCode: 0 };
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv, { from: 'user' });
    stderrLogger.debug(heapCap.active ? `heap cap: ${heapCap.collections} full collection(s), ${Math.round(heapCap.ms)} ms` : 'heap cap off: node runs without --expose-gc');
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return 2;
    }
    await stopAllSandboxes();
    if (err instanceof InterruptedError) {
      writeErr(`pgdrill: interrupted by ${err.signal}; sandbox torn down\n`);
      return err.exitCode;
    }
    if (err instanceof InternalError) {
      writeErr(`${internalErrorLine(err.message)}${err.runLog ? `; the stack is in ${err.runLog}` : ''}\n`);
      if (process.env.PGDRILL_DEBUG) writeErr(`${(err.cause as Error)?.stack ?? ''}\n`);
      return err.exitCode;
    }
    if (err instanceof PgdrillError) {
      writeErr(`pgdrill: ${err instanceof ConfigError ? 'usage/config error: ' : ''}${err.message}\n`);
      return err.exitCode;
    }
    if (isDiskFull(err)) {
      const e = await diskFullError(err, undefined, 'to');
      writeErr(`pgdrill: ${e.message}\n`);
      return e.exitCode;
    }
    // The operating system refused something (a path that cannot be created or read): the environment, exit 4.
    if (isSystemError(err)) {
      writeErr(`pgdrill: ${err.message}\n`);
      return 4;
    }
    // Anything else that reached here is a bug, whatever the input: exit 70, one line (the stack with PGDRILL_DEBUG).
    writeErr(`${internalErrorLine(String((err as Error)?.message ?? err))}\n`);
    if (process.env.PGDRILL_DEBUG) writeErr(`${(err as Error)?.stack ?? String(err)}\n`);
    return 70;
  }
}

/**
 * Writes to a closed stdout or stderr (`pgdrill run --json | head -c 100`, a terminal or ssh session that went
 * away) fail with EPIPE (or EIO): the reader is gone, the drill is not. Unhandled, such an error would crash pgdrill
 * and turn a PASS into a failure; the output is dropped instead and the drill completes its report.
 */
function ignoreClosedOutput(): void {
  for (const s of [process.stdout, process.stderr]) {
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE' || err.code === 'EIO' || err.code === 'ERR_STREAM_DESTROYED') return;
      throw err;
    });
  }
}

/**
 * Exit once stdout and stderr have handed everything to the OS: writes to a pipe are asynchronous, and
 * process.exit drops what is still queued (measured: `pgdrill run --json | slow-reader` got the first 64 KiB of a
 * 100 KB report).
 */
async function exitAfterFlush(code: number): Promise<never> {
  const flushed = (s: NodeJS.WriteStream) => new Promise<void>((r) => (s.writableLength === 0 ? r() : s.write('', () => r())));
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]).catch(() => {});
  process.exit(code);
}

main(process.argv.slice(2)).then(
  (code) => exitAfterFlush(code),
  (err) => {
    writeErr(`${internalErrorLine(String((err as Error)?.message ?? err))}\n`);
    return exitAfterFlush(70);
  },
);
