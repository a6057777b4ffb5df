/**
 * pgdrill's few error classes. Each carries data and maps to one documented exit code; only `cli/main.ts`
 * turns them into an exit. A failed *check* is not an error: it is a FAIL in the report (exit 1).
 */

/** Base class: `exitCode` is what the CLI exits with when this error ends a command. */
export class PgdrillError extends Error {
  readonly exitCode: number = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad flags or config (exit 2). `problems` lists every problem with its path. */
export class ConfigError extends PgdrillError {
  override readonly exitCode = 2;
  constructor(message: string, readonly problems: readonly string[] = [], options?: { cause?: unknown }) {
    super(problems.length ? `${message}\n${problems.map((p) => `  - ${p}`).join('\n')}` : message, options);
  }
}

/** A guard refused to go on before anything was done to the source (exit 3). */
export class GuardError extends PgdrillError {
  override readonly exitCode = 3;
  constructor(message: string, readonly guard: string, readonly expected?: string, readonly actual?: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The machine cannot run a drill: binaries missing or too old, sandbox would not start, source unreachable (exit 4). */
export class EnvironmentError extends PgdrillError {
  override readonly exitCode = 4;
  constructor(message: string, readonly logTail?: string, options?: { cause?: unknown }) {
    super(logTail ? `${message}\n--- log tail ---\n${logTail}` : message, options);
  }
}

/** A child process failed. Carries the tool, its (secret-free) argv, exit code or signal and the tail of stderr. */
export class ToolError extends PgdrillError {
  constructor(
    readonly tool: string,
    readonly args: readonly string[],
    readonly exitCode_: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderrTail: string,
    options?: { cause?: unknown },
  ) {
    super(
      `${tool} ${signal ? `was killed by ${signal}` : `exited with code ${exitCode_}`}` +
        (stderrTail.trim() ? `: ${stderrTail.trim()}` : ''),
      options,
    );
  }
}

/** The signals that interrupt a drill (SIGHUP: the terminal or ssh session went away). */
export type InterruptSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP';

/** 128 + the signal's number, as shells report a process a signal ended. */
export const INTERRUPT_EXIT_CODES: Readonly<Record<InterruptSignal, number>> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

/** The run was interrupted by SIGINT/SIGTERM/SIGHUP; exit 130, 143 or 129 after teardown. */
export class InterruptedError extends PgdrillError {
  override readonly exitCode: number;
  constructor(readonly signal: InterruptSignal) {
    super(`interrupted by ${signal}`);
    this.exitCode = INTERRUPT_EXIT_CODES[signal];
  }
}

/**
 * A bug in pgdrill (exit 70, EX_SOFTWARE), not a verdict on the backup: so that cron can tell a bad backup (1) from
 * a failure of the tool. `runLog` is where the stack was written, when a run directory existed.
 */
export class InternalError extends PgdrillError {
  override readonly exitCode = 70;
  constructor(message: string, readonly runLog: string | null, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * A programming error — TypeError, RangeError, ReferenceError, SyntaxError (JSON.parse of something unchecked),
 * an assertion — as opposed to a verdict, an environment problem or a server's error: exit 70, never a FAIL.
 */
export function isBug(err: unknown): boolean {
  return err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError || err instanceof SyntaxError ||
    err instanceof EvalError || err instanceof URIError || (err instanceof Error && err.name === 'AssertionError');
}

/** An error of the operating system (it carries `syscall`/`errno`), as opposed to a bug. */
export function isSystemError(err: unknown): err is NodeJS.ErrnoException {
  return typeof err === 'object' && err !== null && typeof (err as NodeJS.ErrnoException).code === 'string' &&
    (typeof (err as NodeJS.ErrnoException).syscall === 'string' || typeof (err as NodeJS.ErrnoException).errno === 'number');
}

/** Wraps a PostgreSQL error, keeping SQLSTATE, detail and hint. */
export function describePgError(err: unknown): string {
  const e = err as { message?: string; code?: string; detail?: string; hint?: string };
  const parts = [e.message ?? String(err)];
  if (e.code) parts.push(`(SQLSTATE ${e.code})`);
  if (e.detail) parts.push(`DETAIL: ${e.detail}`);
  if (e.hint) parts.push(`HINT: ${e.hint}`);
  return parts.join(' ');
}
